"""A Hypothesis state machine over an item's transitions, against the contract's rules.

The server side is real: the newsroom (who may do what, the change built from the stored item),
the embedded broker (the atomic step and the transition table) and the hub (what readers see),
driven on one event loop. The model is the contract's table: which transitions are legal in
which state, what is on the air (in order of publication), what is pinned. After every step:

- an illegal transition was refused with a 409 and changed nothing;
- the snapshot a new reader gets, the latest list, the pinned item, and the view of a reader
  that has been connected from the start and applied every event like a widget does, all equal
  the model;
- a public read by id of every item is what the contract says (item, tombstone, never a note).

``expire`` is the step the scheduler's claim makes when an item's time has come. The machine
runs on the embedded broker (live delivery, as a node gets it) and on Redis (every step's events
read from the log after it, as a node repairing a gap gets them).
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from tests.frames import parse_frames
from tests.integration.broker_fixtures import SHARED_REDIS_URL
from tests.servers import delete_prefix
from ticker import codec
from ticker.auth import Claims
from ticker.brokers.base import Change
from ticker.brokers.memory import MemoryBroker
from ticker.brokers.redis import RedisBroker
from ticker.config import default_feeds
from ticker.errors import TickerError
from ticker.hub import Hub, Outbox, Outcome
from ticker.hub.filters import Matcher
from ticker.model import PatchBody, PublishBody
from ticker.newsroom import Newsroom
from ticker.ratelimit import MemoryRateLimiter
from ticker.views import public_item

FEED = default_feeds()[0]
EDITOR = Claims(sub="ed", role="editor", feeds=["en"], exp=2**40)
SNAPSHOT = 20


class LiveReader:
    """A reader subscribed from the start that keeps its view like the widget: remove on any
    retract, add (in place by time) on item, replace on update, follow pin events."""

    def __init__(self, hub: Hub) -> None:
        self.outbox = Outbox(self, 1 << 24)
        self.data = b""
        self.items: dict[str, dict[str, Any]] = {}
        self.pinned: str | None = None
        hub.connect(self.outbox)
        hub.subscribe(self.outbox, "en", None, None)

    def write(self, data: bytes) -> None:
        self.data += data

    def close_slow(self) -> None:
        raise AssertionError("the live reader was cut")

    def apply(self) -> None:
        frames, self.data = parse_frames(self.data), b""
        for frame in frames:
            kind = frame["type"]
            if kind == "snapshot":
                self.items = {i["id"]: i for i in frame["items"]}
                self.pinned = frame["pinned"] and frame["pinned"]["id"]
            elif kind == "item":
                self.items[frame["item"]["id"]] = frame["item"]
            elif kind == "update" and frame["item"]["id"] in self.items:
                self.items[frame["item"]["id"]] = frame["item"]
            elif kind == "retract":
                self.items.pop(frame["id"], None)
            elif kind == "pin":
                self.pinned = frame["id"]

    def on_air(self) -> list[str]:
        return [i["id"] for i in sorted(self.items.values(),
                                        key=lambda i: (i["published_at"], i["id"]))]


class Model(msgspec.Struct):
    status: str
    version: int
    text: str
    published_at: str
    expired: bool = False


class Lifecycle(RuleBasedStateMachine):
    engine = "memory"

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.prefix = f"test:{uuid.uuid4().hex}:"
        self.broker: MemoryBroker | RedisBroker
        if self.engine == "memory":
            self.broker = MemoryBroker()
            self.run(self.broker.start(["en"], self._on_event, lambda: None))
        else:
            self.broker = RedisBroker(SHARED_REDIS_URL, prefix=self.prefix)
        self.newsroom = Newsroom(self.broker, MemoryRateLimiter(10**9, 60))
        self.hub = Hub(snapshot_size=SNAPSHOT, latest_max=100)
        self.hub.load("en", self.run(self.broker.head("en", 100, 100)))
        self.reader = LiveReader(self.hub)
        self.model: dict[str, Model] = {}
        self.pinned: str | None = None
        self.count = 0

    def teardown(self) -> None:
        self.run(self.broker.aclose())
        self.loop.close()
        if self.engine == "redis":
            delete_prefix(SHARED_REDIS_URL, self.prefix)

    def run(self, coroutine: Any) -> Any:
        return self.loop.run_until_complete(coroutine)

    def _on_event(self, feed: str, epoch: str, entry: Any) -> None:
        assert self.hub.dispatch(feed, epoch, entry) is Outcome.DISPATCHED

    def settle(self) -> None:
        """Let the broker's deliveries reach the hub, then the reader."""
        for _ in range(3):
            self.run(asyncio.sleep(0))
        if self.engine == "redis":
            epoch, seq = self.hub.last_seq("en")
            for entry in self.run(self.broker.read("en", epoch, seq, 1000)).entries:
                self._on_event("en", epoch, entry)
        for outbox in self.hub.take_ready():
            outbox.owner.write(outbox.take())
        self.reader.apply()

    def attempt(self, legal: bool, action: Any) -> Any:
        """Run ``action``; a legal one must succeed, an illegal one must be a 409."""
        try:
            result = self.run(action)
        except TickerError as exc:
            assert not legal, f"a legal transition was refused: {exc}"
            assert exc.status == 409, exc
            return None
        assert legal, "an illegal transition was accepted"
        return result

    def pick(self, index: int) -> str:
        ids = sorted(self.model)
        return ids[index % len(ids)]

    # -- the transitions ----------------------------------------------------------------------

    @rule(note=st.sampled_from([None, "check with the ministry"]))
    def publish(self, note: str | None) -> None:
        self.count += 1
        text = f"line {self.count}"
        outcome = self.run(self.newsroom.publish(EDITOR, FEED, PublishBody(text=text,
                                                                           note=note)))
        item = outcome.item
        self.model[item.id] = Model("usable", 1, text, item.published_at)

    @precondition(lambda self: self.model)
    @rule(index=st.integers(0, 10**6))
    def correct(self, index: int) -> None:
        ident = self.pick(index)
        state = self.model[ident]
        legal = state.status in ("usable", "withheld") and not state.expired
        text = f"{state.text} (corrected)"
        if self.attempt(legal, self.newsroom.correct(EDITOR, FEED, ident,
                                                     PatchBody(text=text))):
            state.version, state.text = state.version + 1, text

    @precondition(lambda self: self.model)
    @rule(index=st.integers(0, 10**6))
    def hold(self, index: int) -> None:
        ident = self.pick(index)
        state = self.model[ident]
        if self.attempt(state.status == "usable" and not state.expired,
                        self.newsroom.hold(EDITOR, FEED, ident)):
            state.status = "withheld"
            self._unpin(ident)

    @precondition(lambda self: self.model)
    @rule(index=st.integers(0, 10**6))
    def release(self, index: int) -> None:
        ident = self.pick(index)
        state = self.model[ident]
        if self.attempt(state.status == "withheld" and not state.expired,
                        self.newsroom.release(EDITOR, FEED, ident)):
            state.status = "usable"

    @precondition(lambda self: self.model)
    @rule(index=st.integers(0, 10**6))
    def kill(self, index: int) -> None:
        ident = self.pick(index)
        state = self.model[ident]
        if self.attempt(state.status != "canceled", self.newsroom.retract(EDITOR, FEED, ident)):
            state.status = "canceled"
            self._unpin(ident)

    @precondition(lambda self: self.model)
    @rule(index=st.integers(0, 10**6))
    def pin(self, index: int) -> None:
        ident = self.pick(index)
        state = self.model[ident]
        if self.attempt(state.status == "usable" and not state.expired,
                        self.newsroom.pin(EDITOR, FEED, ident)):
            self.pinned = ident

    @rule()
    def unpin(self) -> None:
        self.run(self.newsroom.unpin(EDITOR, FEED))
        self.pinned = None

    @precondition(lambda self: self.model)
    @rule(index=st.integers(0, 10**6))
    def expire(self, index: int) -> None:
        ident = self.pick(index)
        state = self.model[ident]
        legal = state.status in ("usable", "withheld") and not state.expired
        result = self.run(self.broker.publish("en", Change("expire", item_id=ident)))
        assert (result.status == "published") == legal, (result.status, state)
        if legal:
            state.expired = True
            self._unpin(ident)

    def _unpin(self, ident: str) -> None:
        if self.pinned == ident:
            self.pinned = None

    # -- what every reader sees -----------------------------------------------------------

    def on_air(self) -> list[str]:
        live = [(s.published_at, i) for i, s in self.model.items()
                if s.status == "usable" and not s.expired]
        return [i for _, i in sorted(live)]

    @invariant()
    def readers_see_the_server_state(self) -> None:
        self.settle()
        expected = self.on_air()
        state = self.hub.feeds["en"]
        snapshot = msgspec.json.decode(state.snapshot_json(SNAPSHOT, Matcher(None)))
        assert [i["id"] for i in snapshot["items"]] == expected[-SNAPSHOT:]
        assert (snapshot["pinned"] or {}).get("id") == self.pinned
        for item in snapshot["items"]:
            model = self.model[item["id"]]
            assert (item["text"], item["version"]) == (model.text, model.version)
        head = self.run(self.broker.head("en", 100, 0))
        assert [codec.item_decoder.decode(i).id for i in head.items] == expected
        assert (head.pinned and codec.item_decoder.decode(head.pinned).id) == (
            self.pinned or None)
        assert self.reader.on_air() == expected and self.reader.pinned == self.pinned
        for ident, model in self.model.items():
            record = self.run(self.broker.item_record("en", ident))
            seen = public_item(record.data, record.pinned)
            assert seen is not None and b'"note"' not in seen
            public = msgspec.json.decode(seen)
            assert public["status"] == model.status and public["version"] == model.version
            assert ("text" in public) == (model.status == "usable")


Lifecycle.TestCase.settings = settings(max_examples=100, stateful_step_count=30, deadline=None,
                                       suppress_health_check=[HealthCheck.too_slow])
TestLifecycle = Lifecycle.TestCase


class LifecycleOnRedis(Lifecycle):
    engine = "redis"


LifecycleOnRedis.TestCase.settings = settings(max_examples=25, stateful_step_count=25,
                                              deadline=None,
                                              suppress_health_check=[HealthCheck.too_slow])
TestLifecycleOnRedis = pytest.mark.redis(LifecycleOnRedis.TestCase)


def test_the_machine_is_not_vacuous() -> None:
    """The rules can reach every status: one hand-written run through all of them."""
    machine = Lifecycle()
    try:
        machine.publish(note=None)
        machine.publish(note="n")
        machine.pin(index=0)
        machine.hold(index=0)
        machine.release(index=0)
        machine.expire(index=1)
        machine.hold(index=1)  # expired: refused
        machine.kill(index=1)
        machine.kill(index=0)
        machine.readers_see_the_server_state()
        assert {m.status for m in machine.model.values()} == {"canceled"}
        assert machine.pinned is None
    finally:
        machine.teardown()
