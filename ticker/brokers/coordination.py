"""What the durable readers (push fan-out, webhook senders) share across nodes, beside the log.

The log itself is read through the ``Broker`` protocol; this is the rest:

- a *position* per reader (the cursor of the last event it finished), written only by the
  holder of the reader's *lease*, so a node that lost its lease cannot move the position back;
- *leases* with a time to live: one holder per reader across nodes; a holder renews well
  before the TTL, and when it dies another node takes the lease once it lapses;
- *claims*: "this event is mine to send", taken once by whichever node comes first;
- *shared secrets* created once (the VAPID key): the first writer wins, everyone reads it;
- *tables*: small keyed records kept until deleted (push subscriptions);
- *memos*: a value that is forgotten after a time to live (what was pushed, for corrections).

``MemoryCoordination`` is the embedded engine's (one process); the Redis one lives in
``coordination_redis``. Both are chosen by ``open_coordination`` from the broker URL.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from typing import Protocol

from ticker.config import Settings


class Coordination(Protocol):
    async def aclose(self) -> None: ...

    async def position(self, reader: str, feed: str) -> str | None:
        """The reader's stored cursor in ``feed``, or ``None`` if it never stored one."""

    async def begin(self, reader: str, feed: str, cursor: str) -> None:
        """Store the reader's first cursor in ``feed`` unless it has one (no lease needed)."""

    async def advance(self, reader: str, holder: str, feed: str, cursor: str) -> bool:
        """Store the reader's cursor in ``feed`` if ``holder`` holds its lease; whether it did."""

    async def lease(self, reader: str, holder: str, ttl: float) -> bool:
        """Take the reader's lease, or renew it if ``holder`` has it; whether it is held now."""

    async def release(self, reader: str, holder: str) -> None:
        """Give the lease up (if ``holder`` has it), so another node need not wait for the TTL."""

    async def claim(self, key: str, ttl: float) -> bool:
        """True for the first caller with ``key`` within ``ttl`` seconds, false for the rest."""

    async def shared_secret(self, name: str, make: Callable[[], bytes]) -> bytes:
        """The secret called ``name``; made with ``make`` by the first caller, kept for good."""

    async def put(self, table: str, key: str, value: bytes) -> None:
        """Store a record (replacing one with the same key)."""

    async def delete(self, table: str, key: str) -> bool:
        """Remove a record; whether it existed."""

    async def count(self, table: str) -> int:
        """How many records the table holds."""

    def scan(self, table: str, batch: int = 500) -> AsyncIterator[list[tuple[str, bytes]]]:
        """Every record of a table, in batches (records changed meanwhile may or may not show)."""

    async def remember(self, key: str, value: bytes, ttl: float) -> None:
        """Keep ``value`` under ``key`` for ``ttl`` seconds."""

    async def recall(self, key: str) -> bytes | None:
        """What was remembered under ``key``, if it has not lapsed."""


class MemoryCoordination:
    """One process: everything in dictionaries, times on the monotonic clock."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._positions: dict[tuple[str, str], str] = {}
        self._leases: dict[str, tuple[str, float]] = {}  # reader → holder, expiry
        self._claims: dict[str, float] = {}  # key → expiry
        self._secrets: dict[str, bytes] = {}
        self._tables: dict[str, dict[str, bytes]] = {}
        self._memos: dict[str, tuple[bytes, float]] = {}  # key → value, expiry

    async def aclose(self) -> None:
        return None

    async def position(self, reader: str, feed: str) -> str | None:
        return self._positions.get((reader, feed))

    async def begin(self, reader: str, feed: str, cursor: str) -> None:
        self._positions.setdefault((reader, feed), cursor)

    def _holds(self, reader: str, holder: str) -> bool:
        held = self._leases.get(reader)
        return held is not None and held[0] == holder and held[1] > self._clock()

    async def advance(self, reader: str, holder: str, feed: str, cursor: str) -> bool:
        if not self._holds(reader, holder):
            return False
        self._positions[(reader, feed)] = cursor
        return True

    async def lease(self, reader: str, holder: str, ttl: float) -> bool:
        now = self._clock()
        held = self._leases.get(reader)
        if held is not None and held[0] != holder and held[1] > now:
            return False
        self._leases[reader] = (holder, now + ttl)
        return True

    async def release(self, reader: str, holder: str) -> None:
        if self._holds(reader, holder):
            del self._leases[reader]

    async def claim(self, key: str, ttl: float) -> bool:
        now = self._clock()
        if self._claims.get(key, 0.0) > now:
            return False
        if len(self._claims) > 10_000:  # forget lapsed claims, amortised
            self._claims = {k: t for k, t in self._claims.items() if t > now}
        self._claims[key] = now + ttl
        return True

    async def shared_secret(self, name: str, make: Callable[[], bytes]) -> bytes:
        if name not in self._secrets:
            self._secrets[name] = make()
        return self._secrets[name]

    async def put(self, table: str, key: str, value: bytes) -> None:
        self._tables.setdefault(table, {})[key] = value

    async def delete(self, table: str, key: str) -> bool:
        return self._tables.get(table, {}).pop(key, None) is not None

    async def count(self, table: str) -> int:
        return len(self._tables.get(table, {}))

    async def scan(self, table: str, batch: int = 500) -> AsyncIterator[list[tuple[str, bytes]]]:
        records = list(self._tables.get(table, {}).items())
        for start in range(0, len(records), batch):
            yield records[start:start + batch]

    async def remember(self, key: str, value: bytes, ttl: float) -> None:
        now = self._clock()
        if len(self._memos) > 10_000:  # forget lapsed memos, amortised
            self._memos = {k: m for k, m in self._memos.items() if m[1] > now}
        self._memos[key] = (value, now + ttl)

    async def recall(self, key: str) -> bytes | None:
        memo = self._memos.get(key)
        return memo[0] if memo is not None and memo[1] > self._clock() else None


def open_coordination(settings: Settings) -> Coordination:
    """The engine matching the broker: in-process for ``memory://``, Redis otherwise."""
    if settings.embedded:
        return MemoryCoordination()
    from ticker.brokers.coordination_redis import RedisCoordination

    return RedisCoordination(settings.broker_url, prefix=settings.redis_prefix)
