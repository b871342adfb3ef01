"""The coordination contract (``ticker.brokers.coordination``), on both engines: positions moved
only by the lease holder, leases that lapse and pass to another node, claims taken once, shared
secrets made once, tables scanned whole, memos that lapse."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from tests.integration.broker_fixtures import SHARED_REDIS_URL, delete_prefix
from ticker.brokers.coordination import Coordination, MemoryCoordination
from ticker.brokers.coordination_redis import RedisCoordination

WAIT = 10.0  # upper bound on any wait here; never an expected duration


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def coordination(request: pytest.FixtureRequest) -> AsyncIterator[Coordination]:
    if request.param == "memory":
        yield MemoryCoordination()
        return
    prefix = f"test:{uuid.uuid4().hex}:"
    engine = RedisCoordination(SHARED_REDIS_URL, prefix=prefix)
    try:
        yield engine
    finally:
        await engine.aclose()
        await delete_prefix(SHARED_REDIS_URL, prefix)


async def until(condition: Callable[[], Awaitable[bool]]) -> None:
    """Poll an async predicate, bounded in count and by ``WAIT``."""
    async with asyncio.timeout(WAIT):
        for _ in range(int(WAIT / 0.05)):
            if await condition():
                return
            await asyncio.sleep(0.05)
    raise AssertionError("condition not met")


async def test_one_holder_at_a_time_and_takeover_after_the_ttl(
        coordination: Coordination) -> None:
    assert await coordination.lease("webhook:a", "node-1", 0.5)
    assert await coordination.lease("webhook:a", "node-1", 0.5)  # renewal
    assert not await coordination.lease("webhook:a", "node-2", 0.5)
    assert await coordination.lease("webhook:b", "node-2", 0.5)  # another reader: free
    await until(lambda: coordination.lease("webhook:a", "node-2", 30.0))  # node-1 went quiet
    assert not await coordination.lease("webhook:a", "node-1", 0.5)
    await coordination.release("webhook:a", "node-1")  # not the holder: nothing happens
    assert not await coordination.lease("webhook:a", "node-3", 30.0)
    await coordination.release("webhook:a", "node-2")
    assert await coordination.lease("webhook:a", "node-3", 30.0)


async def test_only_the_holder_moves_a_position(coordination: Coordination) -> None:
    assert await coordination.position("push:en", "en") is None
    await coordination.begin("push:en", "en", "e1:5")
    await coordination.begin("push:en", "en", "e1:9")  # a first position is set once
    assert await coordination.position("push:en", "en") == "e1:5"
    assert not await coordination.advance("push:en", "node-1", "en", "e1:6")  # no lease
    assert await coordination.lease("push:en", "node-1", 30.0)
    assert await coordination.advance("push:en", "node-1", "en", "e1:6")
    assert await coordination.advance("push:en", "node-1", "ar", "e2:1")
    assert not await coordination.advance("push:en", "node-2", "en", "e1:2")
    assert await coordination.position("push:en", "en") == "e1:6"
    assert await coordination.position("push:en", "ar") == "e2:1"


async def test_claims_are_taken_once(coordination: Coordination) -> None:
    results = await asyncio.gather(*(coordination.claim("push:en:e1:7", 60.0)
                                     for _ in range(10)))
    assert results.count(True) == 1
    assert await coordination.claim("push:en:e1:8", 60.0)


async def test_a_shared_secret_is_made_once(coordination: Coordination) -> None:
    made: list[bytes] = []

    def make() -> bytes:
        made.append(uuid.uuid4().bytes)
        return made[-1]

    first = await coordination.shared_secret("vapid-key", make)
    again = await coordination.shared_secret("vapid-key", make)
    assert first == again == made[0]


async def test_tables_and_memos(coordination: Coordination) -> None:
    for n in range(1203):
        await coordination.put("push:en", f"https://p.example/{n}", str(n).encode())
    await coordination.put("push:en", "https://p.example/7", b"replaced")
    assert await coordination.count("push:en") == 1203
    assert await coordination.delete("push:en", "https://p.example/8")
    assert not await coordination.delete("push:en", "https://p.example/8")
    seen: dict[str, bytes] = {}
    async for batch in coordination.scan("push:en", batch=500):
        seen.update(batch)
    assert len(seen) == 1202 and seen["https://p.example/7"] == b"replaced"
    assert await coordination.count("push:ar") == 0
    await coordination.remember("pushed:en:1", b"x", 0.3)
    assert await coordination.recall("pushed:en:1") == b"x"

    async def lapsed() -> bool:
        return await coordination.recall("pushed:en:1") is None

    await until(lapsed)
