"""Reader counts: ``readers`` in ``GET /api/v1/feeds`` and the ``ticker_readers`` gauge.

On Redis two nodes share their counts; when one is SIGKILLed (no goodbye) its share leaves the
sums within 15 s (the test waits at most that long and reports how long it took).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import signal
import time
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from websockets.asyncio.client import ClientConnection

from tests import servers
from tests.integration.wsclient import connect, subscribe
from tests.servers import REDIS_URL, Server, free_port, server_env

WAIT = 10.0  # upper bound on waits for counts to show up; never an expected duration
DEAD_NODE_GONE_WITHIN = 15.0  # the contract: a dead node stops counting within 15 s


async def readers(client: httpx.AsyncClient) -> dict[str, int]:
    response = await client.get("/api/v1/feeds")
    assert response.status_code == 200
    return {feed["id"]: feed["readers"] for feed in response.json()}


async def wait_counts(client: httpx.AsyncClient, want: dict[str, int],
                      bound: float = WAIT) -> float:
    """Poll until the counts of ``want``'s feeds are those; the seconds it took."""
    start = time.monotonic()
    seen: dict[str, int] = {}
    while time.monotonic() < start + bound:
        seen = await readers(client)
        if all(seen.get(feed) == count for feed, count in want.items()):
            return time.monotonic() - start
        await asyncio.sleep(0.05)
    raise AssertionError(f"counts {seen} never became {want} within {bound}s")


@contextlib.asynccontextmanager
async def readers_on(server: Server, feeds: list[str]) -> AsyncIterator[list[ClientConnection]]:
    """One WebSocket reader per entry of ``feeds``, subscribed to it."""
    sockets = [await connect(server.ws_url) for _ in feeds]
    try:
        for ws, feed in zip(sockets, feeds, strict=True):
            await subscribe(ws, feed)
        yield sockets
    finally:
        for ws in sockets:
            await ws.close()


async def settled_readers(one: httpx.AsyncClient, two: httpx.AsyncClient, feed: str) -> int:
    """The feed's count once node one's sum agrees with both nodes' own gauges (readers that
    left another node a moment ago may still be in its last report)."""
    for _ in range(int(WAIT / 0.1)):
        total = (await readers(one))[feed]
        own = [gauge((await client.get("/metrics")).text, feed) for client in (one, two)]
        if total == sum(own):
            return total
        await asyncio.sleep(0.1)
    raise AssertionError(f"the reader counts of {feed} did not settle within {WAIT}s")


def gauge(text: str, feed: str) -> float:
    match = re.search(rf'^ticker_readers{{feed="{feed}"}} (\S+)$', text, re.MULTILINE)
    assert match, text
    return float(match.group(1))


async def test_one_node_counts_its_readers(server: Server) -> None:
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        assert (await readers(client))["en"] == 0
        async with readers_on(server, ["en", "en", "ar"]):
            await wait_counts(client, {"en": 2, "ar": 1, "es": 0})
            metrics = (await client.get("/metrics")).text
            assert gauge(metrics, "en") == 2 and gauge(metrics, "ar") == 1
        await wait_counts(client, {"en": 0, "ar": 0})


@pytest.mark.redis
async def test_two_nodes_are_summed_and_a_killed_node_stops_counting() -> None:
    prefix = f"test:{uuid.uuid4().hex[:12]}:"
    env = server_env("redis", prefix=prefix)
    one, two = Server(free_port(), env).start(), Server(free_port(), env).start()
    try:
        async with httpx.AsyncClient(base_url=one.url, timeout=10) as on_one, \
                httpx.AsyncClient(base_url=two.url, timeout=10) as on_two, \
                readers_on(one, ["en", "en", "ar"]), readers_on(two, ["en", "en", "en", "es"]):
            for client in (on_one, on_two):
                took = await wait_counts(client, {"en": 5, "ar": 1, "es": 1})
                print(f"reader counts: both nodes' readers summed after {took:.2f} s")
            assert gauge((await on_one.get("/metrics")).text, "en") == 2  # this node's own
            assert gauge((await on_two.get("/metrics")).text, "en") == 3
            assert two.process is not None
            two.process.send_signal(signal.SIGKILL)  # no goodbye: its report must expire
            two.process.wait(timeout=10)
            stale = await wait_counts(on_one, {"en": 2, "ar": 1, "es": 0},
                                      bound=DEAD_NODE_GONE_WITHIN)
            print(f"reader counts: the SIGKILLed node's share left the sums after {stale:.2f} s")
    finally:
        one.stop()
        two.stop()
        servers.delete_prefix(REDIS_URL, prefix)


@pytest.mark.redis
async def test_a_node_that_stops_cleanly_leaves_at_once() -> None:
    prefix = f"test:{uuid.uuid4().hex[:12]}:"
    env = server_env("redis", prefix=prefix)
    one, two = Server(free_port(), env).start(), Server(free_port(), env).start()
    try:
        async with httpx.AsyncClient(base_url=one.url, timeout=10) as on_one:
            async with readers_on(two, ["en"]):
                await wait_counts(on_one, {"en": 1})
                two.stop()  # SIGTERM: the node deletes its report while shutting down
            took = await wait_counts(on_one, {"en": 0}, bound=3.0)
            print(f"reader counts: a cleanly stopped node left after {took:.2f} s")
    finally:
        one.stop()
        two.stop()
        servers.delete_prefix(REDIS_URL, prefix)
