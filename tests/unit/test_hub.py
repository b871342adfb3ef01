"""The sans-I/O hub, driven by plain calls: no sockets, no event loop."""

from __future__ import annotations

from typing import Any

import msgspec
from hypothesis import event, given, settings
from hypothesis import strategies as st

from tests.frames import parse_frames
from ticker import codec
from ticker.brokers.base import Entry, Head, LogSlice
from ticker.cursor import Cursor
from ticker.hub import Hub, Outbox, Outcome
from ticker.model import Filter
from ticker.stamp import item_event, retract_event, stamp_new

EPOCH = "abc123"


class Reader:
    """A fake transport connection: collects what the fan-out writes."""

    def __init__(self, hub: Hub, limit: int = 1 << 20) -> None:
        self.hub = hub
        self.outbox = Outbox(self, limit)
        self.data = b""
        self.slow = False
        hub.connect(self.outbox)

    def write(self, data: bytes) -> None:
        self.data += data

    def close_slow(self) -> None:
        self.slow = True

    def messages(self) -> list[dict[str, Any]]:
        return parse_frames(self.data)


def flush(hub: Hub) -> None:
    for outbox in hub.take_ready():
        outbox.owner.write(outbox.take())
    for outbox in hub.take_cut():
        outbox.owner.close_slow()


def make_entry(seq: int, *, category: str | None = None, regions: list[str] | None = None,
               urgency: int = 4) -> Entry:
    draft: dict[str, Any] = {"feed": "en", "text": f"item {seq}", "urgency": urgency,
                             "regions": regions or [], "lang": "en", "author": "a",
                             "version": 1, "status": "usable"}
    if category:
        draft["category"] = category
    _ident, item = stamp_new(msgspec.json.encode(draft), 1_700_000_000_000 + seq, seq)
    return Entry(seq, item_event("item", f"{EPOCH}:{seq}", item))


def new_hub(ring: int = 100, entries: int = 0) -> tuple[Hub, list[Entry]]:
    hub = Hub(ring_size=ring, snapshot_size=3)
    log = [make_entry(s) for s in range(1, entries + 1)]
    hub.load("en", Head(EPOCH, entries, [], log[-ring:]))
    return hub, log


def test_subscribe_without_cursor_gets_snapshot_then_live_events() -> None:
    hub, _log = new_hub()
    reader = Reader(hub)
    assert hub.subscribe(reader.outbox, "en", None, None) is None
    entry = make_entry(1)
    assert hub.dispatch("en", EPOCH, entry) is Outcome.DISPATCHED
    flush(hub)
    kinds = [m["type"] for m in reader.messages()]
    assert kinds == ["subscribed", "snapshot", "item"]
    assert reader.messages()[0]["recovered"] is False
    assert reader.messages()[1]["cursor"] == f"{EPOCH}:0"
    assert reader.messages()[2]["cursor"] == f"{EPOCH}:1"


def test_snapshot_holds_latest_items_newest_last() -> None:
    hub, _ = new_hub()
    for seq in range(1, 6):
        hub.dispatch("en", EPOCH, make_entry(seq))
    reader = Reader(hub)
    hub.subscribe(reader.outbox, "en", None, None)
    flush(hub)
    snapshot = reader.messages()[1]
    assert [i["text"] for i in snapshot["items"]] == ["item 3", "item 4", "item 5"]
    assert snapshot["cursor"] == f"{EPOCH}:5"


def test_resume_within_ring_sends_exactly_the_missed_events() -> None:
    hub, _ = new_hub(entries=10)
    reader = Reader(hub)
    assert hub.subscribe(reader.outbox, "en", None, Cursor(EPOCH, 5)) is None
    flush(hub)
    messages = reader.messages()
    assert messages[0] == {"type": "subscribed", "feed": "en", "recovered": True}
    assert [m["cursor"] for m in messages[1:]] == [f"{EPOCH}:{s}" for s in range(6, 11)]


