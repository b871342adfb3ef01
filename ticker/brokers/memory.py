"""The embedded engine: one process, no Redis. Same semantics as the Redis engine.

The log lives in memory, so a restart starts a new epoch: clients holding old cursors are told
``recovered: false`` and get a fresh snapshot, never a silent gap. (Everything else is lost with
it too, schedules included: the embedded engine is for a single process that keeps running.)

``publish`` and ``fire_due`` are the atomic step: they never await between reading the state
and writing it, so on one event loop nothing can interleave (``publish.lua`` on Redis).
"""

from __future__ import annotations

import asyncio
import bisect
import heapq
import secrets
from collections import OrderedDict, deque
from collections.abc import Callable

import msgspec

from ticker import history
from ticker.brokers.base import (
    Change,
    Entry,
    Fired,
    Head,
    Idempotency,
    ItemRecord,
    Kind,
    LogSlice,
    OnEvent,
    OnResync,
    PublishResult,
)
from ticker.brokers.transitions import VERSIONED, refusal
from ticker.stamp import (
    item_event,
    item_id,
    now_ms,
    pin_event,
    pinned_json,
    retract_event,
    rfc3339,
    stamp_live,
    stamp_updated,
)


class _Version(msgspec.Struct):
    version: int
    status: str


_item_head = msgspec.json.Decoder(_Version)
TRIM_BATCH = 8  # items past the retention window looked at per publish (as publish.lua)
GOLIVE, EXPIRE = "golive:", "expire:"  # schedule entries: action prefix + item id


class _FeedLog:
    def __init__(self, history: int) -> None:
        self.epoch = secrets.token_hex(6)  # a new log: cursors from other epochs are stale
        self.seq = 0  # last sequence assigned
        self.ms = 0  # last timestamp used; never goes backwards
        self.log: deque[Entry] = deque(maxlen=history)  # retained events
        self.items: dict[str, bytes] = {}  # every item by id, retracted ones too
        self.latest: list[tuple[int, str]] = []  # on the air: (published ms, id), sorted
        self.place: dict[str, int] = {}  # id → its published ms, for the items in ``latest``
        self.idem: dict[tuple[str, str], tuple[str, str, float]] = {}  # → fingerprint, id, expiry
        self.notes: dict[str, str] = {}  # private notes by item id
        self.drafts: dict[str, bytes] = {}  # desk items: the draft each goes live as
        self.due: dict[str, int] = {}  # schedule: entry → due ms
        self.heap: list[tuple[int, str]] = []  # the same entries by time (stale ones skipped)
        self.expired: set[str] = set()  # ids of expired items
        self.pinned: str | None = None  # the pinned item's id
        self.history: dict[str, bytes] = {}  # item id → its history (a JSON array)
        self.touched: OrderedDict[str, int] = OrderedDict()  # item → seq of its last event


class _Step:
    """One atomic change in progress: the events it appends, in order."""

    def __init__(self, log: _FeedLog, feed: str, ms: int) -> None:
        self.log = log
        self.feed = feed
        self.ms = ms
        self.entries: list[Entry] = []

    def append(self, build: str, *args: object) -> None:
        log = self.log
        log.seq += 1
        cursor = f"{log.epoch}:{log.seq}"
        if build == "retract":
            data = retract_event(cursor, self.feed, str(args[0]), str(args[1]))
        elif build == "pin":
            data = pin_event(cursor, self.feed, args[0], args[1])  # type: ignore[arg-type]
        else:
            data = item_event(build, cursor, args[0])  # type: ignore[arg-type]
        entry = Entry(log.seq, data)
        log.log.append(entry)
        self.entries.append(entry)


