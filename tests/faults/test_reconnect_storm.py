"""Reconnect storm: 3,000 readers with cursors come back at once, and Redis barely notices.

3,000 WebSocket readers are subscribed on node A. Node A is restarted (SIGTERM: every reader gets
1012), and five items are published through node B meanwhile. Then all 3,000 reconnect at the same
moment, half to the restarted node A and half to node B, each resuming from its cursor. Every one
must get ``recovered: true`` and exactly the five missed items; and Redis must see a number of
reads far below the number of readers, because resumes are answered from the node's ring (node A
loaded it from the log once, at start-up, before the storm).

File descriptors: the test raises its own ``RLIMIT_NOFILE`` soft limit (the nodes inherit it) —
docs/operations.md says what to set in production, along with the accept backlog.
"""

from __future__ import annotations

import asyncio
import json
import resource
from collections.abc import Callable
from typing import Any

import websockets
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from tests.faults.conftest import Cluster
from tests.faults.harness import RetryingPublisher, command_calls, report, wait_until
from tests.frame_schemas import check_server_frame

CLIENTS = 3000
BEFORE = 20  # items published before the readers connect
MISSED = 5  # items published while node A is down
CONNECT_AT_ONCE = 500  # concurrency of the first (not the storm's) connections
ATTEMPTS = 3  # connection attempts per reader in the storm
READS = ("evalsha", "eval", "xrange", "xrevrange", "hget", "zrange")  # commands that read a log


def raise_file_limit(need: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = need if hard == resource.RLIM_INFINITY else min(max(need, soft), hard)
    if want > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] >= need, (
        f"RLIMIT_NOFILE hard limit {hard} is below the {need} this test needs")


async def open_reader(url: str) -> ClientConnection:
    return await websockets.connect(url, open_timeout=60, ping_interval=None, close_timeout=10,
                                    compression=None, max_size=None)


async def next_frame(ws: ClientConnection) -> dict[str, Any]:
    while True:
        frame: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), 60))
        check_server_frame(frame)
        if frame["type"] != "ping":
            return frame


async def first_subscribe(url: str, limit: asyncio.Semaphore) -> tuple[ClientConnection, str]:
    """Connect and subscribe without a cursor: the snapshot's cursor is the reader's position."""
    async with limit:
        ws = await open_reader(url)
        await ws.send('{"type":"subscribe","feed":"en"}')
        subscribed, snapshot = await next_frame(ws), await next_frame(ws)
    assert subscribed["recovered"] is False and snapshot["type"] == "snapshot"
    return ws, snapshot["cursor"]


async def close_code(ws: ClientConnection) -> int | None:
    await asyncio.wait_for(ws.wait_closed(), 60)
    return ws.close_code


async def resume(url: str, cursor: str, start: asyncio.Event) -> tuple[bool, list[str], int]:
    """Reconnect with ``cursor`` when ``start`` fires: (recovered, missed item ids, attempts)."""
    await start.wait()
    for attempt in range(1, ATTEMPTS + 1):
        try:
            ws = await open_reader(url)
        except (OSError, TimeoutError, InvalidHandshake):
            await asyncio.sleep(0.1 * attempt)
            continue
        try:
            await ws.send(json.dumps({"type": "subscribe", "feed": "en", "since": cursor}))
            subscribed = await next_frame(ws)
            if not subscribed["recovered"]:
                return False, [], attempt
            events = [await next_frame(ws) for _ in range(MISSED)]
            return True, [e["item"]["id"] for e in events], attempt
        except ConnectionClosed:
            continue
        finally:
            await ws.close()
    raise AssertionError(f"no connection in {ATTEMPTS} attempts")


async def test_reconnect_storm_is_served_from_the_ring(
        make_cluster: Callable[..., Cluster]) -> None:
    raise_file_limit(CLIENTS + 2000)
    cluster = make_cluster()
    a, b = cluster.nodes
    publisher = RetryingPublisher([b.url])
    await publisher.publish_many(BEFORE)
    limit = asyncio.Semaphore(CONNECT_AT_ONCE)
    opened = await asyncio.gather(*(first_subscribe(a.ws_url, limit) for _ in range(CLIENTS)))
    cursors = {cursor for _, cursor in opened}
    assert len(cursors) == 1 and cursors.pop().endswith(f":{BEFORE}")

    # restart node A: every reader is told 1012; items are published meanwhile
    codes = asyncio.gather(*(close_code(ws) for ws, _ in opened))
    await asyncio.to_thread(a.stop)
    assert set(await codes) == {1012}
    await publisher.publish_many(MISSED, start=BEFORE)
    await publisher.aclose()
    missed = publisher.ids()[BEFORE:]
    await asyncio.to_thread(a.start)

    # let start-up reads finish, then count Redis commands across the storm alone
    previous: dict[str, int] = {}

    def settled() -> bool:
        nonlocal previous
        now = command_calls(cluster.redis.url)
        calm = all(now.get(c, 0) == previous.get(c, 0) for c in READS)
        previous = now
        return calm

    await wait_until(settled, "Redis to be quiet after node A's start-up")
    before = previous
    assert before.get("evalsha", 0) > 0, "INFO commandstats does not count the scripts"
    start = asyncio.Event()
    storm = asyncio.gather(*(
        resume((a if i % 2 == 0 else b).ws_url, cursor, start)
        for i, (_, cursor) in enumerate(opened)))
    loop = asyncio.get_running_loop()
    began = loop.time()
    start.set()  # all 3,000 at once
    results = await storm
    after = command_calls(cluster.redis.url)
    # The nodes' own periodic work (reader-count reports, the revocation check, the push and
    # webhook readers' leases and safety reads, the scheduler's next-due read) goes on during the
    # storm; count it over an idle window as long as the storm and allow twice that. A storm that
    # reached Redis per reader would cost thousands of reads, far beyond either.
    await asyncio.sleep(loop.time() - began)
    idle_after = command_calls(cluster.redis.url)
    background = sum(idle_after.get(c, 0) - after.get(c, 0) for c in READS)

    assert all(recovered for recovered, _, _ in results), "a reader was not recovered"
    wrong = [ids for _, ids, _ in results if ids != missed]
    assert not wrong, f"{len(wrong)} readers got other events than the {MISSED} missed: {wrong[0]}"
    reads = {c: after.get(c, 0) - before.get(c, 0) for c in READS}
    assert sum(reads.values()) < CLIENTS // 100 + 2 * background, (
        f"Redis served the storm: {reads} (background over as long a quiet time: {background})")
    retries = sum(attempts - 1 for _, _, attempts in results)
    report("reconnect storm (3,000 readers, 1 of 2 nodes restarted)", len(missed),
           [len(ids) for _, ids, _ in results], 0, 0,
           f"all recovered:true with exactly the {MISSED} missed items; Redis reads during the "
           f"storm {reads}; connection retries {retries}")
