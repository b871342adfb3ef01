"""The editorial lifecycle in the broker contract: every transition on both engines.

Each step is one atomic change: its events are checked byte for byte against ``ticker.stamp``
(so ``publish.lua`` and the memory engine cannot drift apart), illegal ones are refused and
change nothing, and the schedule (``fire_due``) fires each entry once however many callers race.
"""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec

from tests.integration import broker_fixtures
from tests.integration.broker_fixtures import SHARED_REDIS_URL, BrokerFactory
from ticker.brokers.base import Change, Entry
from ticker.brokers.memory import MemoryBroker
from ticker.brokers.redis import RedisBroker
from ticker.codec import event_decoder, item_decoder
from ticker.model import ItemDraft, PinEvent, RetractEvent
from ticker.stamp import (
    item_event,
    ms_of,
    now_ms,
    pin_event,
    retract_event,
    stamp_updated,
)

make_broker = broker_fixtures.make_broker
make_redis_broker = broker_fixtures.make_redis_broker

Broker = MemoryBroker | RedisBroker


def draft(text: str, status: str = "usable", **extra: Any) -> bytes:
    fields: dict[str, Any] = {"feed": "en", "text": text, "urgency": 4, "regions": [],
                              "lang": "en", "author": "alice", "version": 1, "status": status}
    return msgspec.json.encode(ItemDraft(**{**fields, **extra}))


def changed(item: bytes, **changes: Any) -> bytes:
    fields = msgspec.to_builtins(msgspec.structs.replace(item_decoder.decode(item), **changes))
    del fields["updated_at"]
    return msgspec.json.encode(fields)


async def publish(broker: Broker, text: str, **change: Any) -> bytes:
    result = await broker.publish("en", Change("item", draft(text), **change))
    assert result.status == "published" and result.item is not None
    return result.item


async def events_after(broker: Broker, seq: int) -> list[Entry]:
    head = await broker.head("en", 0, 0)
    return (await broker.read("en", head.epoch, seq, 100)).entries


async def latest_ids(broker: Broker) -> list[str]:
    return [item_decoder.decode(data).id for data in await broker.latest("en", 100)]


async def test_pin_hold_release_kill_are_events_stamped_alike(make_broker: BrokerFactory) -> None:
    broker = await make_broker()
    first = await publish(broker, "first")
    item = item_decoder.decode(first)
    second = await publish(broker, "second")
    epoch = (await broker.head("en", 0, 0)).epoch

    pinned = await broker.publish("en", Change("pin", item_id=item.id))
    assert pinned.status == "published" and pinned.seq == 3
    [entry] = await events_after(broker, 2)
    assert entry.data == pin_event(f"{epoch}:3", "en", item.id, first)
    head = await broker.head("en", 10, 0)
    assert head.pinned == b'{"pinned":true,' + first[1:]
    record = await broker.item_record("en", item.id)
    assert record is not None and record.pinned and record.note is None

    held = await broker.publish("en", Change("hold", changed(first, status="withheld"), item.id,
                                             1))
    assert held.status == "published" and held.item is not None and held.seq == 5
    assert held.item == stamp_updated(changed(first, status="withheld"),
                                      ms_of(item_decoder.decode(held.item).updated_at))
    assert [e.data for e in await events_after(broker, 3)] == [
        retract_event(f"{epoch}:4", "en", item.id, "withheld"),  # off the air
        pin_event(f"{epoch}:5", "en", None, None),  # and so no longer pinned: same step
    ]
    head = await broker.head("en", 10, 0)
    assert head.pinned is None
    assert await latest_ids(broker) == [item_decoder.decode(second).id]

    released = await broker.publish("en", Change(
        "release", changed(held.item, status="usable"), item.id, 1,
        place_ms=ms_of(item.published_at)))
    assert released.status == "published" and released.item is not None
    [entry] = await events_after(broker, 5)
    assert entry.data == item_event("item", f"{epoch}:6", released.item)
    back = item_decoder.decode(released.item)
    assert (back.id, back.status, back.version, back.published_at) == (
        item.id, "usable", 1, item.published_at)
    assert await latest_ids(broker) == [item.id, item_decoder.decode(second).id]  # its place

    killed = await broker.publish("en", Change("retract", changed(released.item,
                                                                  status="canceled"), item.id, 1))
    assert killed.status == "published"
    [entry] = await events_after(broker, 6)
    assert entry.data == retract_event(f"{epoch}:7", "en", item.id, "retracted")
    assert isinstance(event_decoder.decode(entry.data), RetractEvent)
    assert await latest_ids(broker) == [item_decoder.decode(second).id]