class MemoryBroker:
    """In-process engine: a bounded log per feed, delivered to this process's hub."""

    def __init__(self, history: int = 1000, latest_max: int = 1000,
                 item_retention: int = 0) -> None:
        self._history = history
        self._latest_max = latest_max
        self._item_retention = item_retention  # events an item outlives (0: forever)
        self._feeds: dict[str, _FeedLog] = {}
        self._on_event: OnEvent | None = None
        self._idem_checked = 1024  # idempotency records kept at the last purge (at least 1024)
        self._loop: asyncio.AbstractEventLoop | None = None
        self.on_desk: Callable[[str, bytes], None] | None = None  # the desk's notices

    def _feed(self, feed: str) -> _FeedLog:
        log = self._feeds.get(feed)
        if log is None:
            log = self._feeds[feed] = _FeedLog(self._history)
        return log

    async def start(self, feeds: list[str], on_event: OnEvent, on_resync: OnResync) -> None:
        self._loop = asyncio.get_running_loop()
        self._on_event = on_event
        for feed in feeds:
            self._feed(feed)

    async def aclose(self) -> None:
        self._on_event = None

    # -- the atomic step -------------------------------------------------------------------

    async def publish(self, feed: str, change: Change,
                      idempotency: Idempotency | None = None) -> PublishResult:
        log = self._feed(feed)
        if idempotency is not None:
            seen = self._recall(log, idempotency)
            if seen is not None:
                return seen
        result = self._apply(feed, log, change)
        if idempotency is not None and result.status == "published":
            self._remember(log, idempotency, result)
        return result

    def _apply(self, feed: str, log: _FeedLog, change: Change) -> PublishResult:
        """Check, then change, then notify: the whole transition table (``transitions.py``)."""
        kind, ident = change.kind, change.item_id or ""
        status = ""
        if kind not in ("item", "draft", "unpin"):
            current = log.items.get(ident)
            if current is None:
                return PublishResult("not_found", log.epoch, log.seq, None)
            state = _item_head.decode(current)
            status = state.status
            refused = refusal(kind, status, ident in log.expired)
            if refused is None and change.require_status not in (None, status):
                refused = "illegal"
            if refused is not None:
                return PublishResult(refused, log.epoch, log.seq, current)
            if kind in VERSIONED and state.version != change.expected_version:
                return PublishResult("conflict", log.epoch, log.seq, current)
        ms = max(now_ms(), log.ms)
        if kind == "draft" and ms <= log.ms:
            ms = log.ms + 1  # a desk item takes no sequence: its own millisecond keeps ids unique
        log.ms = ms
        step = _Step(log, feed, ms)
        item = log.items.get(ident)
        if kind == "item":
            ident = item_id(ms, log.seq + 1)
            item = stamp_live(ident, change.body, ms)
            log.items[ident] = item
            self._on_air(log, ident, ms)
            step.append("item", item)
            self._schedule(log, EXPIRE + ident, change.expires_ms)
        elif kind == "draft":
            ident = item_id(ms, log.seq)
            item = stamp_live(ident, change.body, ms)
            log.items[ident] = item
            log.drafts[ident] = change.live
            self._schedule(log, GOLIVE + ident, change.embargo_ms)
            self._schedule(log, EXPIRE + ident, change.expires_ms)
        elif kind in ("update", "hold", "release", "retract"):
            item = stamp_updated(change.body, ms)
            log.items[ident] = item
            if kind == "update":
                if status == "usable":
                    step.append("update", item)
                if status in ("scheduled", "submitted"):
                    log.drafts[ident] = change.live
                    self._schedule(log, GOLIVE + ident, change.embargo_ms)
                self._schedule(log, EXPIRE + ident, change.expires_ms)
            elif kind == "hold":
                self._off_air(log, ident)
                step.append("retract", ident, "withheld")
                self._unpin_if(step, ident)
            elif kind == "release":
                self._on_air(log, ident, change.place_ms or ms)
                step.append("item", item)
            else:  # retract: a kill
                self._off_air(log, ident)
                log.drafts.pop(ident, None)
                self._schedule(log, GOLIVE + ident, None)
                self._schedule(log, EXPIRE + ident, None)
                if status in ("usable", "withheld"):
                    step.append("retract", ident, "retracted")
                self._unpin_if(step, ident)
        elif kind == "pin":
            if log.pinned != ident:
                log.pinned = ident
                step.append("pin", ident, item)
        elif kind == "unpin":
            if log.pinned is not None:
                ident, log.pinned = log.pinned, None
                item = log.items.get(ident)
                step.append("pin", None, None)
        elif kind == "golive":
            item = stamp_live(ident, log.drafts.pop(ident), ms)
            log.items[ident] = item
            self._schedule(log, GOLIVE + ident, None)
            self._on_air(log, ident, ms)
            step.append("item", item)
        elif kind == "approve":  # (issue 13) submitted → live now, or scheduled (embargo ahead)
            if change.embargo_ms is not None and change.embargo_ms > ms:
                item = stamp_updated(change.body, ms)
                log.items[ident] = item
                self._schedule(log, GOLIVE + ident, change.embargo_ms)
            else:
                item = stamp_live(ident, log.drafts.pop(ident), ms)
                log.items[ident] = item
                self._schedule(log, GOLIVE + ident, None)
                self._on_air(log, ident, ms)
                step.append("item", item)
        elif kind == "reject":  # (issue 13) submitted → canceled; it never was public
            item = stamp_updated(change.body, ms)
            log.items[ident] = item
            log.drafts.pop(ident, None)
            self._schedule(log, GOLIVE + ident, None)
            self._schedule(log, EXPIRE + ident, None)
        elif kind == "expire":
            log.expired.add(ident)
            self._schedule(log, EXPIRE + ident, None)
            if status == "usable":
                self._off_air(log, ident)
                step.append("retract", ident, "expired")
                self._unpin_if(step, ident)
        if change.note is not None and ident:
            if change.note:
                log.notes[ident] = change.note
            else:
                log.notes.pop(ident, None)
        if ident and item is not None:
            self._record(feed, log, kind, ident, item, change.by, ms)
        if ident:
            self._trim_items(log, ident)
        self._notify(feed, log, step.entries)
        return PublishResult("published", log.epoch, log.seq, item)

    # -- (issue 13) history and the desk's notices, part of the atomic step ------------------

    def _record(self, feed: str, log: _FeedLog, kind: Kind, ident: str, item: bytes, by: str,
                ms: int) -> None:
        state = _item_head.decode(item)
        entry = history.entry_json(history.action_of(kind, state.status), by, rfc3339(ms),
                                   state.version)
        log.history[ident] = history.appended(log.history.get(ident), entry)
        if self.on_desk is not None and self._loop is not None:
            notice = history.desk_notice(feed, ident, entry,
                                         history.desk_item(item, log.notes.get(ident)))
            self._loop.call_soon(self.on_desk, feed, notice)

    async def queue(self, feed: str) -> list[ItemRecord]:
        log = self._feed(feed)
        return [ItemRecord(log.items[i], log.notes.get(i), False) for i in sorted(log.drafts)]

    async def history(self, feed: str, item_id: str) -> bytes | None:
        return self._feed(feed).history.get(item_id)

    def _trim_items(self, log: _FeedLog, touched: str) -> None:
        """Item retention, as publish.lua step 9: an item stays while its last event is among
        the last ``item_retention`` events or it is on the air; the pinned item or one in any
        state but usable or canceled is kept and looked at again one window later."""
        log.touched[touched] = log.seq
        log.touched.move_to_end(touched)
        if self._item_retention <= 0:
            return
        horizon = log.seq - self._item_retention
        for _ in range(TRIM_BATCH):
            ident, seq = next(iter(log.touched.items()))
            if seq > horizon:
                return
            status = _item_head.decode(log.items[ident]).status
            if ident in log.place or ident == log.pinned or status not in ("usable", "canceled"):
                log.touched[ident] = log.seq
                log.touched.move_to_end(ident)
            else:
                del log.touched[ident]
                del log.items[ident]
                log.notes.pop(ident, None)
                log.history.pop(ident, None)  # (issue 13) the history lives as long as the item
                log.expired.discard(ident)

    def _on_air(self, log: _FeedLog, ident: str, place: int) -> None:
        if ident in log.place:
            return
        log.place[ident] = place
        bisect.insort(log.latest, (place, ident))
        while len(log.latest) > self._latest_max:
            _, oldest = log.latest.pop(0)
            del log.place[oldest]

    @staticmethod
    def _off_air(log: _FeedLog, ident: str) -> None:
        place = log.place.pop(ident, None)
        if place is not None:
            index = bisect.bisect_left(log.latest, (place, ident))
            del log.latest[index]

    @staticmethod
    def _unpin_if(step: _Step, ident: str) -> None:
        """Taking the pinned item off the air unpins it, in the same step."""
        if step.log.pinned == ident:
            step.log.pinned = None
            step.append("pin", None, None)

    @staticmethod
    def _schedule(log: _FeedLog, entry: str, due: int | None) -> None:
        if due is None:
            log.due.pop(entry, None)
        else:
            log.due[entry] = due
            heapq.heappush(log.heap, (due, entry))

    def _notify(self, feed: str, log: _FeedLog, entries: list[Entry]) -> None:
        if self._on_event is not None and self._loop is not None:
            for entry in entries:
                self._loop.call_soon(self._on_event, feed, log.epoch, entry)

    async def next_due(self, feed: str) -> int | None:
        log = self._feed(feed)
        while log.heap and log.due.get(log.heap[0][1]) != log.heap[0][0]:
            heapq.heappop(log.heap)  # rescheduled or cancelled since it was pushed
        return log.heap[0][0] if log.heap else None

    async def fire_due(self, feed: str) -> Fired:
        log = self._feed(feed)
        now = max(now_ms(), log.ms)
        result = None
        while log.heap:
            due, entry = log.heap[0]
            if log.due.get(entry) != due:  # rescheduled or cancelled since it was pushed
                heapq.heappop(log.heap)
                continue
            if due > now or result is not None:
                return Fired(result, due)
            heapq.heappop(log.heap)
            del log.due[entry]
            action, _, ident = entry.partition(":")
            kind: Kind = "golive" if action + ":" == GOLIVE else "expire"
            result = self._apply(feed, log, Change(kind, item_id=ident))
        return Fired(result, None)

    # -- reads -----------------------------------------------------------------------------

    def _remember(self, log: _FeedLog, idempotency: Idempotency, result: PublishResult) -> None:
        loop_time = asyncio.get_running_loop().time()
        ident = _item_id_of(result.item or b"")
        expiry = loop_time + idempotency.ttl_seconds
        log.idem[(idempotency.scope, idempotency.key)] = (idempotency.fingerprint, ident, expiry)
        if len(log.idem) > 2 * self._idem_checked:  # forget expired keys, amortised
            log.idem = {k: v for k, v in log.idem.items() if v[2] > loop_time}
            self._idem_checked = max(1024, len(log.idem))

    def _recall(self, log: _FeedLog, idempotency: Idempotency) -> PublishResult | None:
        seen = log.idem.get((idempotency.scope, idempotency.key))
        if seen is None or seen[2] <= asyncio.get_running_loop().time():
            return None
        if seen[0] != idempotency.fingerprint:
            return PublishResult("mismatch", log.epoch, log.seq, None)
        # item None: it left the store (item retention); the key still published it
        return PublishResult("duplicate", log.epoch, log.seq, log.items.get(seen[1]))

    async def recall(self, feed: str, idempotency: Idempotency) -> PublishResult | None:
        return self._recall(self._feed(feed), idempotency)

    async def read(self, feed: str, epoch: str | None, after: int, limit: int) -> LogSlice:
        log = self._feed(feed)
        first = log.log[0].seq if log.log else log.seq + 1
        if epoch != log.epoch or after < first - 1 or after > log.seq:
            return LogSlice(log.epoch, log.seq, [], False)
        start = after - first + 1
        entries = [log.log[i] for i in range(start, min(len(log.log), start + limit))]
        return LogSlice(log.epoch, log.seq, entries, True)

    async def head(self, feed: str, items: int, tail: int) -> Head:
        log = self._feed(feed)
        recent = list(log.log)[-tail:] if tail > 0 else []
        pinned = pinned_json(log.items[log.pinned]) if log.pinned is not None else None
        return Head(log.epoch, log.seq, await self.latest(feed, items), recent, pinned)

    async def get_item(self, feed: str, item_id: str) -> bytes | None:
        return self._feed(feed).items.get(item_id)

    async def item_record(self, feed: str, item_id: str) -> ItemRecord | None:
        log = self._feed(feed)
        data = log.items.get(item_id)
        if data is None:
            return None
        return ItemRecord(data, log.notes.get(item_id), log.pinned == item_id)

    async def get_items(self, feed: str, item_ids: list[str]) -> list[bytes | None]:
        items = self._feed(feed).items
        return [items.get(i) for i in item_ids]

    async def latest(self, feed: str, limit: int) -> list[bytes]:
        log = self._feed(feed)
        chosen = log.latest[-limit:] if limit > 0 else []
        return [log.items[i] for _, i in chosen]

    async def healthy(self) -> bool:
        return True


def _item_id_of(item: bytes) -> str:
    """The id a stamped item starts with (``{"id":"…",``)."""
    return item[7:item.index(b'"', 7)].decode()
