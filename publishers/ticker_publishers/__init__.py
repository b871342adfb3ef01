"""Tools that post into ticker through its public HTTP API.

- ``publishers.client``: ``Ticker`` and ``AsyncTicker``, the Python client;
- ``publishers.cli``: the ``ticker-publish`` command;
- ``publishers.bridge``: the ``ticker-bridge`` command (RSS/Atom into ticker).
"""

from publishers.client import AsyncTicker, EventsPage, Latest, Ticker, new_idempotency_key
from publishers.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    RateLimited,
    TickerError,
    Unauthorized,
    Unavailable,
)
from publishers.retry import NO_RETRY, RetryInfo, RetryPolicy
from publishers.sse import StreamEvent

__all__ = [
    "NO_RETRY",
    "AsyncTicker",
    "Conflict",
    "EventsPage",
    "Forbidden",
    "InvalidInput",
    "Latest",
    "NotFound",
    "RateLimited",
    "RetryInfo",
    "RetryPolicy",
    "StreamEvent",
    "Ticker",
    "TickerError",
    "Unauthorized",
    "Unavailable",
    "new_idempotency_key",
]