async def test_unpin_and_repinning_the_same_item(make_broker: BrokerFactory) -> None:
    broker = await make_broker()
    first = item_decoder.decode(await publish(broker, "first"))
    second = item_decoder.decode(await publish(broker, "second"))
    nothing = await broker.publish("en", Change("unpin"))
    assert nothing.status == "published" and nothing.item is None and nothing.seq == 2
    for ident in (first.id, first.id, second.id):
        assert (await broker.publish("en", Change("pin", item_id=ident))).status == "published"
    events = [event_decoder.decode(e.data) for e in await events_after(broker, 2)]
    assert [(type(e), e.id) for e in events if isinstance(e, PinEvent)] == [
        (PinEvent, first.id), (PinEvent, second.id)]  # pinning the pinned item appends nothing
    unpinned = await broker.publish("en", Change("unpin"))
    assert unpinned.item is not None and item_decoder.decode(unpinned.item).id == second.id
    [entry] = await events_after(broker, 4)
    last = event_decoder.decode(entry.data)
    assert isinstance(last, PinEvent) and last.id is None and last.item is None


async def test_illegal_transitions_are_refused_and_change_nothing(
        make_broker: BrokerFactory) -> None:
    broker = await make_broker()
    data = await publish(broker, "an item")
    item = item_decoder.decode(data)
    before = await broker.head("en", 10, 10)
    refused = [
        await broker.publish("en", Change("release", changed(data), item.id, 1)),
        await broker.publish("en", Change("golive", item_id=item.id)),
        await broker.publish("en", Change("hold", changed(data, status="withheld"), item.id, 9)),
        await broker.publish("en", Change("pin", item_id="0" * 19)),
    ]
    assert [r.status for r in refused] == ["illegal", "illegal", "conflict", "not_found"]
    held = await broker.publish("en", Change("hold", changed(data, status="withheld"), item.id,
                                             1))
    assert held.item is not None
    middle = await broker.head("en", 10, 10)
    refused = [
        await broker.publish("en", Change("hold", changed(held.item), item.id, 1)),
        await broker.publish("en", Change("pin", item_id=item.id)),
        await broker.publish("en", Change("expire", item_id="nope")),
    ]
    assert [r.status for r in refused] == ["illegal", "illegal", "not_found"]
    killed = await broker.publish("en", Change("retract", changed(held.item, status="canceled"),
                                               item.id, 1))
    assert killed.item is not None
    after = await broker.head("en", 10, 10)
    for kind in ("release", "hold", "retract", "update"):
        result = await broker.publish("en", Change(kind, changed(killed.item), item.id, 1))
        assert result.status == "canceled" and result.seq == after.seq
    for kind in ("pin", "note", "expire", "golive"):
        result = await broker.publish("en", Change(kind, item_id=item.id, note="x"))  # type: ignore[arg-type]
        assert result.status == "canceled"
    assert (await broker.head("en", 10, 10)) == after
    assert before.seq == 1 and middle.seq == 2 and after.seq == 3


async def test_notes_live_beside_the_item_never_in_the_log(make_broker: BrokerFactory) -> None:
    broker = await make_broker()
    data = await publish(broker, "noted", note="call the ministry back")
    item = item_decoder.decode(data)
    record = await broker.item_record("en", item.id)
    assert record is not None and record.note == "call the ministry back"
    assert b"ministry" not in data
    changed_note = await broker.publish("en", Change("note", item_id=item.id, note="checked"))
    assert changed_note.status == "published" and changed_note.seq == 1  # no event
    update = await broker.publish("en", Change("update", changed(data, text="noted!", version=2),
                                               item.id, 1))
    assert update.status == "published"
    record = await broker.item_record("en", item.id)
    assert record is not None and record.note == "checked"  # a correction leaves it alone
    await broker.publish("en", Change("note", item_id=item.id, note=""))
    record = await broker.item_record("en", item.id)
    assert record is not None and record.note is None
    head = await broker.head("en", 10, 10)
    everything = b"".join([*head.items, *(e.data for e in head.tail)])
    assert b"ministry" not in everything and b"checked" not in everything
    assert b'"note"' not in everything


async def test_a_draft_is_desk_only_until_it_goes_live_once(make_broker: BrokerFactory) -> None:
    broker = await make_broker()
    body = draft("embargoed verdict", status="scheduled")
    live = draft("embargoed verdict")
    at = now_ms() - 5  # already due
    drafted = await broker.publish("en", Change("draft", body, live=live, embargo_ms=at))
    assert drafted.status == "published" and drafted.item is not None and drafted.seq == 0
    item = item_decoder.decode(drafted.item)
    assert item.status == "scheduled"
    assert await latest_ids(broker) == [] and await events_after(broker, 0) == []
    fired = await asyncio.gather(*(broker.fire_due("en") for _ in range(8)))
    results = [f.result for f in fired if f.result is not None]
    assert [r.status for r in results] == ["published"]  # one claim wins
    [entry] = await events_after(broker, 0)
    assert results[0].item is not None
    assert entry.data == item_event("item", f"{results[0].epoch}:1", results[0].item)
    went = item_decoder.decode(results[0].item)
    assert (went.id, went.status, went.version) == (item.id, "usable", 1)
    assert ms_of(went.published_at) >= at and went.published_at == went.updated_at
    again = await broker.fire_due("en")
    assert again.result is None and again.next_ms is None
    assert (await broker.publish("en", Change("golive", item_id=item.id))).status == "illegal"


