"""Reader counts: how many readers are subscribed to each feed, across every node.

Theory of operation
-------------------
The hub knows this node's subscribers per feed (``local``: a plain read, no I/O). Embedded
(``memory://``) that is the whole answer.

On Redis every node reports its counts every ``interval`` (1 s) into one hash, one field per
node: ``<node id> -> "<expires ms> <counts JSON>"``, the expiry ``ttl`` (10 s) ahead of Redis'
clock. The same script step drops the fields whose expiry has passed and returns the others'
counts, so one round trip a second both reports and reads. A node that dies stops reporting
and its share leaves the sums within ``ttl`` plus one interval (≤ 11 s); one that stops cleanly
deletes its field at once. ``totals()`` is this node's live counts plus the other nodes' counts
from the last report, which are at most ``2 × interval`` old; when reports fail for longer than
``ttl`` the other nodes' shares are dropped rather than shown stale.

Key: ``<prefix>readers`` (hash; it expires ``ttl`` after the last report of any node).
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


# KEYS: the hash. ARGV: node id, ttl ms, counts JSON ("" = leave). Returns the others' JSONs.
_REPORT_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[2])
if ARGV[3] == '' then
  redis.call('HDEL', KEYS[1], ARGV[1])
  return {}
end
redis.call('HSET', KEYS[1], ARGV[1], string.format('%d', now + ttl) .. ' ' .. ARGV[3])
redis.call('PEXPIRE', KEYS[1], ttl)
local all = redis.call('HGETALL', KEYS[1])
local others = {}
for i = 1, #all, 2 do
  local expires, counts = string.match(all[i + 1], '^(%d+) (.*)$')
  if not expires or tonumber(expires) <= now then
    redis.call('HDEL', KEYS[1], all[i])
  elseif all[i] ~= ARGV[1] then
    others[#others + 1] = counts
  end
end
return others
"""

_UNAVAILABLE = UNAVAILABLE


class RedisPresence:
    """Counts shared through Redis (see the theory of operation)."""

    def __init__(self, url: str, prefix: str, local: LocalCounts, *, interval: float = 1.0,
                 ttl: float = 10.0) -> None:
        from ticker.brokers.redis_url import command_client

        self._local = local
        self._interval = interval  # seconds between reports
        self._ttl_ms = int(ttl * 1000)  # a report counts this long
        self.key = f"{prefix}readers"
        self.node = secrets.token_hex(8)  # this process, for as long as it runs
        self._redis = command_client(url, timeout=2.0, connect_timeout=2.0, max_connections=2)
        self._report = self._redis.register_script(_REPORT_LUA)
        self._others: Counter[str] = Counter()  # the other nodes' counts at the last report
        self._reported_at: float | None = None  # loop time of the last successful report
        self._task: asyncio.Task[None] | None = None

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
        counts = msgspec.json.encode(self._local()).decode()
        others = await self._report(keys=[self.key], args=[self.node, self._ttl_ms, counts])
        total: Counter[str] = Counter()
        for data in others:
            with suppress(msgspec.DecodeError):
                total.update(_counts.decode(data))
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
            await self._report(keys=[self.key], args=[self.node, self._ttl_ms, ""])
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
