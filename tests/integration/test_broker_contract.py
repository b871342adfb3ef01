"""The broker contract: one suite, run against every engine, so ``memory://`` and ``redis://``
cannot drift apart.

Tests taking ``make_broker`` run once per engine. The Redis-only tests at the end cover what only
the Redis engine has: pub/sub recovery, the half-open watchdog, Redis going away, the eviction
policy check, the Lua date formatter, and the key layout. Those that kill, pause or restart Redis
run on a private ``redis-server`` (``own_redis``), never on the shared one.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import re
import time
from datetime import datetime
from importlib import resources
from typing import Any

import msgspec
import pytest
import redis
import redis.asyncio

from tests.integration import broker_fixtures
from tests.integration.broker_fixtures import (
    SHARED_REDIS_URL,
    WAIT,
    BrokerFactory,
    OwnRedis,
    delete_prefix,
)
from ticker.brokers.base import BrokerUnavailableError, Change, Entry, Idempotency
from ticker.brokers.memory import MemoryBroker
from ticker.brokers.redis import RedisBroker
from ticker.brokers.redis_keys import feed_keys
from ticker.codec import event_decoder, item_decoder
from ticker.cursor import Cursor
from ticker.model import Item, ItemDraft, ItemEvent, RetractEvent, UpdateEvent
from ticker.stamp import item_event, retract_event, rfc3339, stamp_new, stamp_updated

# The fixtures live beside this module (tests/integration/conftest.py belongs to the server
# tests); binding them here makes pytest find them.
make_broker = broker_fixtures.make_broker
make_redis_broker = broker_fixtures.make_redis_broker
own_redis = broker_fixtures.own_redis

STREAM_NODE = 100  # Redis' default stream-node-max-entries: MAXLEN ~ trims whole nodes
ITEM_ID = re.compile(r"^[0-9a-f]{19}$")


# -- helpers ---------------------------------------------------------------------------------

def draft(text: str, feed: str = "en", **extra: Any) -> bytes:
    fields: dict[str, Any] = {"feed": feed, "text": text, "urgency": 4, "regions": ["europe"],
                              "lang": "en", "author": "alice", "version": 1, "status": "usable"}
    return msgspec.json.encode(ItemDraft(**{**fields, **extra}))


def changed(item: bytes, **changes: Any) -> bytes:
    """The body of an update or retract: the whole new item without ``updated_at``."""
    fields = msgspec.to_builtins(msgspec.structs.replace(item_decoder.decode(item), **changes))
    del fields["updated_at"]
    return msgspec.json.encode(fields)


def ms_of(timestamp: str) -> int:
    moment = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    return int(moment.timestamp()) * 1000 + moment.microsecond // 1000


def seqs(entries: list[Entry]) -> list[int]:
    return [entry.seq for entry in entries]


async def publish_items(broker: MemoryBroker | RedisBroker, count: int, feed: str = "en",
                        **extra: Any) -> list[Item]:
    out = []
    for n in range(count):
        result = await broker.publish(feed, Change("item", draft(f"item {n}", feed, **extra)))
        assert result.status == "published" and result.item is not None
        out.append(item_decoder.decode(result.item))
    return out


# -- publish, stamping, layout ---------------------------------------------------------------

async def test_publish_assigns_contiguous_seqs_in_one_epoch(make_broker: BrokerFactory) -> None:
    broker = await make_broker()
    results = [await broker.publish("en", Change("item", draft(f"n{n}"))) for n in range(5)]
    assert [r.seq for r in results] == [1, 2, 3, 4, 5]
    assert {r.epoch for r in results} == {results[0].epoch}
    assert re.fullmatch(r"[0-9a-f]{12}", results[0].epoch)
    head = await broker.head("en", 0, 0)
    assert (head.epoch, head.seq) == (results[0].epoch, 5)
    other = await broker.publish("ar", Change("item", draft("other feed", "ar")))
    assert other.seq == 1 and other.epoch != results[0].epoch  # every feed has its own log


async def test_item_and_event_layout_match_stamp(make_broker: BrokerFactory) -> None:
    broker = await make_broker()
    body = draft("Ceasefire announced", source="Wire", category="politics",
                 url="https://example.org/a")
    published = await broker.publish("en", Change("item", body))
    assert published.status == "published" and published.item is not None
    item = item_decoder.decode(published.item)
    assert ITEM_ID.match(item.id)
    ms, seq = int(item.id[:11], 16), int(item.id[11:], 16)
    assert seq == published.seq
    assert item.published_at == item.updated_at == rfc3339(ms)
    assert stamp_new(body, ms, seq) == (item.id, published.item)  # byte for byte
    assert set(json.loads(published.item)) == {"id", "published_at", "updated_at",
                                               *json.loads(body)}
    cursor = f"{published.epoch}:{published.seq}"
    assert Cursor.parse(cursor) == (published.epoch, published.seq)
    [entry] = (await broker.read("en", published.epoch, 0, 10)).entries
    assert entry.data == item_event("item", cursor, published.item)
    event = event_decoder.decode(entry.data)
    assert isinstance(event, ItemEvent) and event.cursor == cursor and event.item == item

    body = changed(published.item, text="Ceasefire announced (corrected)", version=2)
    updated = await broker.publish("en", Change("update", body, item.id, 1))
    assert updated.status == "published" and updated.item is not None
    new = item_decoder.decode(updated.item)
    assert updated.item.startswith(b'{"updated_at":"')
    assert stamp_updated(body, ms_of(new.updated_at)) == updated.item
    assert (new.id, new.published_at, new.version) == (item.id, item.published_at, 2)
    assert ms_of(new.updated_at) >= ms
    [entry] = (await broker.read("en", published.epoch, 1, 10)).entries
    assert entry.data == item_event("update", f"{updated.epoch}:2", updated.item)
    assert isinstance(event_decoder.decode(entry.data), UpdateEvent)

    body = changed(updated.item, status="canceled", version=3)
    retracted = await broker.publish("en", Change("retract", body, item.id, 2))
    assert retracted.status == "published" and retracted.item is not None
    [entry] = (await broker.read("en", published.epoch, 2, 10)).entries
    assert entry.data == retract_event(f"{retracted.epoch}:3", "en", item.id, "retracted")
    event = event_decoder.decode(entry.data)
    assert isinstance(event, RetractEvent) and (event.feed, event.id) == ("en", item.id)


async def test_ids_sort_in_publish_order(make_broker: BrokerFactory) -> None:
    broker = await make_broker()
    items = await publish_items(broker, 30)
    ids = [item.id for item in items]
    assert ids == sorted(ids) and len(set(ids)) == 30
    stamps = [item.published_at for item in items]
    assert stamps == sorted(stamps)


# -- reading the log -------------------------------------------------------------------------

async def test_read_after_a_cursor_returns_exactly_the_later_events(
        make_broker: BrokerFactory) -> None:
    broker = await make_broker()
    await publish_items(broker, 10)
    head = await broker.head("en", 0, 100)
    got = await broker.read("en", head.epoch, 4, 100)
    assert got.complete and (got.epoch, got.head) == (head.epoch, 10)
    assert seqs(got.entries) == [5, 6, 7, 8, 9, 10]
    assert got.entries == head.tail[4:]
    assert seqs((await broker.read("en", head.epoch, 4, 3)).entries) == [5, 6, 7]
    assert seqs((await broker.read("en", head.epoch, 0, 100)).entries) == list(range(1, 11))
    at_head = await broker.read("en", head.epoch, 10, 100)
    assert at_head.complete and at_head.entries == []


@pytest.mark.parametrize("position", ["other epoch", "no epoch", "future", "negative"])
async def test_read_from_an_unretained_position_is_incomplete(
        make_broker: BrokerFactory, position: str) -> None:
    broker = await make_broker()
    await publish_items(broker, 3)
    epoch = (await broker.head("en", 0, 0)).epoch
    wanted, after = {
        "other epoch": ("0123456789ab", 1),
        "no epoch": (None, 1),
        "future": (epoch, 4),
        "negative": (epoch, -1),
    }[position]
    got = await broker.read("en", wanted, after, 100)
    assert not got.complete and got.entries == []
    assert (got.epoch, got.head) == (epoch, 3)


async def test_history_is_bounded_and_trimmed_positions_are_incomplete(
        make_broker: BrokerFactory) -> None:
    history = 50
    broker = await make_broker(history=history)
    await publish_items(broker, history + 150)
    head = await broker.head("en", 0, 10_000)
    retained = seqs(head.tail)
    assert history <= len(retained) <= history + STREAM_NODE
    if make_broker.engine == "memory":
        assert len(retained) == history
    first = retained[0]
    assert retained == list(range(first, head.seq + 1)) and head.seq == history + 150
    assert first > 1
    whole = await broker.read("en", head.epoch, first - 1, 10_000)
    assert whole.complete and seqs(whole.entries) == retained
    assert not (await broker.read("en", head.epoch, first - 2, 10_000)).complete
    assert not (await broker.read("en", head.epoch, 0, 10_000)).complete


# -- head, latest, items ---------------------------------------------------------------------

async def test_head_and_latest(make_broker: BrokerFactory) -> None:
    broker = await make_broker(latest_max=5)
    items = await publish_items(broker, 8)
    gone = items[5]
    retract = changed(msgspec.json.encode(gone), status="canceled", version=2)
    assert (await broker.publish("en", Change("retract", retract, gone.id, 1))).seq == 9

    usable = [item.id for item in items[3:] if item.id != gone.id]  # the last 5, less one
    latest = [item_decoder.decode(raw) for raw in await broker.latest("en", 10)]
    assert [item.id for item in latest] == usable
    assert [item_decoder.decode(raw).id for raw in await broker.latest("en", 2)] == usable[-2:]
    assert await broker.latest("en", 0) == []

    head = await broker.head("en", 3, 2)
    assert head.seq == 9
    assert [item_decoder.decode(raw).id for raw in head.items] == usable[-3:]
    assert seqs(head.tail) == [8, 9]
    assert head.tail == (await broker.read("en", head.epoch, 7, 10)).entries
    empty = await broker.head("en", 0, 0)
    assert (empty.items, empty.tail, empty.seq) == ([], [], 9)


async def test_head_of_an_unused_feed(make_broker: BrokerFactory) -> None:
    broker = await make_broker()
    head = await broker.head("es", 10, 10)
    assert head.seq == 0 and head.items == [] and head.tail == []
    assert Cursor.parse(f"{head.epoch}:0")  # a usable epoch before the first publish
    first = await broker.publish("es", Change("item", draft("first", "es")))
    assert (first.epoch, first.seq) == (head.epoch, 1)
    assert (await broker.read("es", head.epoch, 0, 10)).complete


async def test_get_item(make_broker: BrokerFactory) -> None:
    broker = await make_broker()
    published = await broker.publish("en", Change("item", draft("one")))
    assert published.item is not None
    ident = item_decoder.decode(published.item).id
    assert await broker.get_item("en", ident) == published.item
    assert await broker.get_item("en", "0" * 19) is None
    assert await broker.get_item("ar", ident) is None  # items belong to their feed


# -- corrections and retractions -------------------------------------------------------------

async def test_update_needs_the_expected_version(make_broker: BrokerFactory) -> None:
    broker = await make_broker()
    published = await broker.publish("en", Change("item", draft("first")))
    assert published.item is not None
    ident = item_decoder.decode(published.item).id
    body = changed(published.item, text="second", version=2)
    updated = await broker.publish("en", Change("update", body, ident, 1))
    assert updated.status == "published" and updated.seq == 2 and updated.item is not None
    assert await broker.get_item("en", ident) == updated.item
    assert item_decoder.decode(updated.item).text == "second"

    stale = changed(published.item, text="stale", version=2)
    for expected in (1, 3, None):
        refused = await broker.publish("en", Change("update", stale, ident, expected))
        assert (refused.status, refused.seq, refused.item) == ("conflict", 2, updated.item)
    assert (await broker.head("en", 0, 0)).seq == 2
    latest = [item_decoder.decode(raw) for raw in await broker.latest("en", 10)]
    assert [(item.id, item.text) for item in latest] == [(ident, "second")]


@pytest.mark.parametrize("kind", ["update", "retract"])
async def test_change_of_a_missing_item_is_not_found(make_broker: BrokerFactory,
                                                     kind: str) -> None:
    broker = await make_broker()
    await publish_items(broker, 1)
    body = draft("ghost")
    result = await broker.publish("en", Change(kind, body, "0" * 19, 1))  # type: ignore[arg-type]
    assert (result.status, result.seq, result.item) == ("not_found", 1, None)
    assert (await broker.head("en", 0, 0)).seq == 1


async def test_retract_removes_from_latest_and_cancels(make_broker: BrokerFactory) -> None:
    broker = await make_broker()
    keep, gone = await publish_items(broker, 2)
    body = changed(msgspec.json.encode(gone), status="canceled", version=2)
    retracted = await broker.publish("en", Change("retract", body, gone.id, 1))
    assert retracted.status == "published" and retracted.item is not None
    assert [item_decoder.decode(raw).id for raw in await broker.latest("en", 10)] == [keep.id]
    stored = await broker.get_item("en", gone.id)
    assert stored == retracted.item and item_decoder.decode(stored).status == "canceled"

    again = changed(retracted.item, text="corrected after retraction", version=3)
    for kind in ("update", "retract"):
        refused = await broker.publish("en", Change(kind, again, gone.id, 2))
        assert (refused.status, refused.seq, refused.item) == ("canceled", 3, retracted.item)
    assert (await broker.head("en", 0, 0)).seq == 3


# -- idempotency -----------------------------------------------------------------------------

async def test_duplicate_returns_the_item_and_publishes_nothing(
        make_broker: BrokerFactory) -> None:
    broker, seen = await make_broker.started(["en"])
    key = Idempotency("alice", "key-1", "fp-1")
    first = await broker.publish("en", Change("item", draft("once")), key)
    again = await broker.publish("en", Change("item", draft("once")), key)
    assert first.status == "published" and again.status == "duplicate"
    assert (again.epoch, again.seq, again.item) == (first.epoch, 1, first.item)
    sentinel = await broker.publish("en", Change("item", draft("sentinel")))
    delivered = await seen.take(2)
    assert [entry.seq for _, _, entry in delivered] == [1, sentinel.seq] == [1, 2]

    assert first.item is not None  # a duplicate answers with the item as it is now
    ident = item_decoder.decode(first.item).id
    updated = await broker.publish(
        "en", Change("update", changed(first.item, text="now", version=2), ident, 1))
    assert (await broker.publish("en", Change("item", draft("once")), key)).item == updated.item


async def test_same_key_with_another_body_is_a_mismatch(make_broker: BrokerFactory) -> None:
    broker = await make_broker()
    await broker.publish("en", Change("item", draft("a")), Idempotency("alice", "k", "fp-a"))
    mismatch = await broker.publish("en", Change("item", draft("b")),
                                    Idempotency("alice", "k", "fp-b"))
    assert (mismatch.status, mismatch.seq, mismatch.item) == ("mismatch", 1, None)
    other_scope = await broker.publish("en", Change("item", draft("b")),
                                       Idempotency("bob", "k", "fp-b"))
    assert (other_scope.status, other_scope.seq) == ("published", 2)
    other_feed = await broker.publish("ar", Change("item", draft("b", "ar")),
                                      Idempotency("alice", "k", "fp-b"))
    assert (other_feed.status, other_feed.seq) == ("published", 1)


async def test_concurrent_publishes_with_one_key_publish_once(
        make_broker: BrokerFactory) -> None:
    broker = await make_broker()
    key = Idempotency("alice", "storm", "fp")
    results = await asyncio.gather(
        *(broker.publish("en", Change("item", draft("storm")), key) for _ in range(20)))
    statuses = sorted(result.status for result in results)
    assert statuses == ["duplicate"] * 19 + ["published"]
    assert len({result.item for result in results}) == 1
    head = await broker.head("en", 10, 10)
    assert head.seq == 1 and len(head.items) == 1 and seqs(head.tail) == [1]


async def test_idempotency_record_expires(make_broker: BrokerFactory) -> None:
    broker = await make_broker()
    key = Idempotency("alice", "short", "fp", ttl_seconds=1)
    assert (await broker.publish("en", Change("item", draft("x")), key)).status == "published"
    await asyncio.sleep(1.2)  # let the one-second record lapse (no duration is asserted)
    assert (await broker.publish("en", Change("item", draft("x")), key)).status == "published"


async def test_recall_answers_a_known_key_without_publishing(make_broker: BrokerFactory) -> None:
    broker = await make_broker()
    key = Idempotency("alice", "recall-1", "fp")
    assert await broker.recall("en", key) is None
    first = await broker.publish("en", Change("item", draft("once")), key)
    seen = await broker.recall("en", key)
    assert seen is not None and seen.status == "duplicate" and seen.item == first.item
    other = await broker.recall("en", Idempotency("alice", "recall-1", "another body"))
    assert other is not None and other.status == "mismatch"
    assert await broker.recall("en", Idempotency("bob", "recall-1", "fp")) is None
    assert (await broker.head("en", 10, 10)).seq == 1


# -- item retention --------------------------------------------------------------------------

async def test_items_whose_events_left_the_window_are_dropped(make_broker: BrokerFactory) -> None:
    broker = await make_broker(history=4, latest_max=2, item_retention=6)
    key = Idempotency("alice", "early", "fp")
    first_raw = await broker.publish("en", Change("item", draft("a")), key)  # seq 1
    assert first_raw.item is not None
    first = item_decoder.decode(first_raw.item)
    second, third = await publish_items(broker, 2)  # seq 2, 3
    await broker.publish("en", Change(  # seq 4: first's last event
        "update", changed(first_raw.item, version=2), first.id, 1))
    await broker.publish("en", Change(  # seq 5: second's last event
        "retract", changed(msgspec.json.encode(second), status="canceled", version=2),
        second.id, 1))
    later = await publish_items(broker, 6)  # seq 6 to 11: the window is seq 6 to 11
    for gone in (first, second, third):
        assert await broker.get_item("en", gone.id) is None
    for kept in later:
        assert await broker.get_item("en", kept.id) is not None
    assert [item_decoder.decode(raw).id for raw in await broker.latest("en", 10)] == [
        later[-2].id, later[-1].id]
    # the key still answers: a duplicate, publishing nothing, though its item is gone
    again = await broker.publish("en", Change("item", draft("a")), key)
    assert (again.status, again.item) == ("duplicate", None)
    recalled = await broker.recall("en", key)
    assert recalled is not None and (recalled.status, recalled.item) == ("duplicate", None)
    assert (await broker.head("en", 0, 0)).seq == 11


async def test_latest_pinned_and_desk_items_outlive_the_window(make_broker: BrokerFactory) -> None:
    broker = await make_broker(history=2, latest_max=3, item_retention=2)
    pinned = await broker.publish("en", Change("item", draft("pinned")))  # seq 1
    assert pinned.item is not None
    pinned_id = item_decoder.decode(pinned.item).id
    await broker.publish("en", Change("pin", item_id=pinned_id))  # seq 2
    held = await broker.publish("en", Change("item", draft("held")))  # seq 3
    assert held.item is not None
    held_id = item_decoder.decode(held.item).id
    await broker.publish("en", Change(  # seq 4
        "hold", changed(held.item, status="withheld"), held_id, 1))
    scheduled = await broker.publish("en", Change(  # no event
        "draft", draft("scheduled", status="scheduled"), live=draft("scheduled"),
        embargo_ms=2**50))
    assert scheduled.item is not None
    scheduled_id = item_decoder.decode(scheduled.item).id
    items = await publish_items(broker, 5)  # seq 5 to 9; the latest are seq 7, 8, 9
    for kept in (pinned_id, held_id, scheduled_id):
        assert await broker.get_item("en", kept) is not None
    assert await broker.get_item("en", items[0].id) is None  # seq 5: out of both
    for kept_item in items[2:]:  # among the latest, although seq 7 left the window
        assert await broker.get_item("en", kept_item.id) is not None
    # one found among the latest is looked at again a window later; by then it left the latest
    await publish_items(broker, 6)  # seq 10 to 15
    for gone in items:
        assert await broker.get_item("en", gone.id) is None
    for kept in (pinned_id, held_id, scheduled_id):
        assert await broker.get_item("en", kept) is not None


async def test_items_are_kept_forever_without_a_retention(make_broker: BrokerFactory) -> None:
    broker = await make_broker(history=2, latest_max=1)
    items = await publish_items(broker, 30)
    for item in items:
        assert await broker.get_item("en", item.id) is not None


# -- live delivery ---------------------------------------------------------------------------

async def test_live_delivery_in_log_order(make_broker: BrokerFactory) -> None:
    broker, seen = await make_broker.started(["en", "ar"])
    for n in range(10):
        await broker.publish("en", Change("item", draft(f"en {n}")))
        await broker.publish("ar", Change("item", draft(f"ar {n}", "ar")))
    delivered = await seen.take(20)
    for feed in ("en", "ar"):
        mine = [(epoch, entry) for f, epoch, entry in delivered if f == feed]
        logged = await broker.read(feed, mine[0][0], 0, 100)
        assert [entry for _, entry in mine] == logged.entries
        assert {epoch for epoch, _ in mine} == {logged.epoch}
        assert seqs(logged.entries) == list(range(1, 11))


async def test_healthy(make_broker: BrokerFactory) -> None:
    assert await (await make_broker()).healthy()


# -- the engines agree -----------------------------------------------------------------------

async def _script(broker: MemoryBroker | RedisBroker) -> list[Any]:
    """The same changes on any engine, and everything the engine answered."""
    out: list[Any] = []
    items = []
    for n in range(4):
        result = await broker.publish("en", Change("item", draft(f"n{n}", source="S")),
                                      Idempotency("a", f"k{n}", "f"))
        out.append(result)
        assert result.item is not None
        items.append(result.item)
    first = item_decoder.decode(items[0]).id
    second = item_decoder.decode(items[1]).id
    out.append(await broker.publish("en", Change("item", draft("n0")), Idempotency("a", "k0", "f")))
    out.append(await broker.publish("en", Change("item", draft("n0")), Idempotency("a", "k0", "g")))
    out.append(await broker.publish("en", Change("update", changed(items[0], version=2), first, 1)))
    out.append(await broker.publish("en", Change("update", changed(items[0], version=2), first, 1)))
    out.append(await broker.publish("en", Change(
        "retract", changed(items[1], status="canceled", version=2), second, 1)))
    out.append(await broker.publish("en", Change("update", changed(items[1]), second, 2)))
    out.append(await broker.publish("en", Change("update", changed(items[1]), "f" * 19, 1)))
    head = await broker.head("en", 10, 10)
    out += [head.seq, head.items, head.tail]
    out.append(await broker.read("en", head.epoch, 2, 3))
    out.append(await broker.get_item("en", second))
    return out


def _normalize(value: Any, names: dict[str, str]) -> Any:
    """Engine- and time-specific parts (epochs, ids, timestamps) → stable placeholders, keeping
    key order so the byte layout is compared too."""
    if isinstance(value, bytes):
        try:
            return ["json", _normalize(json.loads(value), names)]
        except ValueError:
            return value
    if isinstance(value, dict):
        return [[key, _normalize(val, names)] for key, val in value.items()]
    if isinstance(value, list | tuple):
        return [_normalize(val, names) for val in value]
    if isinstance(value, str):
        if re.fullmatch(r"[0-9a-f]{12}(:\d+)?", value):
            return re.sub(r"^[0-9a-f]{12}", "EPOCH", value)
        if ITEM_ID.fullmatch(value):
            return names.setdefault(value, f"ID{len(names)}")
        if re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", value):
            return "TIME"
    return value


@pytest.mark.redis
async def test_memory_and_redis_answer_alike() -> None:
    engines = [BrokerFactory("memory"), BrokerFactory("redis")]
    try:
        outputs = [_normalize(await _script(await factory()), {}) for factory in engines]
    finally:
        for factory in engines:
            await factory.cleanup()
    assert outputs[0] == outputs[1]


# -- Redis only ------------------------------------------------------------------------------

async def _wait_until(predicate: Any) -> None:
    """Poll a state attribute (bounded by ``WAIT``); the engine has no event for it."""
    async def poll() -> None:
        while not predicate():  # noqa: ASYNC110
            await asyncio.sleep(0.02)

    await asyncio.wait_for(poll(), WAIT)


@pytest.mark.redis
async def test_listener_recovers_after_its_connection_is_killed(
        make_redis_broker: BrokerFactory, own_redis: OwnRedis) -> None:
    broker, seen = await make_redis_broker.started(["en"], url=own_redis.url)
    assert isinstance(broker, RedisBroker) and broker.listener_state == "connected"
    await broker.publish("en", Change("item", draft("before")))
    assert [entry.seq for _, _, entry in await seen.take(1)] == [1]

    with own_redis.client() as admin:
        assert admin.client_kill_filter(_type="pubsub") >= 1
    await seen.wait_resyncs(2)  # reconnected, re-subscribed, and told the node to read the log
    assert broker.reconnects >= 1 and broker.listener_state == "connected"
    await broker.publish("en", Change("item", draft("after")))
    assert [entry.seq for _, _, entry in await seen.take(1)] == [2]


@pytest.mark.redis
async def test_watchdog_notices_a_connection_that_stopped_answering(
        make_redis_broker: BrokerFactory, own_redis: OwnRedis) -> None:
    broker, seen = await make_redis_broker.started(
        ["en"], url=own_redis.url, ping_interval=0.1, pong_timeout=0.3, connect_timeout=0.3,
        command_timeout=0.3, backoff_base=0.05, backoff_cap=0.2)
    assert isinstance(broker, RedisBroker)
    own_redis.pause()  # the socket stays open, nothing answers: PINGs "succeed", PONGs never come
    try:
        await _wait_until(lambda: broker.listener_state == "reconnecting")
        assert broker.last_error is not None
    finally:
        own_redis.resume()
    await seen.wait_resyncs(2)
    assert broker.listener_state == "connected" and broker.reconnects >= 1
    await broker.publish("en", Change("item", draft("after the pause")))
    assert [entry.seq for _, _, entry in await seen.take(1)] == [1]


@pytest.mark.redis
async def test_redis_down_is_unavailable_and_restart_recovers(
        make_redis_broker: BrokerFactory, own_redis: OwnRedis) -> None:
    broker, seen = await make_redis_broker.started(["en"], url=own_redis.url,
                                                   backoff_base=0.05, backoff_cap=0.2)
    assert isinstance(broker, RedisBroker)
    before = await broker.publish("en", Change("item", draft("before")))
    await seen.take(1)

    own_redis.stop()
    with pytest.raises(BrokerUnavailableError):
        await broker.publish("en", Change("item", draft("lost")))
    for read in (broker.read("en", before.epoch, 0, 10), broker.head("en", 10, 10),
                 broker.get_item("en", "0" * 19), broker.latest("en", 10)):
        with pytest.raises(BrokerUnavailableError):
            await read
    assert not await broker.healthy()
    await _wait_until(lambda: broker.listener_state == "reconnecting")

    own_redis.start()  # same port, empty: the feed's log is gone, so it gets a new epoch
    await seen.wait_resyncs(2)
    after = await broker.publish("en", Change("item", draft("after")))
    assert after.status == "published" and after.seq == 1 and after.epoch != before.epoch
    assert await broker.healthy()
    [(_, epoch, entry)] = await seen.take(1)
    assert (epoch, entry.seq) == (after.epoch, 1)
    assert not (await broker.read("en", before.epoch, 1, 10)).complete


@pytest.mark.redis
async def test_script_is_reloaded_after_script_flush(
        make_redis_broker: BrokerFactory, own_redis: OwnRedis) -> None:
    broker = await make_redis_broker(url=own_redis.url)
    assert (await broker.publish("en", Change("item", draft("a")))).seq == 1
    with own_redis.client() as admin:
        admin.script_flush()
    assert (await broker.publish("en", Change("item", draft("b")))).seq == 2
    assert (await broker.head("en", 10, 10)).seq == 2


@pytest.mark.redis
async def test_eviction_policy_other_than_noeviction_is_warned_about(
        make_redis_broker: BrokerFactory, own_redis: OwnRedis,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, "ticker.brokers.redis")
    await make_redis_broker.started(["en"], url=own_redis.url)
    assert not [r for r in caplog.records if "MAXMEMORY-POLICY" in r.getMessage()]
    with own_redis.client() as admin:
        admin.config_set("maxmemory-policy", "allkeys-lru")
    await make_redis_broker.started(["en"], url=own_redis.url)
    [warning] = [r for r in caplog.records if "MAXMEMORY-POLICY" in r.getMessage()]
    assert "allkeys-lru" in warning.getMessage() and warning.levelno == logging.WARNING


@pytest.mark.redis
@pytest.mark.parametrize("own_redis", [["--rename-command", "CONFIG", ""]], indirect=True)
async def test_config_being_disabled_is_tolerated(
        make_redis_broker: BrokerFactory, own_redis: OwnRedis,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, "ticker.brokers.redis")
    broker, seen = await make_redis_broker.started(["en"], url=own_redis.url)
    assert any("cannot read Redis maxmemory-policy" in r.getMessage() for r in caplog.records)
    await broker.publish("en", Change("item", draft("still works")))
    assert len(await seen.take(1)) == 1


@pytest.mark.redis
async def test_lua_dates_match_stamp() -> None:
    source = resources.files("ticker.brokers").joinpath("publish.lua").read_text("utf-8")
    block = source[source.index("--[[ BEGIN rfc3339 ]]"):source.index("--[[ END rfc3339 ]]")]
    script = block + "local out = {} for i = 1, #ARGV do out[i] = rfc3339(tonumber(ARGV[i])) end" \
                     " return out"
    rng = random.Random(3339)
    edges = [0, 1, 999, 1000, 86_399_999, 86_400_000, 951_782_400_000,  # 2000-02-29
             951_868_800_000, 4_107_542_400_000,  # 2000-03-01, 2100-03-01 (not a leap year)
             1_767_225_599_999, 253_402_300_799_999]  # 2025-12-31T23:59:59.999, 9999-12-31
    values = edges + [rng.randrange(253_402_300_800_000) for _ in range(2000)]
    client = redis.asyncio.Redis.from_url(SHARED_REDIS_URL)
    try:
        got = await client.eval(script, 0, *values)
    finally:
        await client.aclose()
    assert [raw.decode() for raw in got] == [rfc3339(ms) for ms in values]


@pytest.mark.redis
async def test_time_never_goes_backwards(make_redis_broker: BrokerFactory) -> None:
    broker = await make_redis_broker()
    assert isinstance(broker, RedisBroker)
    await publish_items(broker, 1)
    future = int(time.time() * 1000) + 10 * 86_400_000  # as if the clock had run ahead before
    meta = feed_keys(make_redis_broker.prefixes[0][1], "en").meta
    client = redis.asyncio.Redis.from_url(SHARED_REDIS_URL)
    try:
        await client.hset(meta, "ms", str(future))
    finally:
        await client.aclose()
    later = await publish_items(broker, 2)
    assert [int(item.id[:11], 16) for item in later] == [future, future]
    assert [item.published_at for item in later] == [rfc3339(future)] * 2


@pytest.mark.redis
async def test_a_lost_log_starts_a_new_epoch(make_redis_broker: BrokerFactory) -> None:
    broker = await make_redis_broker()
    prefix = make_redis_broker.prefixes[0][1]
    await publish_items(broker, 3)
    old = (await broker.head("en", 0, 0)).epoch
    await delete_prefix(SHARED_REDIS_URL, prefix)
    result = await broker.publish("en", Change("item", draft("new log")))
    assert result.seq == 1 and result.epoch != old
    assert not (await broker.read("en", old, 3, 10)).complete


@pytest.mark.redis
async def test_a_partially_lost_feed_starts_clean(make_redis_broker: BrokerFactory) -> None:
    """If eviction took only the meta hash, the new epoch must not adopt the old log."""
    broker = await make_redis_broker()
    keys = feed_keys(make_redis_broker.prefixes[0][1], "en")
    await publish_items(broker, 3)
    client = redis.asyncio.Redis.from_url(SHARED_REDIS_URL)
    try:
        await client.delete(keys.meta)
    finally:
        await client.aclose()
    result = await broker.publish("en", Change("item", draft("after eviction")))
    assert result.status == "published" and result.seq == 1 and result.item is not None
    head = await broker.head("en", 10, 10)
    assert seqs(head.tail) == [1] and head.items == [result.item]


@pytest.mark.redis
async def test_every_key_of_a_feed_shares_its_hash_tag(make_redis_broker: BrokerFactory) -> None:
    broker = await make_redis_broker()
    prefix = make_redis_broker.prefixes[0][1]
    await broker.publish("en", Change("item", draft("x")), Idempotency("a", "{odd} key", "f"))
    await broker.publish("ar", Change("item", draft("y", "ar")))
    client = redis.asyncio.Redis.from_url(SHARED_REDIS_URL)
    try:
        names = sorted([key.decode() async for key in client.scan_iter(match=f"{prefix}*")])
    finally:
        await client.aclose()
    assert names and all(re.fullmatch(re.escape(prefix) + r"\{(en|ar)\}:[a-z]+(:[0-9a-f]{64})?",
                                      name) for name in names), names
    assert {name.split(":")[-1] for name in names if ":idem:" not in name} == {
        "meta", "log", "items", "latest", "retention", "history"}


def test_a_prefix_with_braces_is_refused() -> None:
    with pytest.raises(ValueError, match="braces"):
        RedisBroker(SHARED_REDIS_URL, prefix="a{b}:")