def test_resume_older_than_ring_reads_the_log_and_merges_live_events() -> None:
    hub, log = new_hub(ring=3, entries=10)
    reader = Reader(hub)
    need = hub.subscribe(reader.outbox, "en", None, Cursor(EPOCH, 2))
    assert need is not None and need.after == 2 and need.limit == 8
    # live events arrive while the log is being read
    for seq in (11, 12):
        entry = make_entry(seq)
        log.append(entry)
        hub.dispatch("en", EPOCH, entry)
    flush(hub)
    assert reader.data == b""  # held back until the recovery completes
    read = LogSlice(EPOCH, 12, log[2:12], True)  # the log read saw events 3..12
    hub.finish_recovery(reader.outbox, need, read)
    flush(hub)
    seqs = [int(m["cursor"].split(":")[1]) for m in reader.messages()[1:]]
    assert seqs == list(range(3, 13))


def test_stale_epoch_or_future_cursor_gets_snapshot() -> None:
    hub, _ = new_hub(entries=4)
    for since in (Cursor("other", 2), Cursor(EPOCH, 99)):
        reader = Reader(hub)
        assert hub.subscribe(reader.outbox, "en", None, since) is None
        flush(hub)
        assert [m["type"] for m in reader.messages()] == ["subscribed", "snapshot"]


def test_incomplete_log_read_falls_back_to_snapshot() -> None:
    hub, _log = new_hub(ring=2, entries=10)
    reader = Reader(hub)
    need = hub.subscribe(reader.outbox, "en", None, Cursor(EPOCH, 1))
    assert need is not None
    hub.finish_recovery(reader.outbox, need, LogSlice(EPOCH, 10, [], False))
    flush(hub)
    assert [m["type"] for m in reader.messages()] == ["subscribed", "snapshot"]
    assert reader.messages()[0]["recovered"] is False


def test_filters_apply_to_new_items_but_never_to_corrections_or_retractions() -> None:
    hub, _ = new_hub()
    reader = Reader(hub)
    flt = Filter(categories=["sports"], max_urgency=3)
    hub.subscribe(reader.outbox, "en", flt, None)
    hub.dispatch("en", EPOCH, make_entry(1, category="politics", urgency=1))
    hub.dispatch("en", EPOCH, make_entry(2, category="sports", urgency=5))
    hub.dispatch("en", EPOCH, make_entry(3, category="sports", urgency=2))
    retract = retract_event(f"{EPOCH}:4", "en", "x", "retracted")
    hub.dispatch("en", EPOCH, Entry(4, retract))
    flush(hub)
    got = [(m["type"], m.get("cursor")) for m in reader.messages()[2:]]
    assert got == [("item", f"{EPOCH}:3"), ("retract", f"{EPOCH}:4")]


def test_regions_filter_matches_any_listed_region() -> None:
    hub, _ = new_hub()
    reader = Reader(hub)
    hub.subscribe(reader.outbox, "en", Filter(regions=["mena", "europe"]), None)
    hub.dispatch("en", EPOCH, make_entry(1, regions=["asia"]))
    hub.dispatch("en", EPOCH, make_entry(2, regions=["asia", "mena"]))
    hub.dispatch("en", EPOCH, make_entry(3))
    flush(hub)
    assert [m["cursor"] for m in reader.messages()[2:]] == [f"{EPOCH}:2"]


def test_gap_and_duplicates_are_reported_not_dispatched() -> None:
    hub, _ = new_hub(entries=3)
    assert hub.dispatch("en", EPOCH, make_entry(5)) is Outcome.GAP
    assert hub.dispatch("en", EPOCH, make_entry(3)) is Outcome.STALE
    assert hub.dispatch("en", "newepoch", make_entry(4)) is Outcome.NEW_EPOCH
    assert hub.dispatch("xx", EPOCH, make_entry(4)) is Outcome.UNKNOWN_FEED
    assert hub.last_seq("en") == (EPOCH, 3)