async def test_a_kill_or_a_new_time_cancels_or_moves_the_entry(
        make_broker: BrokerFactory) -> None:
    broker = await make_broker()
    soon = now_ms() + 60_000
    killed = await broker.publish("en", Change("draft", draft("killed", "scheduled"),
                                               live=draft("killed"), embargo_ms=soon,
                                               expires_ms=soon + 1000))
    moved = await broker.publish("en", Change("draft", draft("moved", "scheduled"),
                                              live=draft("moved"), embargo_ms=soon + 5))
    assert killed.item is not None and moved.item is not None
    assert await broker.next_due("en") == soon
    first = await broker.fire_due("en")
    assert first.result is None and first.next_ms == soon
    kill = await broker.publish("en", Change(
        "retract", changed(killed.item, status="canceled"),
        item_decoder.decode(killed.item).id, 1))
    assert kill.status == "published" and kill.seq == 0  # never public: no event
    assert (await broker.fire_due("en")).next_ms == soon + 5
    assert await broker.next_due("en") == soon + 5
    moved_item = item_decoder.decode(moved.item)
    body = changed(moved.item, text="moved, and due now", version=2)
    update = await broker.publish("en", Change(
        "update", body, moved_item.id, 1, live=draft("moved, and due now", version=2),
        embargo_ms=now_ms() - 1))
    assert update.status == "published" and update.seq == 0
    fired = await broker.fire_due("en")
    assert fired.result is not None and fired.result.item is not None
    assert item_decoder.decode(fired.result.item).text == "moved, and due now"
    assert fired.next_ms is None  # the kill took the expiry too
    assert await broker.next_due("en") is None
    [entry] = await events_after(broker, 0)
    assert item_decoder.decode(fired.result.item).id == moved_item.id
    assert entry.data.startswith(b'{"type":"item"')


async def test_expiry_leaves_the_air_with_status_unchanged(make_broker: BrokerFactory) -> None:
    broker = await make_broker()
    data = await publish(broker, "road closed", expires_ms=now_ms() - 1)
    item = item_decoder.decode(data)
    await broker.publish("en", Change("pin", item_id=item.id))
    fired = await broker.fire_due("en")
    assert fired.result is not None and fired.result.status == "published"
    epoch = fired.result.epoch
    assert [e.data for e in await events_after(broker, 2)] == [
        retract_event(f"{epoch}:3", "en", item.id, "expired"),
        pin_event(f"{epoch}:4", "en", None, None),
    ]
    assert await broker.get_item("en", item.id) == data  # readable, status unchanged
    assert await latest_ids(broker) == []
    for kind in ("hold", "update"):
        refused = await broker.publish("en", Change(kind, changed(data), item.id, 1))
        assert refused.status == "illegal"
    assert (await broker.publish("en", Change("pin", item_id=item.id))).status == "illegal"
    assert (await broker.publish("en", Change("note", item_id=item.id,
                                              note="ok"))).status == "published"
    kill = await broker.publish("en", Change("retract", changed(data, status="canceled"),
                                             item.id, 1))
    assert kill.status == "published"
    [entry] = await events_after(broker, 4)
    assert entry.data == retract_event(f"{epoch}:5", "en", item.id, "retracted")


async def test_the_claim_is_atomic_across_nodes_sharing_redis(
        make_redis_broker: BrokerFactory) -> None:
    """Two engines on one Redis (two nodes), many entries due: every entry fires exactly once."""
    first = await make_redis_broker()
    assert isinstance(first, RedisBroker)
    second = RedisBroker(SHARED_REDIS_URL, prefix=first._prefix)
    try:
        due = now_ms() - 1
        for n in range(30):
            kind = "draft" if n % 2 else "item"
            if kind == "draft":
                await first.publish("en", Change("draft", draft(f"d{n}", "scheduled"),
                                                 live=draft(f"d{n}"), embargo_ms=due))
            else:
                await first.publish("en", Change("item", draft(f"e{n}"), expires_ms=due))

        async def drain(broker: RedisBroker) -> int:
            count = 0
            for _ in range(100):
                fired = await broker.fire_due("en")
                if fired.result is None:
                    return count
                count += fired.result.status == "published"
            raise AssertionError("the schedule did not drain")

        counts = await asyncio.gather(*(drain(b) for b in (first, second, first, second)))
        assert sum(counts) == 30
        kinds = [event_decoder.decode(e.data) for e in await events_after(first, 15)]
        assert len(kinds) == 30  # 15 went live, 15 expired: one event each
        assert sorted(type(k).__name__ for k in kinds) == ["ItemEvent"] * 15 + [
            "RetractEvent"] * 15
    finally:
        await second.aclose()
