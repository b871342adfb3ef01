"""The hub: sans-I/O fan-out of a node's events to its readers.

Theory of operation
-------------------
Calls go in, frames come out. The hub never touches a socket, a task or a clock:

- ``load(feed, head)`` sets a feed's state from the broker (epoch, last sequence, latest items,
  recent events), and ``reset`` does it again when the log was lost, sending every subscriber a
  fresh ``subscribed(recovered=false)`` + ``snapshot``.
- ``dispatch(feed, epoch, entry)`` takes the next event from the broker. Sequences are
  contiguous, so the hub knows when one is missing: it answers ``GAP`` and dispatches nothing;
  the caller reads the log after ``last_seq(feed)`` and dispatches those first. An event at a
  sequence already dispatched but with other content means the log was rewound under the same
  epoch (``REWOUND``): the caller reloads the feed, and every reader starts over from a
  snapshot instead of silently missing the rewritten sequences. A dispatched
  event is decoded once, framed once, and its bytes appended to the outbox of every
  subscription whose filter it passes.
- ``subscribe(outbox, feed, filter, since)`` resumes exactly once. Within the ring of recent
  events it is answered at once from memory. Older (but maybe still in the log) it registers the
  subscription in *pending* mode, buffering live events, and returns ``NeedLog``; the caller
  reads the log and calls ``finish_recovery``, which sends the log events, then the buffered
  ones it did not already send, in order. No cursor (or a stale one) gets a snapshot, and so
  does a resume whose missed events would fill more than half the reader's outbox: sent at
  once they would have it cut as too slow before its first write, and again on every retry
  with the same cursor (a livelock); ``recovered=true`` is only ever followed by every event
  after the cursor. Each
  ``NeedLog`` names the subscription it was made for: a read that completes after the feed was
  subscribed again (or unsubscribed) is ignored, so it never completes a newer subscription.
- New items go to the subscriptions whose filter they pass. A correction or retraction goes to
  every subscription whose filter passed any version of the item (the reader may have shown
  it); for an item this node did not see from its first version, to every subscription.
- Outboxes with frames to write are collected in a ready list (``take_ready``) and overflowing
  ones in a cut list (``take_cut``); the transport writes the former and closes the latter.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from itertools import chain
from typing import NamedTuple

from ticker import codec
from ticker.brokers.base import Entry, Head, LogSlice
from ticker.cursor import Cursor
from ticker.hub.feed import FeedState
from ticker.hub.filters import Matcher
from ticker.hub.outbox import Outbox
from ticker.hub.prepared import Prepared
from ticker.model import Filter, Ping, Subscribed

PING_JSON = codec.encode(Ping())
PING_WS = codec.ws_frame(PING_JSON)
PING_SSE = b": ping\n\n"


class Outcome(enum.Enum):
    DISPATCHED = "dispatched"
    STALE = "stale"  # already dispatched (a duplicate after a resync)
    GAP = "gap"  # an earlier event is missing: read the log after last_seq first
    NEW_EPOCH = "new_epoch"  # the log was lost and started over: reload the feed
    REWOUND = "rewound"  # an old sequence with new content: the log went back in time (a
    # Redis restored from an older snapshot, a replica promoted behind its primary): reload
    UNKNOWN_FEED = "unknown_feed"


class Subscription:
    __slots__ = ("base", "feed", "matcher", "pending")

    def __init__(self, feed: str, matcher: Matcher) -> None:
        self.feed = feed
        self.matcher = matcher
        self.pending: list[Prepared] | None = None  # live events held while recovering
        self.base = 0  # the feed's sequence when a pending recovery started


class NeedLog(NamedTuple):
    """Read the log of ``feed`` after ``after`` (at most ``limit`` events), then call
    ``finish_recovery``; ``sub`` is the subscription the read is for."""

    feed: str
    epoch: str
    after: int
    limit: int
    sub: Subscription


class Hub:
    def __init__(self, *, snapshot_size: int = 20, ring_size: int = 1000, latest_max: int = 100,
                 ping_ticks: int = 5) -> None:
        self.snapshot_size = snapshot_size  # items in a snapshot
        self.ring_size = ring_size  # recent events kept per feed for resumes
        self.latest_max = latest_max  # usable items kept per feed for snapshots
        self.ping_ticks = ping_ticks  # idle ticks before a ping
        self.feeds: dict[str, FeedState] = {}
        self.subscribers: dict[str, dict[Outbox, Subscription]] = {}
        self.outboxes: set[Outbox] = set()  # every connected reader
        self.ready: list[Outbox] = []  # outboxes with frames to write
        self.cut: list[Outbox] = []  # outboxes that overflowed
        self.resumes_too_large = 0  # resumes started over: the backlog would not fit (metrics)

    # -- feeds ------------------------------------------------------------------------------

    def load(self, feed: str, head: Head) -> None:
        state = FeedState(feed, head.epoch, head.seq, self.ring_size, self.latest_max)
        for data in head.items:
            item = codec.item_decoder.decode(data)
            state.add_item(item, data)
        state.set_pinned(head.pinned)
        for entry in head.tail:
            prepared = Prepared(entry.seq, entry.data)
            state.ring.append(prepared)
            state.note_version(prepared)
        self.feeds[feed] = state
        self.subscribers.setdefault(feed, {})

    def reset(self, feed: str, head: Head) -> None:
        """Reload a feed whose log was lost or outran us; every subscriber starts over."""
        self.load(feed, head)
        for outbox, sub in self.subscribers[feed].items():
            sub.pending = None
            self._start_over(outbox, sub)

    def last_seq(self, feed: str) -> tuple[str, int]:
        state = self.feeds[feed]
        return state.epoch, state.seq

    # -- events -----------------------------------------------------------------------------

    def dispatch(self, feed: str, epoch: str, entry: Entry) -> Outcome:
        state = self.feeds.get(feed)
        if state is None:
            return Outcome.UNKNOWN_FEED
        if epoch != state.epoch:
            return Outcome.NEW_EPOCH
        if entry.seq <= state.seq:
            return Outcome.REWOUND if state.differs(entry) else Outcome.STALE
        if entry.seq != state.seq + 1:
            return Outcome.GAP
        prepared = Prepared(entry.seq, entry.data)
        state.apply(prepared)
        frame = prepared.ws
        push = self._push
        if prepared.kind == "item":
            for outbox, sub in self.subscribers[feed].items():
                if sub.pending is not None:
                    sub.pending.append(prepared)
                elif sub.matcher.everything or prepared.matches(sub.matcher):
                    push(outbox, frame if outbox.fmt == "ws" else prepared.sse)
            return Outcome.DISPATCHED
        # a correction or retraction: for whoever may have shown a version of the item (a pin:
        # for every reader)
        versions = None if prepared.kind == "pin" else state.versions.get(prepared.item_id)
        for outbox, sub in self.subscribers[feed].items():
            if sub.pending is not None:
                sub.pending.append(prepared)
            elif versions is None or sub.matcher.everything or sub.matcher.any_of(versions):
                push(outbox, frame if outbox.fmt == "ws" else prepared.sse)
        return Outcome.DISPATCHED

    # -- readers ----------------------------------------------------------------------------

    def connect(self, outbox: Outbox) -> None:
        self.outboxes.add(outbox)

    def disconnect(self, outbox: Outbox) -> None:
        for feed in list(outbox.subs):
            self.unsubscribe(outbox, feed)
        self.outboxes.discard(outbox)
        outbox.frames = []
        outbox.nbytes = 0

    def subscribe(self, outbox: Outbox, feed: str, flt: Filter | None,
                  since: Cursor | None) -> NeedLog | None:
        """Start (or restart) a subscription; see the theory of operation."""
        state = self.feeds[feed]
        if feed in outbox.subs:
            self.unsubscribe(outbox, feed)
        sub = Subscription(feed, Matcher(flt))
        outbox.subs[feed] = sub
        self.subscribers[feed][outbox] = sub
        if since is not None and since.epoch == state.epoch:
            events = state.ring_after(since.seq)
            if events is None and since.seq < state.seq:
                sub.pending = []
                sub.base = state.seq
                return NeedLog(feed, state.epoch, since.seq, state.seq - since.seq, sub)
            if events is not None and self._recover(outbox, sub, events):
                return None
        self._start_over(outbox, sub)
        return None

    def finish_recovery(self, outbox: Outbox, need: NeedLog, log: LogSlice | None) -> None:
        """Complete a pending subscription with the log read for ``need`` (``None``: failed)."""
        sub = need.sub
        if outbox.subs.get(need.feed) is not sub or sub.pending is None:
            return  # unsubscribed, subscribed again or reset meanwhile: not this read's
        pending, sub.pending = sub.pending, None
        entries = log.entries if log is not None and log.complete else []
        # the read must cover (after, base] without holes; it may run past base
        seqs = [e.seq for e in entries]
        covered = (
            log is not None and log.complete and log.epoch == need.epoch
            and seqs == list(range(need.after + 1, need.after + 1 + len(seqs)))
            and (seqs[-1] if seqs else need.after) >= sub.base
        )
        if not covered:
            self._start_over(outbox, sub)
            return
        last = seqs[-1] if seqs else need.after
        missed = chain((Prepared(e.seq, e.data) for e in entries),
                       (p for p in pending if p.seq > last))
        if not self._recover(outbox, sub, missed):
            self._start_over(outbox, sub)

    def unsubscribe(self, outbox: Outbox, feed: str) -> bool:
        sub = outbox.subs.pop(feed, None)
        if sub is None:
            return False
        self.subscribers[feed].pop(outbox, None)
        return True

    def send_json(self, outbox: Outbox, kind: str, data: bytes) -> None:
        """Queue a control frame (``error``, ...) for one reader."""
        self._control(outbox, kind, data)

    def send_raw(self, outbox: Outbox, frame: bytes) -> None:
        """Queue bytes already framed for the reader's transport (a WebSocket pong)."""
        self._push(outbox, frame)

    def tick(self) -> None:
        """One idle tick: readers that heard nothing for ``ping_ticks`` ticks get a ping."""
        for outbox in self.outboxes:
            outbox.idle += 1
            if outbox.idle >= self.ping_ticks and not outbox.frames:
                outbox.idle = 0
                self._push(outbox, PING_WS if outbox.fmt == "ws" else PING_SSE)

    def resume(self, outbox: Outbox) -> None:
        """The transport can take frames again."""
        outbox.paused = False
        if outbox.frames and not outbox.queued and not outbox.cut:
            outbox.queued = True
            self.ready.append(outbox)

    def take_ready(self) -> list[Outbox]:
        ready, self.ready = self.ready, []
        for outbox in ready:
            outbox.queued = False
        return ready

    def take_cut(self) -> list[Outbox]:
        cut, self.cut = self.cut, []
        return cut

    # -- internals --------------------------------------------------------------------------

    def _push(self, outbox: Outbox, frame: bytes) -> None:
        if outbox.cut:
            return
        outbox.frames.append(frame)
        outbox.nbytes += len(frame)
        if outbox.nbytes > outbox.limit:
            outbox.cut = True
            outbox.frames = []
            outbox.nbytes = 0
            self.cut.append(outbox)
        elif not outbox.queued and not outbox.paused:
            outbox.queued = True
            self.ready.append(outbox)

    def _control(self, outbox: Outbox, kind: str, data: bytes, cursor: str | None = None) -> None:
        if outbox.fmt == "ws":
            self._push(outbox, codec.ws_frame(data))
        else:
            self._push(outbox, codec.sse_block(kind, data, cursor))

    def _recover(self, outbox: Outbox, sub: Subscription, missed: Iterable[Prepared]) -> bool:
        """Send ``subscribed(recovered=true)`` and the events of ``missed`` that ``sub`` passes,
        if they fit the reader's resume budget; else send nothing and answer ``False`` (the
        caller starts the reader over from a snapshot).

        The budget is half the outbox (less what already waits there): the missed events land
        in the outbox at once, so a backlog near its limit would have the reader cut (1013)
        before its first write, and a reader that resumes with the same cursor would be cut
        again, forever. The other half is room for live events while the backlog is written.
        """
        budget = outbox.limit // 2 - outbox.nbytes
        ws = outbox.fmt == "ws"
        frames: list[bytes] = []
        for prepared in missed:
            if prepared.matches(sub.matcher):
                frame = prepared.ws if ws else prepared.sse
                budget -= len(frame)
                if budget < 0:
                    self.resumes_too_large += 1
                    return False
                frames.append(frame)
        self._control(outbox, "subscribed", _subscribed(sub.feed, True))
        for frame in frames:
            self._push(outbox, frame)
        return True

    def _start_over(self, outbox: Outbox, sub: Subscription) -> None:
        state = self.feeds[sub.feed]
        self._control(outbox, "subscribed", _subscribed(sub.feed, False))
        snapshot = state.snapshot_json(self.snapshot_size, sub.matcher)
        self._control(outbox, "snapshot", snapshot, state.cursor)


def _subscribed(feed: str, recovered: bool) -> bytes:
    return codec.encode(Subscribed(feed=feed, recovered=recovered))