def test_each_event_is_encoded_once_and_shared_by_every_reader() -> None:
    hub, _ = new_hub()
    readers = [Reader(hub) for _ in range(3)]
    for reader in readers:
        hub.subscribe(reader.outbox, "en", None, None)
    flush(hub)
    hub.dispatch("en", EPOCH, make_entry(1))
    frames = [r.outbox.frames[0] for r in readers]
    assert all(frame is frames[0] for frame in frames)


def test_pending_frames_are_joined_into_one_write() -> None:
    hub, _ = new_hub()
    reader = Reader(hub)
    hub.subscribe(reader.outbox, "en", None, None)
    writes: list[bytes] = []
    reader.write = writes.append  # type: ignore[method-assign,assignment]
    for seq in range(1, 6):
        hub.dispatch("en", EPOCH, make_entry(seq))
    flush(hub)
    assert len(writes) == 1 and len(parse_frames(writes[0])) == 7


def test_slow_reader_is_cut_and_others_keep_receiving() -> None:
    hub, _ = new_hub()
    slow = Reader(hub, limit=2000)
    fast = Reader(hub)
    for reader in (slow, fast):
        hub.subscribe(reader.outbox, "en", None, None)
    flush(hub)
    slow.outbox.paused = True  # its socket buffer is full
    for seq in range(1, 40):
        hub.dispatch("en", EPOCH, make_entry(seq))
        flush(hub)
    assert slow.slow and slow.outbox.cut
    assert [m["cursor"] for m in fast.messages()[2:]] == [f"{EPOCH}:{s}" for s in range(1, 40)]


def test_paused_reader_gets_everything_on_resume() -> None:
    hub, _ = new_hub()
    reader = Reader(hub)
    hub.subscribe(reader.outbox, "en", None, None)
    flush(hub)
    reader.outbox.paused = True
    for seq in range(1, 4):
        hub.dispatch("en", EPOCH, make_entry(seq))
    flush(hub)
    assert len(reader.messages()) == 2
    hub.resume(reader.outbox)
    flush(hub)
    assert len(reader.messages()) == 5


def test_idle_readers_get_a_ping_after_the_idle_ticks() -> None:
    hub, _ = new_hub()
    reader = Reader(hub)
    for _ in range(hub.ping_ticks - 1):
        hub.tick()
    flush(hub)
    assert reader.data == b""
    hub.tick()
    flush(hub)
    assert reader.messages() == [{"type": "ping"}]


def test_unsubscribe_stops_delivery_and_two_feeds_share_a_connection() -> None:
    hub, _ = new_hub()
    hub.load("ar", Head("zz", 0, [], []))
    reader = Reader(hub)
    hub.subscribe(reader.outbox, "en", None, None)
    hub.subscribe(reader.outbox, "ar", None, None)
    assert hub.unsubscribe(reader.outbox, "en")
    assert not hub.unsubscribe(reader.outbox, "en")
    hub.dispatch("en", EPOCH, make_entry(1))
    flush(hub)
    assert [m["feed"] for m in reader.messages()] == ["en", "en", "ar", "ar"]


def test_reset_after_a_lost_log_sends_every_subscriber_a_fresh_snapshot() -> None:
    hub, _ = new_hub(entries=5)
    reader = Reader(hub)
    hub.subscribe(reader.outbox, "en", None, Cursor(EPOCH, 5))
    hub.reset("en", Head("fresh1", 0, [], []))
    flush(hub)
    kinds = [(m["type"], m.get("recovered")) for m in reader.messages()]
    assert kinds == [("subscribed", True), ("subscribed", False), ("snapshot", None)]
    assert reader.messages()[2]["cursor"] == "fresh1:0"


# -- a resume too large for the reader's outbox starts over instead of being cut ------------

FRAME = len(codec.ws_frame(make_entry(10).data))  # one item's WebSocket frame (265 bytes)


def kinds(reader: Reader) -> list[tuple[str, object]]:
    return [(m["type"], m.get("recovered", m.get("cursor"))) for m in reader.messages()]


