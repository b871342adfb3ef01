"""Live delivery loses messages while the log keeps them: the node fills every gap from the log.

Redis pub/sub is at-most-once. These tests make it lose messages on a running pair of nodes and
check that no reader notices: every event arrives exactly once, in order, on the reader's first
and only connection.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator

import httpx
import pytest
import redis

import ticker.brokers.redis as redis_engine
from tests.faults.conftest import Cluster
from tests.faults.harness import (
    Reader,
    RetryingPublisher,
    assert_clean,
    metric,
    report,
    start_readers,
    stop_readers,
    wait_for_cursor,
    wait_until,
)
from ticker import codec
from ticker.brokers.base import Change, Entry, LogSlice
from ticker.brokers.redis import RedisBroker
from ticker.brokers.redis_keys import FeedKeys, feed_keys
from ticker.hub import Hub
from ticker.metrics import Metrics
from ticker.model import ItemDraft
from ticker.relay import Relay
from ticker.transports.fanout import Fanout

PUBLISHERS = 4
ITEMS_EACH = 150
KILLS = 3
NOBODY_LISTENS = "fault:nobody-listens"


async def broker_reconnects(url: str) -> float:
    async with httpx.AsyncClient(timeout=5) as client:
        response = await client.get(f"{url}/metrics")
    return metric(response.text, "ticker_broker_reconnects_total")


async def test_pubsub_connection_killed_while_items_flow(
        make_cluster: Callable[..., Cluster]) -> None:
    """``CLIENT KILL TYPE pubsub`` (both nodes' listeners), three times while four publishers
    post 600 items: each node reconnects, re-subscribes and reads the log after the last
    sequence it dispatched. Readers see every item exactly once, in order, never reconnecting."""
    cluster = make_cluster()
    a, b = cluster.nodes
    readers = [Reader(f"reader-{i}", [node.ws_url]) for i, node in enumerate([a, b, a, b])]
    await start_readers(readers)
    publishers = [RetryingPublisher([a.url, b.url], sub=f"desk-{i}") for i in range(PUBLISHERS)]
    publishing = asyncio.gather(*(p.publish_many(ITEMS_EACH) for p in publishers))
    admin = redis.Redis.from_url(cluster.redis.url, socket_timeout=5)
    channel = feed_keys(cluster.prefix, "en").channel

    def listeners() -> int:
        return sum(int(n) for _, n in admin.pubsub_numsub(channel))

    def count() -> int:
        return sum(len(p.published) for p in publishers)

    async def kill_when_published(total: int) -> tuple[int, int]:
        """Cut the listeners once ``total`` items are out; (connections cut, items published
        while at least one node was not subscribed: pub/sub never delivered those to it)."""
        await wait_until(lambda: count() >= total, f"{total} publishes")
        killed = int(await asyncio.to_thread(admin.client_kill_filter, _type="pubsub"))
        before = count()
        # both listeners must be back before the next kill, or it would find nothing to cut
        await wait_until(lambda: listeners() == 2, "both nodes to subscribe again")
        return killed, count() - before

    killed = unheard = 0
    try:
        for kill in range(1, KILLS + 1):
            cut, missed = await kill_when_published(kill * ITEMS_EACH * PUBLISHERS // (KILLS + 1))
            killed, unheard = killed + cut, unheard + missed
    finally:
        await publishing
        admin.close()
    for publisher in publishers:
        await publisher.aclose()

    epoch, seq, log = cluster.log()
    await wait_for_cursor(readers, f"{epoch}:{seq}")
    await stop_readers(readers)
    assert seq == PUBLISHERS * ITEMS_EACH
    assert killed >= KILLS * 2, f"CLIENT KILL cut {killed} pub/sub connections"
    assert unheard > 0, "nothing was published while a listener was down: no gap to fill"
    for node in (a, b):
        assert await broker_reconnects(node.url) >= KILLS
    published = {i for p in publishers for i in p.ids()}
    assert {e.id for e in log} == published
    for reader in readers:
        assert_clean(reader)
        assert reader.ids() == [e.id for e in log], f"{reader.name} missed items"
        assert len(reader.connects) == 1, f"{reader.name} had to reconnect"
    report("pub/sub connection killed x3", len(published),
           [len(r.deliveries) for r in readers], 0, 0,
           f"{killed} pub/sub connections cut; ~{unheard} items published while a listener "
           "was down; readers never reconnected")


@pytest.fixture
def silent_channel(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """In this test process only, make the Redis engine publish to a channel nobody listens to."""
    def keys(prefix: str, feed: str) -> FeedKeys:
        return feed_keys(prefix, feed)._replace(channel=NOBODY_LISTENS)

    monkeypatch.setattr(redis_engine, "feed_keys", keys)
    yield


async def test_a_dropped_live_message_is_read_from_the_log_before_the_next(
        make_cluster: Callable[..., Cluster], silent_channel: None) -> None:
    """Sequence gaps: some events reach the log but never the nodes' pub/sub.

    Method: a ``RedisBroker`` in the test process publishes with the engine's own code and
    ``publish.lua``, unchanged, except that ``feed_keys`` (monkeypatched here, not in the
    servers) names a pub/sub channel no node subscribes to. So the event is appended to the
    feed's log with the next sequence, stamped and stored exactly as a real publish, in the
    same atomic step, and only its live notification is lost: a dropped pub/sub message. The
    next ordinary publish (HTTP, through a node) arrives live with a sequence one or more past
    the node's position; the node must read the missing ones from the log and dispatch them
    first. Rounds drop 1, 2 or 3 messages in a row between ordinary publishes.
    """
    cluster = make_cluster()
    a, b = cluster.nodes
    readers = [Reader(f"reader-{i}", [node.ws_url]) for i, node in enumerate([a, b, a, b])]
    await start_readers(readers)
    silent = RedisBroker(cluster.redis.url, prefix=cluster.prefix)
    publisher = RetryingPublisher([a.url, b.url])
    hidden: list[str] = []
    try:
        for round_ in range(30):
            await publisher.publish(round_)
            for k in range(round_ % 3 + 1):
                draft = ItemDraft(feed="en", text=f"dropped live {round_}.{k}", urgency=4,
                                  regions=[], lang="en", author="fault", version=1,
                                  status="usable")
                result = await silent.publish("en", Change("item", codec.encode(draft)))
                assert result.status == "published" and result.item is not None
                hidden.append(codec.item_decoder.decode(result.item).id)
        await publisher.publish(30)
    finally:
        await silent.aclose()
        await publisher.aclose()

    epoch, seq, log = cluster.log()
    await wait_for_cursor(readers, f"{epoch}:{seq}")
    await stop_readers(readers)
    assert len(hidden) == 60 and seq == 91
    for node in (a, b):
        assert await broker_reconnects(node.url) == 0, "a resync, not the gap path, filled it"
    for reader in readers:
        assert_clean(reader)
        assert reader.ids() == [e.id for e in log]
        assert set(hidden) <= set(reader.ids())
        assert len(reader.connects) == 1
    report("sequence gap (dropped pub/sub message)", len(log),
           [len(r.deliveries) for r in readers], 0, 0,
           f"{len(hidden)} of {len(log)} events never sent live; all filled from the log")


async def test_a_live_message_arriving_while_the_node_repairs_is_not_lost(
        make_cluster: Callable[..., Cluster], monkeypatch: pytest.MonkeyPatch) -> None:
    """The race between a repair's log read and live delivery, made deterministic.

    While a node repairs a feed (here: the resync after its pub/sub connection was cut) it drops
    live events for that feed, counting on the repair's read to contain them. An event published
    *after* Redis ran that read, whose live message arrives before the repair finishes, is in
    neither. Method: a node's parts (the Redis engine, relay and hub, unchanged) run in the test
    process; the engine's ``read`` is wrapped so that, once, right after the real read returned,
    one more event is published normally and the wrapper waits until the node's live callback
    has received it; only then does the repair get its read. Nothing is published afterwards,
    so a dropped event would never show up as a later gap: the node must still dispatch it.
    """
    cluster = make_cluster(nodes=0)
    broker = RedisBroker(cluster.redis.url, prefix=cluster.prefix)
    publisher = RedisBroker(cluster.redis.url, prefix=cluster.prefix)
    hub = Hub()
    relay = Relay(broker, hub, Fanout(hub, tick_seconds=5.0), ["en"], Metrics())
    heard: list[int] = []
    on_event = relay._on_event

    def spy(feed: str, epoch: str, entry: Entry) -> None:
        heard.append(entry.seq)
        on_event(feed, epoch, entry)

    monkeypatch.setattr(relay, "_on_event", spy)
    armed = False
    read = broker.read

    async def read_then_publish(feed: str, epoch: str | None, after: int,
                                limit: int) -> LogSlice:
        nonlocal armed
        got = await read(feed, epoch, after, limit)
        if armed:
            armed = False
            late = await publisher.publish("en", Change("item", draft("late")))
            await wait_until(lambda: late.seq in heard, "the late event's live message")
        return got

    monkeypatch.setattr(broker, "read", read_then_publish)
    admin = redis.Redis.from_url(cluster.redis.url, socket_timeout=5)
    try:
        await relay.start()
        for n in range(3):
            await publisher.publish("en", Change("item", draft(f"before {n}")))
        await wait_until(lambda: hub.last_seq("en")[1] == 3, "the first three events")
        armed = True
        assert admin.client_kill_filter(_type="pubsub") == 1
        await wait_until(lambda: not armed, "the repair's read")
        await wait_until(lambda: hub.last_seq("en")[1] == 4, "the node to dispatch event 4", 10)
    finally:
        admin.close()
        await relay.aclose()
        await publisher.aclose()


def draft(text: str) -> bytes:
    return codec.encode(ItemDraft(feed="en", text=text, urgency=4, regions=[], lang="en",
                                  author="fault", version=1, status="usable"))
