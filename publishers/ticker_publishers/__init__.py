"""Tools that post into ticker through its public HTTP API.

- ``ticker_publishers.client``: ``Ticker`` and ``AsyncTicker``, the Python client;
- ``ticker_publishers.cli``: the ``ticker-publish`` command;
- ``ticker_publishers.bridge``: the ``ticker-bridge`` command (RSS/Atom into ticker).
"""

from ticker_publishers.client import AsyncTicker, EventsPage, Latest, Ticker, new_idempotency_key
from ticker_publishers.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    RateLimited,
    TickerError,
    Unauthorized,
    Unavailable,
)
from ticker_publishers.retry import NO_RETRY, RetryInfo, RetryPolicy
from ticker_publishers.sse import StreamEvent

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