def test_a_ring_resume_over_half_the_outbox_gets_a_snapshot_instead_of_a_cut() -> None:
    hub, _ = new_hub(entries=30)
    reader = Reader(hub, limit=20 * FRAME)  # half of it holds 10 missed events, not 29
    assert hub.subscribe(reader.outbox, "en", None, Cursor(EPOCH, 1)) is None
    flush(hub)
    assert not reader.slow and not reader.outbox.cut
    assert kinds(reader) == [("subscribed", False), ("snapshot", f"{EPOCH}:30")]
    assert hub.resumes_too_large == 1
    reader.data = b""
    hub.dispatch("en", EPOCH, make_entry(31))  # live events follow the snapshot
    flush(hub)
    assert kinds(reader) == [("item", f"{EPOCH}:31")]


def test_a_ring_resume_within_half_the_outbox_still_recovers() -> None:
    hub, _ = new_hub(entries=30)
    reader = Reader(hub, limit=20 * FRAME)
    hub.subscribe(reader.outbox, "en", None, Cursor(EPOCH, 21))  # 9 missed events
    flush(hub)
    assert kinds(reader) == [("subscribed", True)] + [("item", f"{EPOCH}:{s}")
                                                      for s in range(22, 31)]
    assert hub.resumes_too_large == 0


def test_a_log_recovery_over_half_the_outbox_gets_a_snapshot_instead_of_a_cut() -> None:
    hub, log = new_hub(ring=3, entries=30)
    reader = Reader(hub, limit=20 * FRAME)
    need = hub.subscribe(reader.outbox, "en", None, Cursor(EPOCH, 1))
    assert need is not None
    for seq in (31, 32):  # live events arrive while the log is being read
        log.append(make_entry(seq))
        hub.dispatch("en", EPOCH, log[-1])
    hub.finish_recovery(reader.outbox, need, LogSlice(EPOCH, 32, log[1:32], True))
    flush(hub)
    assert not reader.slow and not reader.outbox.cut
    # the snapshot covers the events held back meanwhile: none of them follows it
    assert kinds(reader) == [("subscribed", False), ("snapshot", f"{EPOCH}:32")]
    reader.data = b""
    hub.dispatch("en", EPOCH, make_entry(33))
    flush(hub)
    assert kinds(reader) == [("item", f"{EPOCH}:33")]


def test_the_held_back_live_events_count_towards_a_log_recovery() -> None:
    hub, log = new_hub(ring=3, entries=10)
    reader = Reader(hub, limit=20 * FRAME)
    need = hub.subscribe(reader.outbox, "en", None, Cursor(EPOCH, 4))  # 6 missed in the log
    assert need is not None
    for seq in range(11, 16):  # and 5 more while it is read: 11 > 10
        log.append(make_entry(seq))
        hub.dispatch("en", EPOCH, log[-1])
    hub.finish_recovery(reader.outbox, need, LogSlice(EPOCH, 10, log[4:10], True))
    flush(hub)
    assert kinds(reader) == [("subscribed", False), ("snapshot", f"{EPOCH}:15")]


def test_the_budget_counts_what_already_waits_in_the_outbox() -> None:
    """Two feeds on one connection, each resuming 7 events: 7 fit in half the outbox, 14 do
    not, so the second one starts over."""
    hub, _ = new_hub(entries=10)
    log_ar = [Entry(s, make_entry(s).data) for s in range(1, 11)]
    hub.load("ar", Head(EPOCH, 10, [], log_ar))
    reader = Reader(hub, limit=20 * FRAME)
    hub.subscribe(reader.outbox, "en", None, Cursor(EPOCH, 3))
    hub.subscribe(reader.outbox, "ar", None, Cursor(EPOCH, 3))
    flush(hub)
    got = kinds(reader)
    assert got[0] == ("subscribed", True) and len(got) == 1 + 7 + 2
    assert got[-2:] == [("subscribed", False), ("snapshot", f"{EPOCH}:10")]


