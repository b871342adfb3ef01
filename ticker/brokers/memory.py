"""The embedded engine: one process, no Redis. Same semantics as the Redis engine.

The log lives in memory, so a restart starts a new epoch: clients holding old cursors are told
``recovered: false`` and get a fresh snapshot, never a silent gap.
"""

from __future__ import annotations

import asyncio
import secrets
from collections import OrderedDict, deque

import msgspec

from ticker.brokers.base import (
    Change,
    Entry,
    Head,
    Idempotency,
    LogSlice,
    OnEvent,
    OnResync,
    PublishResult,
)
from ticker.stamp import event_json, now_ms, stamp_new, stamp_updated


class _Version(msgspec.Struct):
    version: int
    status: str


_item_head = msgspec.json.Decoder(_Version)
TRIM_BATCH = 8  # items past the retention window looked at per publish (as publish.lua)


class _Keep(msgspec.Struct):
    status: str
    pinned: bool = False


_item_keep = msgspec.json.Decoder(_Keep)


class _FeedLog:
    def __init__(self, history: int) -> None:
        self.epoch = secrets.token_hex(6)  # a new log: cursors from other epochs are stale
        self.seq = 0  # last sequence assigned
        self.ms = 0  # last timestamp used; never goes backwards
        self.log: deque[Entry] = deque(maxlen=history)  # retained events
        self.items: dict[str, bytes] = {}  # every item by id, retracted ones too
        self.latest: OrderedDict[str, None] = OrderedDict()  # usable items, publish order
        self.touched: OrderedDict[str, int] = OrderedDict()  # item → seq of its last event
        self.idem: dict[tuple[str, str], tuple[str, str, float]] = {}  # → fingerprint, id, expiry


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

    async def publish(self, feed: str, change: Change,
                      idempotency: Idempotency | None = None) -> PublishResult:
        log = self._feed(feed)
        loop_time = asyncio.get_running_loop().time()
        if idempotency is not None:
            seen = await self.recall(feed, idempotency)
            if seen is not None:
                return seen
        if change.kind != "item":
            current = log.items.get(change.item_id or "")
            if current is None:
                return PublishResult("not_found", log.epoch, log.seq, None)
            state = _item_head.decode(current)
            if state.status == "canceled":
                return PublishResult("canceled", log.epoch, log.seq, current)
            if state.version != change.expected_version:
                return PublishResult("conflict", log.epoch, log.seq, current)
        log.seq += 1
        log.ms = max(now_ms(), log.ms)
        if change.kind == "item":
            ident, item = stamp_new(change.body, log.ms, log.seq)
            log.latest[ident] = None
            while len(log.latest) > self._latest_max:
                log.latest.popitem(last=False)
        else:
            ident, item = change.item_id or "", stamp_updated(change.body, log.ms)
            if change.kind == "retract":
                log.latest.pop(ident, None)
        log.items[ident] = item
        data = event_json(change.kind, f"{log.epoch}:{log.seq}", feed, ident, item)
        entry = Entry(log.seq, data)
        log.log.append(entry)
        if idempotency is not None:
            expiry = loop_time + idempotency.ttl_seconds
            record = (idempotency.fingerprint, ident, expiry)
            log.idem[(idempotency.scope, idempotency.key)] = record
            if len(log.idem) > 2 * self._idem_checked:  # forget expired keys, amortised
                log.idem = {k: v for k, v in log.idem.items() if v[2] > loop_time}
                self._idem_checked = max(1024, len(log.idem))
        self._trim_items(log, ident)
        if self._on_event is not None and self._loop is not None:
            self._loop.call_soon(self._on_event, feed, log.epoch, entry)
        return PublishResult("published", log.epoch, log.seq, item)

    def _trim_items(self, log: _FeedLog, touched: str) -> None:
        """Item retention, as publish.lua step 8: an item stays while its last event is among
        the last ``item_retention`` events or it is among the latest; a pinned item or one in a
        desk state (not usable or canceled) is kept and looked at again one window later."""
        log.touched[touched] = log.seq
        log.touched.move_to_end(touched)
        if self._item_retention <= 0:
            return
        horizon = log.seq - self._item_retention
        for _ in range(TRIM_BATCH):
            ident, seq = next(iter(log.touched.items()))
            if seq > horizon:
                return
            state = _item_keep.decode(log.items[ident])
            if ident in log.latest or state.pinned or state.status not in ("usable", "canceled"):
                log.touched[ident] = log.seq
                log.touched.move_to_end(ident)
            else:
                del log.touched[ident]
                del log.items[ident]

    async def recall(self, feed: str, idempotency: Idempotency) -> PublishResult | None:
        log = self._feed(feed)
        seen = log.idem.get((idempotency.scope, idempotency.key))
        if seen is None or seen[2] <= asyncio.get_running_loop().time():
            return None
        if seen[0] != idempotency.fingerprint:
            return PublishResult("mismatch", log.epoch, log.seq, None)
        # item None: it left the store (item retention); the key still published it
        return PublishResult("duplicate", log.epoch, log.seq, log.items.get(seen[1]))

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
        return Head(log.epoch, log.seq, await self.latest(feed, items), recent)

    async def get_item(self, feed: str, item_id: str) -> bytes | None:
        return self._feed(feed).items.get(item_id)

    async def latest(self, feed: str, limit: int) -> list[bytes]:
        log = self._feed(feed)
        ids = list(log.latest)[-limit:] if limit > 0 else []
        return [log.items[i] for i in ids]

    async def healthy(self) -> bool:
        return True
