"""The retry delay of push and webhook sends: exponential, jittered, capped, ``Retry-After``
honoured (seconds form) up to the cap."""

from __future__ import annotations

import random
from collections.abc import Mapping


def retry_delay(attempt: int, first: float, cap: float,
                headers: Mapping[str, str] | None = None) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1, 2, …)."""
    delay = min(cap, first * 2.0 ** min(attempt - 1, 30)) * random.uniform(0.5, 1.0)
    after = (headers or {}).get("retry-after", "")
    if after.isdigit():
        delay = max(delay, float(after))
    return min(delay, cap)