def test_only_the_events_a_filter_passes_count_towards_the_budget() -> None:
    hub, _ = new_hub()
    for seq in range(1, 31):
        hub.dispatch("en", EPOCH, make_entry(seq, category="sports" if seq % 10 == 0 else None))
    reader = Reader(hub, limit=20 * FRAME)
    hub.subscribe(reader.outbox, "en", Filter(categories=["sports"]), Cursor(EPOCH, 1))
    flush(hub)
    assert kinds(reader) == [("subscribed", True)] + [("item", f"{EPOCH}:{s}")
                                                      for s in (10, 20, 30)]


def test_a_retry_with_the_same_cursor_starts_over_again_and_is_never_cut() -> None:
    """29 missed events are more than the whole outbox: sent as they are, the reader would be
    cut, and cut again on every retry with the same cursor."""
    hub, _ = new_hub(entries=30)
    reader = Reader(hub, limit=20 * FRAME)
    hub.subscribe(reader.outbox, "en", None, Cursor(EPOCH, 1))
    hub.subscribe(reader.outbox, "en", None, Cursor(EPOCH, 1))  # a retry with the same cursor
    flush(hub)
    assert not reader.slow
    assert [k for k, _ in kinds(reader)] == ["subscribed", "snapshot"] * 2


# -- property: recovery + live delivery = every event exactly once, in order ----------------

OPS = st.lists(
    st.one_of(
        st.tuples(st.just("publish"), st.integers(1, 4)),
        st.tuples(st.just("disconnect"), st.just(0)),
        st.tuples(st.just("reconnect"), st.just(0)),
        st.tuples(st.just("finish"), st.just(0)),
        st.tuples(st.just("flush"), st.just(0)),
    ),
    max_size=60,
)


@settings(max_examples=300, deadline=None)
@given(ops=OPS, ring=st.integers(1, 8),
       limit=st.one_of(st.just(1 << 20), st.integers(4 * FRAME, 16 * FRAME)))
def test_any_interleaving_delivers_every_event_exactly_once_in_order(
    ops: list[tuple[str, int]], ring: int, limit: int,
) -> None:
    """A reader that disconnects, reconnects with its cursor (or is cut as too slow and does
    the same) gets every event exactly once, in order. The one legal exception is a start-over:
    a resume whose missed events would fill more than half its outbox is answered with
    ``recovered: false`` and a snapshot, which replaces the events it skips. A resume is never
    cut itself, so a reader that retries with the same cursor cannot be cut forever."""
    hub, log = new_hub(ring=ring)
    received: list[int] = []
    skipped: list[int] = []  # replaced by a snapshot after a start-over
    cursor: str | None = None
    reader: Reader | None = None
    started_over: set[Reader] = set()  # readers whose resume was too large
    pending: list[Any] = []

    def seq_of(text: str) -> int:
        return int(text.split(":")[1])

    def drain() -> None:
        nonlocal cursor, reader
        flush(hub)
        if reader is None:
            return
        for message in reader.messages():
            if message["type"] in ("item", "update", "retract"):
                received.append(seq_of(message["cursor"]))
                cursor = message["cursor"]
            elif message["type"] == "snapshot":
                # a first snapshot (the reader was cut before it got one: later than 0) or a
                # start-over
                assert cursor is None or reader in started_over, \
                    "a resume that fits must never start over"
                skipped.extend(range(seq_of(cursor) + 1 if cursor else 1,
                                     seq_of(message["cursor"]) + 1))
                cursor = message["cursor"]
        reader.data = b""
        if reader.slow:  # cut (1013) by live events piling up: it resumes from its cursor
            event("cut by live events")
            hub.disconnect(reader.outbox)
            reader = None

    def answered(who: Reader, since: Cursor | None) -> None:
        """Right after the hub answered ``who``'s subscribe: not cut, and recovered exactly
        when there was a cursor and the missed events fit half the outbox."""
        assert not who.outbox.cut, "a resume must never get the reader cut"
        missed = sum(len(codec.ws_frame(e.data)) for e in log
                     if since is not None and e.seq > since.seq)
        too_large = since is not None and missed > limit // 2
        first = parse_frames(who.outbox.frames[0])[0]
        assert first["recovered"] is (since is not None and not too_large)
        if too_large:
            started_over.add(who)
            event("a resume too large: started over")

    def connect() -> None:
        nonlocal reader
        reader = Reader(hub, limit)
        since = Cursor.parse(cursor) if cursor else None
        need = hub.subscribe(reader.outbox, "en", None, since)
        if need is not None:
            pending.append((reader, need))
        else:
            answered(reader, since)

    def finish_all() -> None:
        while pending:
            who, need = pending.pop(0)
            current = who.outbox.subs.get("en") is need.sub
            entries = [e for e in log if e.seq > need.after]
            hub.finish_recovery(who.outbox, need, LogSlice(EPOCH, len(log), entries, True))
            if current:
                answered(who, Cursor(EPOCH, need.after))

    connect()
    for op, count in ops:
        if op == "publish":
            for _ in range(count):
                entry = make_entry(len(log) + 1)
                log.append(entry)
                hub.dispatch("en", EPOCH, entry)
        elif op == "disconnect" and reader is not None:
            drain()
            if reader is not None:
                hub.disconnect(reader.outbox)
                reader = None
        elif op == "reconnect" and reader is None:
            connect()
        elif op == "finish":
            finish_all()
        else:
            drain()
    drain()
    if reader is None:
        connect()
    finish_all()
    drain()
    assert reader is not None and not reader.slow
    assert received == [s for s in range(1, len(log) + 1) if s not in skipped]
    if limit == 1 << 20:  # nothing is ever too large: nothing is skipped
        assert not skipped and not started_over


