"""The relay: broker → hub on one node, closing every gap from the log.

The broker delivers events as they arrive (Redis pub/sub can drop messages when its connection
is cut). The hub reports a missing sequence (``GAP``), a lost log (``NEW_EPOCH``) or a rewound
one (``REWOUND``: an old sequence with new content); the relay
then reads the log after the last dispatched sequence and dispatches what it finds, or, when the
position is no longer retained, reloads the feed and every reader gets a fresh snapshot. After
the broker's live connection comes back (``on_resync``) it does the same for every feed.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from datetime import datetime
from typing import Protocol

from ticker.brokers.base import Broker, BrokerUnavailableError, Entry, Head
from ticker.hub import Hub, NeedLog, Outbox, Outcome
from ticker.metrics import Metrics

log = logging.getLogger("ticker.relay")
PLACEHOLDER_EPOCH = "pending"  # before the broker could be read; no real epoch looks like it
READ_BATCH = 1000


class Flusher(Protocol):
    """What the relay needs of the fan-out (``transports.fanout.Fanout``), injected."""

    lag: float  # age of the last event dispatched, in seconds

    def schedule(self) -> None: ...


class Relay:
    def __init__(self, broker: Broker, hub: Hub, fanout: Flusher, feeds: list[str],
                 metrics: Metrics, max_log_reads: int = 8) -> None:
        self.broker = broker
        self.metrics = metrics
        self.hub = hub
        self.fanout = fanout
        self.feeds = feeds
        self.loaded: set[str] = set()  # feeds whose state came from the broker
        self.log_reads = 0  # broker reads made for gaps and resumes (for metrics)
        self.gaps_filled = 0
        self._repairing: dict[str, asyncio.Task[None]] = {}
        self._rewound: set[str] = set()  # feeds whose log went back in time: reload them
        self._held: dict[str, tuple[str, Entry]] = {}  # latest live event seen while repairing
        self._recoveries: set[asyncio.Task[None]] = set()
        self._read_slots = asyncio.Semaphore(max_log_reads)  # bounds reads in a reconnect storm
        self._closed = False

    @property
    def ready(self) -> bool:
        return len(self.loaded) == len(self.feeds)

    async def start(self) -> None:
        for feed in self.feeds:
            self.hub.load(feed, Head(PLACEHOLDER_EPOCH, 0, [], []))
        await self.broker.start(self.feeds, self._on_event, self._on_resync)
        for feed in self.feeds:
            try:
                await self._reload(feed)
            except BrokerUnavailableError as exc:
                log.warning("feed %s: broker unreachable at start-up (%s); will retry", feed, exc)
                self._repair(feed)

    async def aclose(self) -> None:
        self._closed = True
        tasks = [*self._repairing.values(), *self._recoveries]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.broker.aclose()

    # -- live events ------------------------------------------------------------------------

    def _on_event(self, feed: str, epoch: str, entry: Entry) -> None:
        if feed in self._repairing:
            # The repair reads the log up to the head, but Redis may have run that read before
            # this event was published: keep the latest one and offer it again when the repair
            # is done (dispatch skips it if the read covered it, or reports the gap).
            self._held[feed] = (epoch, entry)
            return
        outcome = self.hub.dispatch(feed, epoch, entry)
        if outcome is Outcome.DISPATCHED:
            self._observe(feed)
            self.fanout.schedule()
        elif outcome is Outcome.REWOUND:
            self._rewound.add(feed)
            self._repair(feed)
        elif outcome in (Outcome.GAP, Outcome.NEW_EPOCH):
            self._repair(feed)

    def _observe(self, feed: str) -> None:
        """Count the dispatch and how long after the broker's stamp it happened."""
        self.metrics.dispatched.labels(feed).inc()
        last = self.hub.feeds[feed].ring[-1]
        item = last.item
        if item is not None and last.kind != "pin":  # a pin event stamps nothing
            stamped = datetime.fromisoformat(item.updated_at).timestamp()
            lag = max(0.0, time.time() - stamped)
            self.metrics.latency.observe(lag)
            self.fanout.lag = lag

    def _on_resync(self) -> None:
        for feed in self.feeds:
            self._repair(feed)

    def _repair(self, feed: str) -> None:
        if feed in self._repairing or self._closed:
            return
        task = asyncio.get_running_loop().create_task(self._repair_forever(feed))
        self._repairing[feed] = task
        task.add_done_callback(lambda _: self._repaired(feed))

    def _repaired(self, feed: str) -> None:
        self._repairing.pop(feed, None)
        held = self._held.pop(feed, None)
        if held is not None and not self._closed:
            self._on_event(feed, *held)

    async def _repair_forever(self, feed: str) -> None:
        delay = 0.05
        while not self._closed:
            try:
                await self._catch_up(feed)
                return
            except BrokerUnavailableError as exc:
                log.warning("feed %s: cannot read the log (%s); retrying", feed, exc)
                await asyncio.sleep(delay * (0.5 + random.random()))
                delay = min(delay * 2, 2.0)

    async def _catch_up(self, feed: str) -> None:
        if feed in self._rewound:
            log.warning("feed %s: the log went back in time (restored from an older copy?); "
                        "readers start over from a snapshot", feed)
            self._rewound.discard(feed)
            await self._reload(feed)
            return
        while True:
            epoch, seq = self.hub.last_seq(feed)
            self.log_reads += 1
            # read from the last event this node dispatched, not after it: if the log now holds
            # something else there, it went back in time while we were away (hub: REWOUND)
            got = await self.broker.read(feed, epoch, max(seq - 1, 0), READ_BATCH)
            if not got.complete:
                await self._reload(feed)
                return
            for entry in got.entries:
                outcome = self.hub.dispatch(feed, got.epoch, entry)
                if outcome is Outcome.DISPATCHED:
                    self._observe(feed)
                elif outcome is Outcome.REWOUND:
                    self._rewound.add(feed)
                    return await self._catch_up(feed)
            self.gaps_filled += len(got.entries)
            self.fanout.schedule()
            if len(got.entries) < READ_BATCH:
                return

    async def _reload(self, feed: str) -> None:
        head = await self.broker.head(feed, self.hub.latest_max, self.hub.ring_size)
        self.hub.reset(feed, head)
        self.loaded.add(feed)
        self.fanout.schedule()

    # -- resumes older than the ring ---------------------------------------------------------

    def recover(self, outbox: Outbox, need: NeedLog) -> None:
        """Read the log for a pending subscription, then let the hub finish it."""
        task = asyncio.get_running_loop().create_task(self._recover(outbox, need))
        self._recoveries.add(task)
        task.add_done_callback(self._recoveries.discard)

    async def _recover(self, outbox: Outbox, need: NeedLog) -> None:
        got = None
        async with self._read_slots:
            try:
                self.log_reads += 1
                got = await self.broker.read(need.feed, need.epoch, need.after, need.limit)
            except BrokerUnavailableError as exc:
                log.warning("feed %s: resume read failed (%s); sending a snapshot", need.feed, exc)
        self.hub.finish_recovery(outbox, need, got)
        self.fanout.schedule()
