"""The broker's people-side contract (issue 13), on both engines: approve and reject of a
submission, a change refused by ``require_status``, the queue, each item's history recorded in
the same step as the change, and the desk's notices."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import redis

from tests.integration import broker_fixtures
from tests.integration.broker_fixtures import SHARED_REDIS_URL, BrokerFactory, Collector
from tests.integration.test_broker_contract import changed, draft
from ticker.brokers.base import Change
from ticker.brokers.memory import MemoryBroker
from ticker.brokers.redis import RedisBroker
from ticker.brokers.redis_keys import feed_keys
from ticker.codec import item_decoder
from ticker.stamp import now_ms

WAIT = 10.0  # upper bound on any wait here; never an expected duration
make_broker = broker_fixtures.make_broker


def submission(text: str, **extra: Any) -> Change:
    return Change("draft", draft(text, author="carla", status="submitted", **extra),
                  live=draft(text, author="carla", **extra), by="carla")


def history_of(raw: bytes | None) -> list[tuple[str, str, int]]:
    assert raw is not None
    return [(e["action"], e["by"], e["version"]) for e in json.loads(raw)]


class DeskNotices:
    """The desk's notices of one engine: the memory engine's callback, or its Redis channel."""

    def __init__(self) -> None:
        self.got: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._pubsub: Any = None
        self._client: Any = None
        self._task: asyncio.Task[None] | None = None

    async def attach(self, broker: MemoryBroker | RedisBroker, prefix: str | None) -> None:
        if isinstance(broker, MemoryBroker):
            broker.on_desk = lambda feed, data: self.got.put_nowait(json.loads(data))
            return
        assert prefix is not None
        self._client = redis.asyncio.Redis.from_url(SHARED_REDIS_URL)
        self._pubsub = self._client.pubsub(ignore_subscribe_messages=True)
        await self._pubsub.subscribe(feed_keys(prefix, "en").desk)
        self._task = asyncio.create_task(self._pump())

    async def _pump(self) -> None:
        async for message in self._pubsub.listen():
            self.got.put_nowait(json.loads(message["data"]))

    async def take(self) -> dict[str, Any]:
        return await asyncio.wait_for(self.got.get(), WAIT)

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            await self._pubsub.aclose()
            await self._client.aclose()


async def started(make_broker: BrokerFactory) -> tuple[MemoryBroker | RedisBroker, Collector,
                                                        DeskNotices]:
    broker, collector = await make_broker.started(["en"])
    notices = DeskNotices()
    prefix = make_broker.prefixes[-1][1] if make_broker.prefixes else None
    await notices.attach(broker, prefix)
    return broker, collector, notices


async def test_approve_now_goes_live_once_with_its_history(make_broker: BrokerFactory) -> None:
    broker, collector, notices = await started(make_broker)
    try:
        sent = await broker.publish("en", submission("from a stringer"))
        assert sent.status == "published" and sent.item is not None
        item = item_decoder.decode(sent.item)
        assert item.status == "submitted"
        notice = await notices.take()
        assert (notice["action"], notice["by"], notice["id"]) == ("submitted", "carla", item.id)
        assert notice["item"]["status"] == "submitted"
        assert [item_decoder.decode(r.data).id for r in await broker.queue("en")] == [item.id]
        assert await broker.latest("en", 10) == []
        approved = await broker.publish("en", Change(
            "approve", changed(sent.item, status="usable"), item.id, 1, by="erin"))
        assert approved.status == "published" and approved.item is not None
        live = item_decoder.decode(approved.item)
        assert (live.status, live.author, live.id) == ("usable", "carla", item.id)
        (_, _, entry), = await collector.take(1)
        event = json.loads(entry.data)
        assert event["type"] == "item" and event["item"]["id"] == item.id
        assert (await notices.take())["action"] == "approved"
        assert await broker.queue("en") == []
        assert history_of(await broker.history("en", item.id)) == [
            ("submitted", "carla", 1), ("approved", "erin", 1)]
        again = await broker.publish("en", Change(
            "approve", changed(approved.item, status="usable"), item.id, 1, by="erin"))
        assert again.status == "illegal"
        assert collector.queue.empty()
    finally:
        await notices.aclose()


async def test_approve_under_an_embargo_schedules_it(make_broker: BrokerFactory) -> None:
    broker, collector, notices = await started(make_broker)
    try:
        sent = await broker.publish("en", submission("at noon"))
        assert sent.item is not None
        ident = item_decoder.decode(sent.item).id
        at = now_ms() + 300
        scheduled = await broker.publish("en", Change(
            "approve", changed(sent.item, status="scheduled"), ident, 1, embargo_ms=at, by="erin"))
        assert scheduled.item is not None
        assert item_decoder.decode(scheduled.item).status == "scheduled"
        assert [item_decoder.decode(r.data).status for r in await broker.queue("en")] == [
            "scheduled"]
        fired = None
        for _ in range(int(WAIT / 0.05)):
            fired = (await broker.fire_due("en")).result
            if fired is not None:
                break
            await asyncio.sleep(0.05)
        assert fired is not None and fired.status == "published"
        (_, _, entry), = await collector.take(1)
        assert json.loads(entry.data)["item"]["id"] == ident
        assert history_of(await broker.history("en", ident)) == [
            ("submitted", "carla", 1), ("approved", "erin", 1), ("published", "scheduler", 1)]
        assert [(await notices.take())["action"] for _ in range(3)] == [
            "submitted", "approved", "published"]
    finally:
        await notices.aclose()


async def test_reject_is_final_and_never_public(make_broker: BrokerFactory) -> None:
    broker, collector, notices = await started(make_broker)
    try:
        sent = await broker.publish("en", submission("doubtful"))
        assert sent.item is not None
        ident = item_decoder.decode(sent.item).id
        rejected = await broker.publish("en", Change(
            "reject", changed(sent.item, status="canceled"), ident, 1, by="erin"))
        assert rejected.item is not None
        assert item_decoder.decode(rejected.item).status == "canceled"
        assert await broker.queue("en") == [] and await broker.latest("en", 10) == []
        late = await broker.publish("en", Change(
            "approve", changed(sent.item, status="usable"), ident, 1, by="erin"))
        assert late.status == "canceled"
        assert history_of(await broker.history("en", ident)) == [
            ("submitted", "carla", 1), ("rejected", "erin", 1)]
        assert [(await notices.take())["action"] for _ in range(2)] == ["submitted", "rejected"]
        assert collector.queue.empty()
    finally:
        await notices.aclose()


async def test_require_status_and_every_action_in_the_history(
        make_broker: BrokerFactory) -> None:
    broker, _, notices = await started(make_broker)
    try:
        sent = await broker.publish("en", Change("item", draft("live"), by="erin"))
        assert sent.item is not None
        ident = item_decoder.decode(sent.item).id
        refused = await broker.publish("en", Change(
            "update", changed(sent.item, text="edited", version=2), ident, 1, by="alice",
            require_status="submitted"))
        assert refused.status == "illegal"
        fixed = await broker.publish("en", Change(
            "update", changed(sent.item, text="edited", version=2), ident, 1, by="alice"))
        assert fixed.item is not None
        await broker.publish("en", Change("pin", item_id=ident, by="erin"))
        held = await broker.publish("en", Change(
            "hold", changed(fixed.item, status="withheld"), ident, 2, by="erin"))
        assert held.item is not None
        killed = await broker.publish("en", Change(
            "retract", changed(held.item, status="canceled"), ident, 2, by="erin"))
        assert killed.status == "published"
        assert history_of(await broker.history("en", ident)) == [
            ("published", "erin", 1), ("corrected", "alice", 2), ("pinned", "erin", 2),
            ("held", "erin", 2), ("retracted", "erin", 2)]
        assert await broker.history("en", "nope") is None
        actions = [(await notices.take())["action"] for _ in range(5)]
        assert actions == ["published", "corrected", "pinned", "held", "retracted"]
    finally:
        await notices.aclose()


async def test_history_reads_the_item_not_text_that_looks_like_its_fields(
        make_broker: BrokerFactory) -> None:
    broker, _, notices = await started(make_broker)
    try:
        text = 'a quote: "version":9, "status":"usable"'
        sent = await broker.publish("en", Change(
            "draft", draft(text, author="carla", status="submitted", source='"version":7'),
            live=draft(text, author="carla"), by='carla "the stringer"'))
        assert sent.item is not None
        ident = item_decoder.decode(sent.item).id
        assert history_of(await broker.history("en", ident)) == [
            ("submitted", 'carla "the stringer"', 1)]
        notice = await notices.take()
        assert notice["item"]["text"] == text and notice["version"] == 1
    finally:
        await notices.aclose()


async def test_the_history_lives_as_long_as_the_item(make_broker: BrokerFactory) -> None:
    broker = await make_broker(history=4, latest_max=1, item_retention=4)
    gone = await broker.publish("en", Change("item", draft("old"), by="erin"))  # seq 1
    assert gone.item is not None
    ident = item_decoder.decode(gone.item).id
    assert history_of(await broker.history("en", ident)) == [("published", "erin", 1)]
    for n in range(6):  # seq 2-7: the first item leaves the latest list, then the window
        await broker.publish("en", Change("item", draft(f"later {n}"), by="erin"))
    assert await broker.get_item("en", ident) is None
    assert await broker.history("en", ident) is None
