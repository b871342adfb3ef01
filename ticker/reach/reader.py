"""A durable reader of feed logs: one holder across nodes, a stored position per feed.

The push fan-out of a feed and each webhook endpoint is one. A node runs the reader only while it
holds the reader's lease (renewed every third of its TTL; a holder that dies lets it lapse and
another node takes over). The holder reads each feed's log after the stored position through
``Broker.read``, hands every event to ``handle`` in log order, and stores the position after each
one — only while it still holds the lease, so a node that lost it cannot move the position.

A position whose epoch is gone (the log was lost) continues from the start of the new log; one
that was trimmed away continues from the head, with a warning (those events cannot be had).
The holder does not poll the broker: it reads a feed when this node's hub has dispatched an event
past the reader's position (``seen``: an in-memory look, no Redis command), and otherwise once
every ``SAFETY_READ`` seconds in case the hub missed something.

A reader seen for the first time starts at the head as it was when its first node started
(``begin``, called before the node reports ready): it does not replay older history.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from typing import NamedTuple

from ticker.brokers.base import Broker, BrokerUnavailableError
from ticker.brokers.coordination import Coordination
from ticker.cursor import Cursor

log = logging.getLogger("ticker.reach")
SAFETY_READ = 10.0  # seconds between reads of a feed in which this node saw nothing new

Seen = Callable[[str], tuple[str, int]]
"""The epoch and last sequence this node has dispatched in a feed (``Hub.last_seq``)."""


class LeaseLost(Exception):
    """Another node holds the reader now: stop delivering."""


class Event(NamedTuple):
    feed: str
    cursor: Cursor
    data: bytes  # the event JSON as stored in the log


class DurableReader:
    """Subclasses implement ``handle``; ``run`` until cancelled."""

    def __init__(self, name: str, feeds: list[str], broker: Broker, coordination: Coordination,
                 holder: str, *, seen: Seen | None = None, lease_ttl: float = 10.0,
                 poll: float = 0.25, batch: int = 100) -> None:
        self.name = name
        self.feeds = feeds
        self.broker = broker
        self.coordination = coordination
        self.holder = holder  # this node's id
        self.lease_ttl = lease_ttl
        self.poll = poll
        self.batch = batch
        self.seen = seen  # None: read the broker every ``poll`` seconds
        self._next_read: dict[str, float] = {}  # feed → loop time of its next safety read
        self.held = False  # whether this node holds the lease right now
        self.positions: dict[str, Cursor] = {}
        self.lag: dict[str, int] = {}  # events behind the head, per feed (as of the last read)

    async def handle(self, event: Event) -> None:
        raise NotImplementedError

    def lag_changed(self) -> None:
        """Called after every read; subclasses publish ``self.lag``."""

    def stopped_holding(self) -> None:
        """Called when this node stops delivering (lease lost, error, shutdown)."""

    async def run(self) -> None:
        """Hold the lease and deliver whenever this node can; never ends by itself. A failure
        (the broker unreachable, an event that cannot be handled) is logged and retried after a
        backoff from the stored position: nothing is skipped."""
        delay = 0.1
        while True:
            try:
                if await self.coordination.lease(self.name, self.holder, self.lease_ttl):
                    await self._hold()
                    delay = 0.1
                    continue
            except BrokerUnavailableError as exc:
                log.warning("%s: broker unavailable (%s); retrying", self.name, exc)
            except Exception:
                log.exception("%s: delivery failed; retrying from the stored position",
                              self.name)
            else:
                await asyncio.sleep(self.lease_ttl / 3 * random.uniform(0.8, 1.0))
                continue
            await asyncio.sleep(delay * random.uniform(0.5, 1.0))
            delay = min(delay * 2, 5.0)

    async def _hold(self) -> None:
        """Deliver while renewing the lease; return when it is lost."""
        self.held = True
        log.info("%s: this node (%s) holds the lease", self.name, self.holder)
        work = asyncio.create_task(self._deliver_forever(), name=f"reach-{self.name}")
        try:
            while not work.done():
                await asyncio.wait({work}, timeout=self.lease_ttl / 3)
                if not work.done() and not await self.coordination.lease(
                        self.name, self.holder, self.lease_ttl):
                    log.warning("%s: lease lost to another node", self.name)
                    return
            try:
                work.result()
            except LeaseLost:
                log.warning("%s: lease lost to another node", self.name)
        finally:
            self.held = False
            work.cancel()
            await asyncio.gather(work, return_exceptions=True)
            self.lag = {}
            self.lag_changed()
            self.stopped_holding()

    async def release(self) -> None:
        """Give the lease up now (at shutdown), so another node takes over at once."""
        try:
            await self.coordination.release(self.name, self.holder)
        except BrokerUnavailableError:
            pass

    async def _deliver_forever(self) -> None:
        self.positions = {}
        for feed in self.feeds:
            self.positions[feed] = await self._start(feed)
        while True:
            moved = False
            for feed in self.feeds:
                if self._due(feed):
                    moved = await self._step(feed) or moved
            if not moved:
                await asyncio.sleep(self.poll)

    def _due(self, feed: str) -> bool:
        """Whether to read ``feed`` now: this node dispatched past the position, or the
        safety interval passed."""
        now = asyncio.get_running_loop().time()
        if self.seen is None or now >= self._next_read.get(feed, 0.0):
            self._next_read[feed] = now + SAFETY_READ
            return True
        try:
            epoch, seq = self.seen(feed)
        except KeyError:
            return True
        at = self.positions[feed]
        return epoch != at.epoch or seq > at.seq

    async def begin(self) -> None:
        """Give the reader its first position (the head) in each feed that has none."""
        for feed in self.feeds:
            if await self.coordination.position(self.name, feed) is None:
                head = await self.broker.head(feed, 0, 0)
                await self.coordination.begin(self.name, feed, str(Cursor(head.epoch, head.seq)))

    async def _start(self, feed: str) -> Cursor:
        stored = await self.coordination.position(self.name, feed)
        if stored is None:
            await self.begin()
            stored = await self.coordination.position(self.name, feed)
        if stored is None:
            raise BrokerUnavailableError(f"{self.name}: no position stored for {feed}")
        return Cursor.parse(stored)

    async def _store(self, feed: str, cursor: Cursor) -> None:
        self.positions[feed] = cursor
        if not await self.coordination.advance(self.name, self.holder, feed, str(cursor)):
            raise LeaseLost(self.name)

    async def _step(self, feed: str) -> bool:
        """Read once after the position and handle what came; whether anything moved."""
        at = self.positions[feed]
        got = await self.broker.read(feed, at.epoch, at.seq, self.batch)
        if not got.complete:
            await self._resync(feed, at, got.epoch, got.head)
            return True
        self.lag[feed] = got.head - at.seq
        self.lag_changed()
        for entry in got.entries:
            cursor = Cursor(got.epoch, entry.seq)
            await self.handle(Event(feed, cursor, entry.data))
            await self._store(feed, cursor)
            self.lag[feed] = got.head - entry.seq
        if got.entries:
            self.lag_changed()
        return bool(got.entries)

    async def _resync(self, feed: str, at: Cursor, epoch: str, head: int) -> None:
        if epoch != at.epoch and (await self.broker.read(feed, epoch, 0, 0)).complete:
            log.warning("%s: feed %s has a new log (epoch %s → %s); delivering it from its start",
                        self.name, feed, at.epoch, epoch)
            await self._store(feed, Cursor(epoch, 0))
            return
        log.warning("%s: the events of feed %s after %s are no longer retained; continuing "
                    "from %s:%d (the ones between are lost to this reader)",
                    self.name, feed, at, epoch, head)
        await self._store(feed, Cursor(epoch, head))
