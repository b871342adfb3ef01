"""When to try again, and how long to wait first: exponential backoff with jitter.

A failed attempt is retried when asking again can succeed and cannot do harm: no connection, a
lost answer, ``429`` (after its ``Retry-After``), ``502``/``503``/``504``. The client makes the
"cannot do harm" part true: a publish always carries an ``Idempotency-Key``, and a correction or
retraction whose answer was lost is checked before it is sent again.
"""

from __future__ import annotations

import email.utils
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

RETRY_STATUSES = frozenset({429, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    """How many times to try, and how long to wait between tries.

    ``attempts`` counts every try, the first included (``attempts=1``: never retry). The wait
    before retry *n* (0-based) is drawn from ``[c/2, c]`` with ``c = min(max_backoff,
    backoff * 2**n)``, so clients that failed together do not come back together. When the server
    names a wait (``Retry-After``), that is waited plus up to ``backoff`` of jitter; if it is longer
    than ``max_retry_after`` the call fails at once rather than sleep that long.
    """

    attempts: int = 5
    backoff: float = 0.25
    max_backoff: float = 10.0
    max_retry_after: float = 60.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("attempts must be at least 1")
        if self.backoff < 0 or self.max_backoff < 0 or self.max_retry_after < 0:
            raise ValueError("waits must not be negative")

    def delay(self, retry: int, retry_after: float | None, rng: random.Random) -> float | None:
        """Seconds to wait before retry number ``retry`` (0-based); ``None``: do not retry."""
        if retry_after is not None:
            if retry_after > self.max_retry_after:
                return None
            return retry_after + rng.uniform(0, self.backoff)
        ceiling = min(self.max_backoff, self.backoff * 2.0 ** min(retry, 60))
        return rng.uniform(ceiling / 2, ceiling)


NO_RETRY = RetryPolicy(attempts=1)


@dataclass(frozen=True)
class RetryInfo:
    """Told to ``on_retry`` before each wait: what failed, and how long until the next try."""

    operation: str  # "publish", "correct", "retract", "read", "events"
    attempt: int  # the try that just failed, 1-based
    delay: float  # seconds until the next try
    reason: str  # "429 Too many requests", "ConnectError: ...", "stream ended", ...
    status: int = 0  # the HTTP status, 0 if there was none
    retry_after: float | None = None  # what the server asked for, if anything


OnRetry = Callable[[RetryInfo], None]


def parse_retry_after(value: str | None, now: Callable[[], float] = time.time) -> float | None:
    """``Retry-After`` as seconds: a whole number, or an HTTP date (RFC 9110 §10.2.3)."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    seconds = when.timestamp() - now()
    return float(max(0, math.ceil(seconds)))