def test_an_old_sequence_with_new_content_means_the_log_was_rewound() -> None:
    hub, log = new_hub(entries=5)
    assert hub.dispatch("en", EPOCH, log[2]) is Outcome.STALE  # a plain duplicate
    rewritten = Entry(3, log[2].data.replace(b"item 3", b"other 3"))
    assert hub.dispatch("en", EPOCH, rewritten) is Outcome.REWOUND


# -- corrections and retractions go to whoever may have shown the item ----------------------

def make_update(seq: int, of: Entry, **changes: Any) -> Entry:
    """A correction of the item in ``of`` (version + 1, with ``changes``), at ``seq``."""
    event = msgspec.json.decode(of.data)
    item = {**event["item"], **changes, "version": event["item"]["version"] + 1}
    return Entry(seq, item_event("update", f"{EPOCH}:{seq}", msgspec.json.encode(item)))


def make_retract(seq: int, of: Entry) -> Entry:
    item_id = msgspec.json.decode(of.data)["item"]["id"]
    return Entry(seq, retract_event(f"{EPOCH}:{seq}", "en", item_id, "retracted"))


def test_corrections_reach_only_readers_whose_filter_passed_a_version_of_the_item() -> None:
    hub, _ = new_hub()
    sports, politics, everyone = Reader(hub), Reader(hub), Reader(hub)
    hub.subscribe(sports.outbox, "en", Filter(categories=["sports"]), None)
    hub.subscribe(politics.outbox, "en", Filter(categories=["politics"]), None)
    hub.subscribe(everyone.outbox, "en", None, None)
    flush(hub)
    for reader in (sports, politics, everyone):
        reader.data = b""
    first = make_entry(1, category="sports")
    hub.dispatch("en", EPOCH, first)
    hub.dispatch("en", EPOCH, make_update(2, first, text="sports, corrected"))
    # now politics: sports readers showed it, politics readers see it from now on
    hub.dispatch("en", EPOCH, make_update(3, first, category="politics"))
    hub.dispatch("en", EPOCH, make_update(4, first, text="politics, corrected"))
    hub.dispatch("en", EPOCH, make_retract(5, first))
    flush(hub)

    def seqs(reader: Reader) -> list[int]:
        return [int(m["cursor"].split(":")[1]) for m in reader.messages()]

    assert seqs(everyone) == [1, 2, 3, 4, 5]
    # the sports reader showed versions 1 and 2, so it hears of every later change
    assert seqs(sports) == [1, 2, 3, 4, 5]
    # the politics reader never had it before version 3 made it a politics item
    assert seqs(politics) == [3, 4, 5]


