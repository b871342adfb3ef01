"""A node goes away, gracefully (SIGTERM) or not (SIGKILL), while readers and publishers use it.

Its readers reconnect to the other node with their cursors and lose nothing; every publish that got
a 201 is in the log.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
from collections.abc import Callable

from tests.faults.conftest import Cluster
from tests.faults.harness import (
    Reader,
    RetryingPublisher,
    assert_clean,
    report,
    start_readers,
    stop_readers,
    wait_for_cursor,
    wait_until,
)

DRAIN_SECONDS = 3
PUBLISHERS = 3
ITEMS_EACH = 100


async def test_sigterm_drains_readers_with_1012_and_keeps_every_201(
        make_cluster: Callable[..., Cluster]) -> None:
    """Graceful shutdown of node A (``TICKER_DRAIN_SECONDS=3``) while six readers are on it and
    three publishers post through both nodes: every reader gets close code 1012 and resumes on
    node B from its cursor; every publish that got a 201/200 is in the log (read from Redis);
    the process exits, within its drain timeout."""
    cluster = make_cluster(TICKER_DRAIN_SECONDS=str(DRAIN_SECONDS))
    a, b = cluster.nodes
    assert a.process is not None
    readers = [Reader(f"reader-{i}", [a.ws_url, b.ws_url]) for i in range(6)]
    await start_readers(readers)
    publishers = [RetryingPublisher([a.url, b.url], sub=f"desk-{i}") for i in range(PUBLISHERS)]
    publishing = asyncio.gather(*(p.publish_many(ITEMS_EACH) for p in publishers))

    def count() -> int:
        return sum(len(p.published) for p in publishers)

    await wait_until(lambda: count() >= PUBLISHERS * ITEMS_EACH // 3, "some publishes")
    a.process.send_signal(signal.SIGTERM)
    try:
        code = await asyncio.to_thread(a.process.wait, DRAIN_SECONDS + 15)
    except subprocess.TimeoutExpired:
        raise AssertionError("node A did not exit after SIGTERM") from None
    await publishing
    for publisher in publishers:
        await publisher.aclose()

    epoch, seq, log = cluster.log()
    await wait_for_cursor(readers, f"{epoch}:{seq}")
    await stop_readers(readers)
    logs = a.logs()
    assert code in (0, -signal.SIGTERM), f"node A exited with {code}: {logs[-2000:]}"
    assert "timeout graceful shutdown exceeded" not in logs, "the drain ran out of time"
    published = {i for p in publishers for i in p.ids()}
    assert len(published) == PUBLISHERS * ITEMS_EACH
    log_ids = [e.id for e in log]
    assert published == set(log_ids), "a publish that got 201/200 is not in the log, or v.v."
    for reader in readers:
        assert_clean(reader)
        assert reader.closes[0] == 1012, f"{reader.name} closes: {reader.closes}"
        assert reader.connects[:2] == [a.ws_url, b.ws_url], reader.connects
        assert reader.recovered[:2] == [False, True], "the resume on node B was not exact"
        assert reader.ids() == log_ids, f"{reader.name} missed items"
    refused = sum(p.outcomes["ConnectError"] for p in publishers)
    report("graceful shutdown (SIGTERM) of 1 of 2 nodes", len(published),
           [len(r.deliveries) for r in readers], 0, 0,
           f"node exit code {code}; every reader closed with 1012 and resumed on the other node; "
           f"{refused} publish attempts refused by the stopped node and retried")


async def test_sigkill_of_a_node_its_readers_resume_on_the_other(
        make_cluster: Callable[..., Cluster]) -> None:
    """Node A is killed (SIGKILL) while six readers are on it and a publisher posts through
    both nodes: the readers' connections just end (no close frame); they reconnect to node B
    with their cursors and, with two readers that were on B all along, get every item exactly
    once, in order."""
    cluster = make_cluster()
    a, b = cluster.nodes
    assert a.process is not None
    movers = [Reader(f"mover-{i}", [a.ws_url, b.ws_url]) for i in range(6)]
    stayers = [Reader(f"stayer-{i}", [b.ws_url]) for i in range(2)]
    readers = movers + stayers
    await start_readers(readers)
    publisher = RetryingPublisher([a.url, b.url])
    publishing = asyncio.create_task(publisher.publish_many(300))
    await wait_until(lambda: len(publisher.published) >= 100, "100 publishes")
    a.process.kill()
    await asyncio.to_thread(a.process.wait, 10)
    await publishing
    await publisher.aclose()

    epoch, seq, log = cluster.log()
    await wait_for_cursor(readers, f"{epoch}:{seq}")
    await stop_readers(readers)
    published = publisher.ids()
    assert len(published) == 300 and [e.id for e in log] == published
    for reader in readers:
        assert_clean(reader)
        assert reader.ids() == published, f"{reader.name} missed items"
        assert len(reader.snapshots) == 1
    for reader in movers:
        assert reader.closes[0] is None, "a killed node sends no close frame"
        assert reader.connects[:2] == [a.ws_url, b.ws_url] and reader.recovered[:2] == [False, True]
    report("node SIGKILL (1 of 2)", len(published), [len(r.deliveries) for r in readers], 0, 0,
           f"{len(movers)} readers moved to the other node with their cursors; publisher "
           f"retries {dict(publisher.outcomes)}")
