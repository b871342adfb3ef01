"""Fixtures for the broker contract suite: engines by name, private redis-servers.

``make_broker`` is parametrized over ``memory`` and ``redis``; every Redis engine it makes gets a
unique key prefix on the machine's Redis (127.0.0.1:6379, or ``TICKER_TEST_REDIS_URL``) and its
keys are deleted afterwards. ``own_redis`` is a private ``redis-server`` on a free port for tests
that kill connections, pause, stop or restart Redis: those never touch the shared server.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import servers
from tests.servers import RedisServer, free_port
from ticker.brokers.base import Entry
from ticker.brokers.memory import MemoryBroker
from ticker.brokers.redis import RedisBroker

SHARED_REDIS_URL = os.environ.get("TICKER_TEST_REDIS_URL", "redis://127.0.0.1:6379")
WAIT = 10.0  # upper bound on any wait in these tests; never an expected duration


OwnRedis = RedisServer  # the contract tests' name for a private redis-server


@pytest.fixture
def own_redis(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[OwnRedis]:
    """A private redis-server; extra server options come by indirect parametrization:
    ``@pytest.mark.parametrize("own_redis", [["--opt", "value"]], indirect=True)``."""
    extra: list[str] = list(getattr(request, "param", []))
    server = RedisServer(free_port(), tmp_path / "redis", extra_args=extra).start()
    try:
        yield server
    finally:
        server.stop()


class Collector:
    """An ``on_event``/``on_resync`` pair that records what the broker delivered."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[tuple[str, str, Entry]] = asyncio.Queue()
        self.resyncs = 0
        self._resynced = asyncio.Event()

    def on_event(self, feed: str, epoch: str, entry: Entry) -> None:
        self.queue.put_nowait((feed, epoch, entry))

    def on_resync(self) -> None:
        self.resyncs += 1
        self._resynced.set()

    async def take(self, count: int) -> list[tuple[str, str, Entry]]:
        """The next ``count`` deliveries, waiting at most ``WAIT`` for each."""
        return [await asyncio.wait_for(self.queue.get(), WAIT) for _ in range(count)]

    async def wait_resyncs(self, count: int) -> None:
        async def reached() -> None:
            while self.resyncs < count:
                self._resynced.clear()
                await self._resynced.wait()

        await asyncio.wait_for(reached(), WAIT)


class BrokerFactory:
    """Makes started or unstarted engines of one kind and cleans up after them."""

    def __init__(self, engine: str) -> None:
        self.engine = engine  # "memory" or "redis"
        self.made: list[MemoryBroker | RedisBroker] = []
        self.prefixes: list[tuple[str, str]] = []  # (url, prefix) to delete afterwards

    async def __call__(self, *, history: int = 1000, latest_max: int = 1000,
                       item_retention: int = 0, url: str | None = None,
                       **options: Any) -> MemoryBroker | RedisBroker:
        broker: MemoryBroker | RedisBroker
        if self.engine == "memory":
            broker = MemoryBroker(history=history, latest_max=latest_max,
                                  item_retention=item_retention)
        else:
            prefix = f"test:{uuid.uuid4().hex}:"
            url = url or SHARED_REDIS_URL
            self.prefixes.append((url, prefix))
            broker = RedisBroker(url, prefix=prefix, history=history, latest_max=latest_max,
                                 item_retention=item_retention, **options)
        self.made.append(broker)
        return broker

    async def started(self, feeds: list[str], **options: Any) -> tuple[
            MemoryBroker | RedisBroker, Collector]:
        broker = await self(**options)
        collector = Collector()
        await broker.start(feeds, collector.on_event, collector.on_resync)
        if self.engine == "redis":
            await collector.wait_resyncs(1)  # subscribed: later publishes arrive live
        return broker, collector

    async def cleanup(self) -> None:
        for broker in self.made:
            await broker.aclose()
        for url, prefix in self.prefixes:
            await delete_prefix(url, prefix)


async def delete_prefix(url: str, prefix: str) -> None:
    """``tests.servers.delete_prefix`` off the event loop."""
    await asyncio.to_thread(servers.delete_prefix, url, prefix)


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def make_broker(request: pytest.FixtureRequest) -> AsyncIterator[BrokerFactory]:
    factory = BrokerFactory(request.param)
    try:
        yield factory
    finally:
        await factory.cleanup()


@pytest.fixture
async def make_redis_broker() -> AsyncIterator[BrokerFactory]:
    """Redis engines only, for the tests of what only the Redis engine has."""
    factory = BrokerFactory("redis")
    try:
        yield factory
    finally:
        await factory.cleanup()
