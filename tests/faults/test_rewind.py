"""Redis comes back from an older snapshot: the log went back in time under the same epoch.

With RDB snapshots (or AOF ``everysec``) a crash can restore a log that is missing its last
events, and the epoch survives, so a cursor alone cannot tell. Here: 10 items, ``SAVE``, 10
more, Redis killed and restarted from that dump (the log is back at sequence 10), then 10 new
items, which get sequences 11-20 again with other content, published through a second node
while the reader's node is frozen (SIGSTOP), so it learns of them only when it comes back and
reads the log. Its own sequence 20 now holds something else: it must notice and start its
readers over from a snapshot, so every new item reaches them (in the snapshot or live) and
nobody silently skips sequences 11-20.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable

import redis

from tests.faults.conftest import Cluster
from tests.faults.harness import (
    Reader,
    RetryingPublisher,
    assert_clean,
    start_readers,
    stop_readers,
    wait_until,
)


async def test_a_log_restored_from_an_older_snapshot_is_noticed(
    make_cluster: Callable[..., Cluster],
) -> None:
    cluster = make_cluster(nodes=2)
    node, other = cluster.nodes
    reader = Reader("reader", [node.ws_url])
    await start_readers([reader])
    publisher = RetryingPublisher([other.url])
    await publisher.publish_many(10)
    client = redis.Redis.from_url(cluster.redis.url)
    client.save()  # the "older copy": the log at sequence 10
    client.close()
    await publisher.publish_many(10, start=10)
    await wait_until(lambda: reader.seq == 20, "the reader to reach sequence 20")

    assert node.process is not None
    node.process.send_signal(signal.SIGSTOP)
    try:
        await asyncio.to_thread(cluster.redis.stop)  # SIGKILL
        await asyncio.to_thread(cluster.redis.start)  # loads dump.rdb: back at sequence 10
        rewound = RetryingPublisher([other.url], run="after-restore")
        await rewound.publish_many(10, start=20)
    finally:
        node.process.send_signal(signal.SIGCONT)
    await rewound.publish_many(1, start=30)
    assert [p.seq for p in rewound.published] == list(range(11, 22)), "the log did not rewind"
    new_ids = rewound.ids()

    def seen() -> set[str]:
        after = reader.snapshots[-1] if reader.snapshots else None
        shown = set(after.ids) if after is not None and after.seq >= 10 else set()
        return shown | {d.id for d in reader.deliveries if d.seq >= 11}

    await wait_until(lambda: set(new_ids) <= seen(), "every item published after the restore")
    await stop_readers([reader])
    await publisher.aclose()
    await rewound.aclose()
    assert_clean(reader)
    assert reader.recovered.count(False) >= 2, "the reader was never told to start over"
