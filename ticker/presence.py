"""Reader counts: how many readers are subscribed to each feed, across every node.

Theory of operation
-------------------
The hub knows this node's subscribers per feed (``local``: a plain read, no I/O). Embedded
(``memory://``) that is the whole answer.

On Redis every node reports its counts every ``interval`` (1 s) as a key of its own that expires
``ttl`` (10 s, Redis' clock) after the report, ``<prefix>{readers}:node:<id>`` = counts JSON, and
keeps its id in a set of nodes. With the same round trip it reads the set, then the other
nodes' keys in one ``MGET``; a node whose key has expired is dropped from the set. So a node that
dies stops counting within ``ttl`` plus one interval (≤ 11 s); one that stops cleanly deletes
its key at once. No script runs: plain commands, two round trips a second per node.
``totals()`` is this node's live counts plus the other nodes' counts from the last report, at
most ``2 × interval`` old; when reports fail for longer than ``ttl`` the other nodes' shares are
dropped rather than shown stale.

Keys (one hash tag, so Redis Cluster serves the ``MGET``): ``<prefix>{readers}:node:<id>``
(string, expires), ``<prefix>{readers}:nodes`` (set of ids; expires ``ttl`` after the last report
of any node).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections import Counter
from collections.abc import Callable
from contextlib import suppress
from typing import Protocol

import msgspec
from prometheus_client import CollectorRegistry, Gauge

from ticker.brokers.redis_url import UNAVAILABLE
from ticker.pubsub import stop_task

logger = logging.getLogger(__name__)
LocalCounts = Callable[[], dict[str, int]]
"""This node's readers per feed (from the hub)."""

_counts = msgspec.json.Decoder(dict[str, int])


class Presence(Protocol):
    def totals(self) -> dict[str, int]:
        """Readers per feed across the live nodes."""

    async def start(self) -> None: ...

    async def aclose(self) -> None: ...


class LocalPresence:
    """Embedded engine: this node is every node."""

    def __init__(self, local: LocalCounts) -> None:
        self._local = local

    def totals(self) -> dict[str, int]:
        return self._local()

    async def start(self) -> None:
        return None

    async def aclose(self) -> None:
        return None


_UNAVAILABLE = UNAVAILABLE


class RedisPresence:
    """Counts shared through Redis (see the theory of operation)."""

    def __init__(self, url: str, prefix: str, local: LocalCounts, *, interval: float = 1.0,
                 ttl: float = 10.0) -> None:
        from ticker.brokers.redis_url import command_client

        self._local = local
        self._interval = interval  # seconds between reports
        self._ttl_ms = int(ttl * 1000)  # a report counts this long
        self._base = f"{prefix}{{readers}}:"
        self.nodes_key = self._base + "nodes"
        self.node = secrets.token_hex(8)  # this process, for as long as it runs
        self._redis = command_client(url, timeout=2.0, connect_timeout=2.0, max_connections=2)
        self._others: Counter[str] = Counter()  # the other nodes' counts at the last report
        self._reported_at: float | None = None  # loop time of the last successful report
        self._task: asyncio.Task[None] | None = None

    def node_key(self, node: str) -> str:
        return f"{self._base}node:{node}"

    def totals(self) -> dict[str, int]:
        loop = asyncio.get_running_loop()
        stale = (self._reported_at is None
                 or loop.time() - self._reported_at > self._ttl_ms / 1000)
        sums = Counter(self._local())
        if not stale:
            sums.update(self._others)
        return dict(sums)

    async def report(self) -> None:
        """Report this node's counts and read the others'."""
        pipe = self._redis.pipeline(transaction=False)
        pipe.set(self.node_key(self.node), msgspec.json.encode(self._local()), px=self._ttl_ms)
        pipe.sadd(self.nodes_key, self.node)
        pipe.pexpire(self.nodes_key, self._ttl_ms)
        pipe.smembers(self.nodes_key)
        *_, members = await pipe.execute()
        others = sorted(m.decode() for m in members if m.decode() != self.node)
        found = await self._redis.mget([self.node_key(m) for m in others]) if others else []
        total: Counter[str] = Counter()
        for data in found:
            if data is not None:
                with suppress(msgspec.DecodeError):
                    total.update(_counts.decode(data))
        gone = [m for m, data in zip(others, found, strict=True) if data is None]
        if gone:  # their reports expired: those nodes are dead
            await self._redis.srem(self.nodes_key, *gone)
        self._others = total
        self._reported_at = asyncio.get_running_loop().time()

    async def start(self) -> None:
        with suppress(*_UNAVAILABLE):
            await self.report()
        self._task = asyncio.create_task(self._run(), name="ticker-presence")

    async def aclose(self) -> None:
        await stop_task(self._task)
        self._task = None
        with suppress(*_UNAVAILABLE):  # leave at once rather than after the TTL
            await self._redis.delete(self.node_key(self.node))
            await self._redis.srem(self.nodes_key, self.node)
        await self._redis.aclose()

    async def _run(self) -> None:
        failing = False
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self.report()
                failing = False
            except _UNAVAILABLE as exc:
                if not failing:
                    logger.warning("reader counts: cannot report to Redis (%r)", exc)
                failing = True


def open_presence(broker_url: str, prefix: str, local: LocalCounts) -> Presence:
    """Counts of this node alone when embedded, else shared through Redis."""
    if broker_url.startswith("memory:"):
        return LocalPresence(local)
    return RedisPresence(broker_url, prefix, local)


def bind_gauge(registry: CollectorRegistry, feeds: list[str], local: LocalCounts) -> None:
    """``ticker_readers{feed}``: this node's readers per feed, read when scraped."""
    gauge = Gauge("ticker_readers", "Readers subscribed to the feed on this node", ["feed"],
                  registry=registry)
    for feed in feeds:
        gauge.labels(feed).set_function(_reader(local, feed))


def _reader(local: LocalCounts, feed: str) -> Callable[[], float]:
    return lambda: float(local().get(feed, 0))