def test_a_correction_no_reader_could_have_shown_goes_nowhere_but_unknown_items_go_everywhere(
) -> None:
    hub, log = new_hub(entries=3)  # items 1..3 were loaded: this node saw their first versions
    sports = Reader(hub)
    hub.subscribe(sports.outbox, "en", Filter(categories=["sports"]), None)
    flush(hub)
    sports.data = b""
    politics = make_entry(4, category="politics")
    hub.dispatch("en", EPOCH, politics)
    hub.dispatch("en", EPOCH, make_update(5, politics, text="still politics"))
    hub.dispatch("en", EPOCH, make_retract(6, politics))
    hub.dispatch("en", EPOCH, make_retract(7, log[0]))  # no category: never a sports item
    unknown = make_entry(99)  # published before anything this node holds
    hub.dispatch("en", EPOCH, make_update(8, unknown, text="an old item, corrected"))
    hub.dispatch("en", EPOCH, make_retract(9, unknown))
    flush(hub)
    assert [m["cursor"] for m in sports.messages()] == [f"{EPOCH}:8", f"{EPOCH}:9"]


# -- property: a read for an older subscription never completes a newer one ------------------

RESUBSCRIBE_OPS = st.lists(
    st.one_of(
        st.tuples(st.just("publish"), st.integers(1, 4)),
        st.tuples(st.just("resubscribe"), st.just(0)),
        st.tuples(st.just("finish_oldest"), st.just(0)),
        st.tuples(st.just("finish_newest"), st.just(0)),
        st.tuples(st.just("flush"), st.just(0)),
    ),
    max_size=40,
)


@settings(max_examples=300, deadline=None)
@given(ops=RESUBSCRIBE_OPS, ring=st.integers(1, 4), start=st.integers(0, 6))
def test_subscribing_again_while_a_log_read_is_pending_still_delivers_exactly_once(
    ops: list[tuple[str, int]], ring: int, start: int,
) -> None:
    """The reader subscribes with a cursor older than the ring, so every subscription waits for
    a log read; it subscribes again on the same connection (with the cursor it has by then)
    while reads are pending, and the reads complete in any order, each with the log as it was
    when it was made. Whatever happens, every event arrives exactly once, in order, and a
    resumable cursor never gets a snapshot."""
    hub, log = new_hub(ring=ring, entries=12)
    reader = Reader(hub)
    received: list[int] = list(range(1, start + 1))  # what it had before this connection
    cursor = f"{EPOCH}:{start}"
    reads: list[tuple[Any, LogSlice]] = []  # (need, the log read as it was when asked)

    def subscribe() -> None:
        need = hub.subscribe(reader.outbox, "en", None, Cursor.parse(cursor))
        if need is not None:
            entries = [e for e in log if need.after < e.seq <= need.after + need.limit]
            reads.append((need, LogSlice(EPOCH, len(log), entries, True)))

    def drain() -> None:
        nonlocal cursor
        flush(hub)
        for message in reader.messages():
            if message["type"] in ("item", "update", "retract"):
                received.append(int(message["cursor"].split(":")[1]))
                cursor = message["cursor"]
            assert message["type"] != "snapshot", "a resumable cursor must never get a snapshot"
        reader.data = b""

    subscribe()
    for op, count in ops:
        if op == "publish":
            for _ in range(count):
                entry = make_entry(len(log) + 1)
                log.append(entry)
                hub.dispatch("en", EPOCH, entry)
        elif op == "resubscribe":
            drain()
            subscribe()
        elif op in ("finish_oldest", "finish_newest") and reads:
            need, read = reads.pop(0 if op == "finish_oldest" else -1)
            hub.finish_recovery(reader.outbox, need, read)
        else:
            drain()
    while reads:
        need, read = reads.pop(0)
        hub.finish_recovery(reader.outbox, need, read)
    drain()
    assert received == list(range(1, len(log) + 1))
