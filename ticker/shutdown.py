"""Bounded shutdown steps: nothing in the lifespan's ``finally`` may wait forever.

Each part's ``aclose`` gets ``STEP_SECONDS``; one that does not finish in time (a task that
lost its cancel, a dependency that does not answer) is logged and left behind, and the next
part still closes. The process exits; what was left is freed by the OS and by Redis TTLs.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)

STEP_SECONDS = 5.0  # per part; the drain (uvicorn's graceful shutdown) comes before them


async def close_step(name: str, close: Callable[[], Awaitable[None]],
                     seconds: float = STEP_SECONDS) -> bool:
    """Run one part's ``close`` within ``seconds``; False (and a warning) if it did not end
    cleanly. Never raises, except the caller's own cancellation."""
    try:
        async with asyncio.timeout(seconds):
            await close()
    except TimeoutError:
        log.warning("shutdown: %s did not close within %g s; going on without it", name, seconds)
        return False
    except Exception:  # one part's failure must not keep the others open
        log.exception("shutdown: closing %s failed", name)
        return False
    return True
