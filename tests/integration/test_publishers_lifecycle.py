"""publishers/ and the editorial lifecycle: hold, release, pin, unpin, embargo, expiry and notes
through the Python client and ``ticker-publish``, against real servers on both engines.

Every wait is bounded (``WAIT``); nothing asserts how long anything took.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.integration.publishers_helpers import LossyProxy
from tests.integration.test_publishers import (
    FAST,
    PUBLISH,
    WAIT,
    cli,
    log_of,
    next_event,
    next_events,
    readline_within,
)
from tests.servers import Server, token
from ticker_publishers.client import AsyncTicker, Ticker, rfc3339
from ticker_publishers.errors import Conflict, Forbidden, InvalidInput, NotFound
from ticker_publishers.wire import (
    Item,
    ItemEvent,
    PinEvent,
    RetractEvent,
    Snapshot,
    Subscribed,
    Tombstone,
)


def soon(seconds: float) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)


def test_rfc3339_sends_utc_with_milliseconds() -> None:
    when = datetime(2026, 12, 1, 11, 0, 0, 250000, tzinfo=UTC)
    assert rfc3339(when) == "2026-12-01T11:00:00.250Z"
    plus2 = datetime.fromisoformat("2026-12-01T13:00:00.250+02:00")
    assert rfc3339(plus2) == "2026-12-01T11:00:00.250Z"
    assert rfc3339("2026-12-01T11:00:00Z") == "2026-12-01T11:00:00Z"  # strings go as they are


async def test_events_yield_holds_releases_and_pins_typed(server: Server) -> None:
    async with AsyncTicker(server.url, token()) as desk, AsyncTicker(server.url) as reader:
        first = await desk.publish("en", "Explosion heard near the port")
        second = await desk.publish("en", "Ministry confirms two injured", note="called twice")
        assert second.note == "called twice"  # the desk's token reads its note back
        async with contextlib.aclosing(reader.events("en")) as stream:
            assert await next_event(stream) == Subscribed(feed="en", recovered=False)
            snapshot = await next_event(stream)
            assert isinstance(snapshot, Snapshot) and snapshot.pinned is None
            assert all(i.note is None for i in snapshot.items)  # notes never leak

            await desk.pin("en", second.id)
            held = await desk.hold("en", first.id)
            assert held.status == "withheld" and held.version == 1
            back = await desk.release("en", first.id)
            assert back.status == "usable"
            await desk.unpin("en")
            pin, gone, again, unpin = await next_events(stream, 4)

    assert isinstance(pin, PinEvent) and pin.id == second.id
    assert isinstance(gone, RetractEvent) and (gone.id, gone.reason) == (first.id, "withheld")
    assert isinstance(again, ItemEvent) and again.item.id == first.id
    assert again.item.status == "usable" and again.item.note is None
    assert isinstance(unpin, PinEvent) and unpin.id is None


def test_client_schedules_expires_and_reads_by_id(server: Server) -> None:
    with Ticker(server.url, token()) as desk, Ticker(server.url) as anonymous:
        later = desk.publish("en", "Verdict: the court finds the minister guilty",
                             embargoed_until=soon(3600), note="embargo agreed with the court")
        assert later.status == "scheduled" and later.embargoed_until is not None
        waiting = desk.item("en", later.id)  # a token for the feed reads it, note included
        assert isinstance(waiting, Item) and waiting.note == "embargo agreed with the court"
        with pytest.raises(NotFound):
            anonymous.item("en", later.id)  # a desk-only item does not exist for the public
        moved = desk.correct("en", later.id, embargoed_until=soon(7200), note=None)
        assert moved.status == "scheduled" and moved.note is None
        assert moved.embargoed_until != later.embargoed_until
        killed = desk.retract("en", later.id)  # a kill of a scheduled item: it never goes live
        assert killed.status == "canceled"

        short = desk.publish("en", "Road closed for the convoy", expires=soon(3600))
        assert short.expires is not None
        changed = desk.correct("en", short.id, expires=None)
        assert changed.expires is None
        desk.hold("en", short.id)
        tomb = anonymous.item("en", short.id)
        assert isinstance(tomb, Tombstone) and tomb.status == "withheld"
        whole = desk.item("en", short.id)
        assert isinstance(whole, Item) and whole.text == "Road closed for the convoy"
        with pytest.raises(Conflict):
            desk.hold("en", short.id)  # already held: the status does not allow it
        with pytest.raises(Conflict):
            desk.pin("en", short.id)  # only a usable item can be pinned
        with pytest.raises(InvalidInput) as bad:
            desk.publish("en", "x", expires="tomorrow")
        assert [e.path for e in bad.value.errors] == ["$.expires"]
    types = [e["type"] for e in log_of(server.url)]
    assert types == ["item", "update", "retract"]  # the scheduled item never went on the air


def test_only_editors_hold_and_pin(server: Server) -> None:
    with Ticker(server.url, token()) as desk, \
            Ticker(server.url, token("amal", "correspondent", "en"), retry=FAST) as amal:
        own = amal.publish("en", "Filed from the field")
        with pytest.raises(Forbidden):
            amal.hold("en", own.id)
        with pytest.raises(Forbidden):
            amal.pin("en", own.id)
        assert desk.hold("en", own.id).status == "withheld"


def test_lost_answers_to_hold_and_release_apply_once(server: Server) -> None:
    with LossyProxy(server.port) as proxy, Ticker(proxy.url, token(), retry=FAST) as desk:
        item = desk.publish("en", "Doubtful casualty figure")
        proxy.lose_answers(1)
        assert desk.hold("en", item.id).status == "withheld"  # not a 409 for its own hold
        proxy.lose_answers(1)
        assert desk.release("en", item.id).status == "usable"
        proxy.lose_answers(1)
        desk.pin("en", item.id)  # idempotent: simply sent again
        assert proxy.lost == 3
    events = log_of(server.url)
    assert [(e["type"], e.get("reason")) for e in events] == [
        ("item", None), ("retract", "withheld"), ("item", None), ("pin", None)]


async def test_an_embargoed_item_goes_live_once_as_an_item_event(server: Server) -> None:
    async with AsyncTicker(server.url, token()) as desk, AsyncTicker(server.url) as reader:
        async with contextlib.aclosing(reader.events("en")) as stream:
            await next_events(stream, 2)  # subscribed, snapshot
            scheduled = await desk.publish("en", "Result: the incumbent wins",
                                           embargoed_until=soon(2), expires=soon(4))
            assert scheduled.status == "scheduled"
            live = await next_event(stream)
            gone = await next_event(stream)
    assert isinstance(live, ItemEvent) and live.item.id == scheduled.id
    assert live.item.status == "usable"
    assert isinstance(gone, RetractEvent) and (gone.id, gone.reason) == (scheduled.id, "expired")


# -- ticker-publish -------------------------------------------------------------------------------


def run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    done = cli(*args, env=env)
    assert done.returncode == 0, done.stderr
    return done


@pytest.mark.parametrize("broker", ["memory"])
def test_cli_hold_release_pin_unpin_embargo_expires_note(server: Server) -> None:
    env = {**os.environ, "TICKER_URL": server.url, "TICKER_TOKEN": token(), "TICKER_FEED": "en"}
    item_id = run("Flash: blast at the port", "--note", "one source only", env=env).stdout.strip()
    assert run("hold", item_id, env=env).stdout == f"{item_id} withheld\n"
    assert run("release", item_id, env=env).stdout == f"{item_id} usable\n"
    assert run("pin", item_id, env=env).stdout == f"{item_id} pinned\n"
    assert json.loads(run("unpin", "--json", env=env).stdout) == {"feed": "en", "pinned": None}
    again = cli("release", item_id, env=env)
    assert again.returncode == 3 and "409" in again.stderr

    later = run("Polls close: exit poll follows", "--embargo", "+1h", "--expires", "+2h",
                "--note", "embargo 20:00", env=env)
    scheduled_id = later.stdout.strip()
    assert "scheduled: goes live at" in later.stderr
    with Ticker(server.url, token()) as desk:
        scheduled = desk.item("en", scheduled_id)
    assert isinstance(scheduled, Item) and scheduled.status == "scheduled"
    assert scheduled.note == "embargo 20:00" and scheduled.expires is not None
    assert datetime.fromisoformat(scheduled.expires) > soon(1.5 * 3600)
    past_expiry = cli("correct", scheduled_id, "--embargo", "+3h", env=env)
    assert past_expiry.returncode == 3 and "$.expires (--expires)" in past_expiry.stderr
    fixed = json.loads(run("correct", scheduled_id, "--embargo", "+90m", "--note", "", "--json",
                           env=env).stdout)
    assert fixed["status"] == "scheduled" and "note" not in fixed
    assert datetime.fromisoformat(fixed["embargoed_until"]) > soon(80 * 60)

    bad = cli("x", "--embargo", "next tuesday", env=env)
    assert bad.returncode == 2 and "--embargo" in bad.stderr
    naive = cli("x", "--expires", "2026-12-01T09:00:00", env=env)
    assert naive.returncode == 2 and "offset" in naive.stderr
    refused = cli("x", "--note", "n" * 501, env=env)
    assert refused.returncode == 3 and "$.note (--note)" in refused.stderr


@pytest.mark.parametrize("broker", ["memory"])
def test_cli_tail_shows_holds_and_pins(server: Server) -> None:
    env = {**os.environ, "TICKER_URL": server.url, "TICKER_TOKEN": token()}
    with Ticker(server.url, token()) as desk:
        item = desk.publish("en", "Already there")
        tail = subprocess.Popen([PUBLISH, "tail", "en", "--count", "4"], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            assert tail.stderr is not None
            assert "snapshot of 1 items" in readline_within(tail.stderr, WAIT)
            desk.pin("en", item.id)
            desk.hold("en", item.id)  # also unpins
            desk.release("en", item.id)
            out, _ = tail.communicate(timeout=WAIT)
        finally:
            if tail.poll() is None:
                tail.kill()
                tail.wait(timeout=5)
    assert tail.returncode == 0
    assert out.splitlines() == [
        f"pin     {item.id}",
        f"retract {item.id} withheld",
        "pin     -",
        f"item    {item.id} v1 u4 Already there",
    ]


def _notes(value: Any) -> list[str]:
    """Every ``note`` anywhere in a JSON value."""
    if isinstance(value, dict):
        return [v for k, v in value.items() if k == "note"] + [
            n for v in value.values() for n in _notes(v)]
    if isinstance(value, list):
        return [n for v in value for n in _notes(v)]
    return []


@pytest.mark.parametrize("broker", ["memory"])
def test_cli_tail_json_never_shows_a_note(server: Server) -> None:
    env = {**os.environ, "TICKER_URL": server.url, "TICKER_TOKEN": token()}
    with Ticker(server.url, token()) as desk:
        first = desk.publish("en", "With a private note", note="the mayor's aide")
        tail = subprocess.Popen([PUBLISH, "tail", "en", "--json", "--count", "2"], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            assert tail.stdout is not None
            opening = [readline_within(tail.stdout, WAIT) for _ in range(2)]
            assert '"snapshot"' in opening[1]  # the stream is open: publish now
            second = desk.publish("en", "Another", note="unconfirmed")
            desk.correct("en", first.id, text="With a private note, corrected")
            out, _ = tail.communicate(timeout=WAIT)
        finally:
            if tail.poll() is None:
                tail.kill()
                tail.wait(timeout=5)
    events = [json.loads(line) for line in [*opening, *out.splitlines()]]
    assert [e["type"] for e in events] == ["subscribed", "snapshot", "item", "update"]
    assert events[-2]["item"]["id"] == second.id
    assert _notes(events) == []
