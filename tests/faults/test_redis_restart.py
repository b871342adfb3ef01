"""Redis is killed (SIGKILL) and restarted in the middle of publishing.

A publisher posts 300 items one at a time through two nodes, retrying 503s and connection errors
with the same Idempotency-Key. Four readers (two per node) resume from their cursors after any
disconnect. Halfway through, Redis is killed and started again on the same port:

- with its data (``appendonly yes``, ``appendfsync always``): every item that got a 201/200 is
  delivered to every reader exactly once, in log order, and the log holds exactly those items;
- empty (no persistence): the log starts over in a new epoch. Every reader gets
  ``subscribed recovered:false`` and a fresh snapshot at the restart, never a silent gap: before
  it, the old items in order exactly once; after it, the new log contiguously.
"""

from __future__ import annotations

import asyncio
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

ITEMS = 300
KILL_AFTER = 150
SNAPSHOT_SIZE = 20  # Limits.snapshot_size


async def publish_with_redis_restart(cluster: Cluster, readers: list[Reader]) -> RetryingPublisher:
    a, b = cluster.nodes
    publisher = RetryingPublisher([a.url, b.url])
    publishing = asyncio.create_task(publisher.publish_many(ITEMS))
    await wait_until(lambda: len(publisher.published) >= KILL_AFTER, f"{KILL_AFTER} publishes")
    await asyncio.to_thread(cluster.redis.stop)  # SIGKILL
    await wait_until(lambda: publisher.failed_attempts >= 10 or publishing.done(),
                     "the publisher to notice the outage")
    await asyncio.to_thread(cluster.redis.start)
    await asyncio.wait_for(publishing, 120)
    await publisher.aclose()
    assert len(publisher.published) == ITEMS
    assert publisher.failed_attempts > 0, "the outage was not noticed: nothing was tested"
    return publisher


async def test_redis_restart_with_aof_loses_nothing(make_cluster: Callable[..., Cluster]) -> None:
    cluster = make_cluster(appendonly=True)
    a, b = cluster.nodes
    readers = [Reader(f"reader-{i}", [node.ws_url]) for i, node in enumerate([a, b, a, b])]
    await start_readers(readers)
    (first_epoch,) = {r.epoch for r in readers}
    publisher = await publish_with_redis_restart(cluster, readers)

    epoch, seq, log = cluster.log()
    await wait_for_cursor(readers, f"{epoch}:{seq}")
    await stop_readers(readers)

    assert epoch == first_epoch, "the AOF kept the log: its epoch must not change"
    published = publisher.ids()
    assert [e.id for e in log] == published, "the log holds exactly what got 201/200, in order"
    duplicates = sum(p.status == 200 for p in publisher.published)
    for reader in readers:
        assert_clean(reader)
        assert reader.ids() == published, f"{reader.name} missed or reordered items"
        assert len(reader.snapshots) == 1, f"{reader.name} was sent a snapshot again"
    report("Redis SIGKILL + restart, AOF always", len(published),
           [len(r.deliveries) for r in readers], 0, 0,
           f"publisher retries {dict(publisher.outcomes)}, 200-duplicates {duplicates}, "
           f"reader connections {[len(r.connects) for r in readers]}")


async def test_redis_restart_empty_is_announced_never_a_silent_gap(
        make_cluster: Callable[..., Cluster]) -> None:
    cluster = make_cluster(appendonly=False)
    a, b = cluster.nodes
    readers = [Reader(f"reader-{i}", [node.ws_url]) for i, node in enumerate([a, b, a, b])]
    await start_readers(readers)
    (old_epoch,) = {r.epoch for r in readers}
    publisher = await publish_with_redis_restart(cluster, readers)

    new_epoch, seq, log = cluster.log()
    await wait_for_cursor(readers, f"{new_epoch}:{seq}")
    await stop_readers(readers)

    assert new_epoch != old_epoch, "Redis came back empty: the log must have a new epoch"
    new_ids = [e.id for e in log]
    assert [e.seq for e in log] == list(range(1, len(log) + 1))
    published = publisher.ids()
    old = [i for i in published if i not in set(new_ids)]
    # the new log is exactly the items published after the restart, in order
    assert published == old + new_ids, "items of the old and new log interleave"
    lost_total = 0
    for reader in readers:
        assert_clean(reader)
        before = [d.id for d in reader.deliveries if d.epoch == old_epoch]
        after = [d for d in reader.deliveries if d.epoch == new_epoch]
        assert len(before) + len(after) == len(reader.deliveries), "an epoch from nowhere"
        # before the restart: the acknowledged old items, in order, exactly once. The one
        # publish in flight at the kill may have reached the readers without its 201 reaching
        # the publisher (it was then published again in the new log), or — in a window of
        # microseconds — the other way round; never more than that one item.
        acknowledged = [i for i in before if i in set(old)]
        assert acknowledged == old[:len(acknowledged)], f"{reader.name}: old items out of order"
        unacknowledged = [i for i in before if i not in set(old)]
        assert len(unacknowledged) <= 1 and before[:len(acknowledged)] == acknowledged
        lost = old[len(acknowledged):]
        assert len(lost) <= 1, f"{reader.name} missed acknowledged old items: {lost}"
        lost_total += len(lost)
        # the restart was announced: recovered:false and a snapshot of the new log
        assert len(reader.snapshots) == 2, f"{reader.name}: {reader.snapshots}"
        snapshot = reader.snapshots[1]
        assert snapshot.epoch == new_epoch
        in_snapshot = [e.id for e in log if e.seq <= snapshot.seq][-SNAPSHOT_SIZE:]
        assert snapshot.ids == in_snapshot, f"{reader.name}: the snapshot is not the log's latest"
        # after the snapshot: the new log, contiguous, exactly once
        assert [d.id for d in after] == [e.id for e in log if e.seq > snapshot.seq]
    report("Redis SIGKILL + restart, empty", len(published),
           [len(r.deliveries) for r in readers], lost_total, 0,
           f"old log {len(old)} items, new log {len(new_ids)}; every reader got "
           "recovered:false + snapshot at the restart; "
           f"snapshot cursors {[r.snapshots[1].seq for r in readers]}")
