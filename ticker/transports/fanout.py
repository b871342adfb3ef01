"""Drives the hub from the event loop: flushes ready outboxes, and ticks for pings.

Coalescing without added latency when the node keeps up. Writing is where a fan-out spends its
time: one ``write()`` to a socket costs the kernel several microseconds, far more than the hub's
filter check and append (about 0.35 µs per reader: ``bench/hub_dispatch.py``). So a flush writes
everything pending for a reader in one ``write``, and flushes pace themselves by how late the
node is:

- the relay reports each event's age when it is dispatched (``lag``: now minus the broker's
  stamp). An event that is younger than half the last flush's duration means the node keeps up:
  the flush runs in the very next loop pass (``call_soon``), nothing waits;
- an older one means events are coming faster than the node writes them (a burst, or more
  readers than one write per delivery allows): the next flush waits until half the last flush's
  duration (at most ``MAX_COALESCE``) has passed since it ended, so everything dispatched
  meanwhile goes out together, several frames per write, and the node catches up.

The comparison uses the broker's clock against this node's; across machines keep them in sync
(NTP), or the node coalesces more (clock ahead) or less (behind) than it should.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from ticker.hub import Hub

log = logging.getLogger("ticker.fanout")
COALESCE_SHARE = 0.5  # the next flush waits up to this share of the last flush's duration
MAX_COALESCE = 0.050  # seconds: the longest a frame waits for others to join it


class Fanout:
    def __init__(self, hub: Hub, tick_seconds: float) -> None:
        self.hub = hub
        self.tick_seconds = tick_seconds  # ping_idle / hub.ping_ticks
        self._scheduled = False
        self._ticker: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None  # cached: get_running_loop() is
        # a getpid() syscall per call here, and schedule() runs once per new reader
        self._last_end = 0.0  # perf_counter when the last flush finished
        self._last_took = 0.0  # how long it took
        self.lag = 0.0  # age of the last event dispatched (set by the relay), in seconds
        self.on_tick: list[Callable[[float], None]] = []  # liveness checks, given the loop time
        self.deliveries = 0  # frames written to readers (for metrics)
        self.writes = 0  # socket writes made (deliveries / writes = frames per write)

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._ticker = self._loop.create_task(self._tick_forever())

    def now(self) -> float:
        """The event loop's clock."""
        return (self._loop or asyncio.get_running_loop()).time()

    async def stop(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker

    def schedule(self) -> None:
        if self._scheduled or not (self.hub.ready or self.hub.cut):
            return
        self._scheduled = True
        loop = self._loop or asyncio.get_running_loop()
        pause = min(self._last_took * COALESCE_SHARE, MAX_COALESCE)
        wait = pause - (time.perf_counter() - self._last_end) if self.lag > pause else 0.0
        if wait <= 0:
            loop.call_soon(self.flush)
        else:
            loop.call_later(wait, self.flush)

    def flush(self) -> None:
        started = time.perf_counter()
        self._scheduled = False
        hub = self.hub
        ready = hub.take_ready()
        for outbox in ready:
            if outbox.frames and not outbox.paused:
                self.deliveries += len(outbox.frames)
                self.writes += 1  # one write of everything pending for this reader
                outbox.owner.write(outbox.take())
        for outbox in hub.take_cut():
            try:
                outbox.owner.close_slow()
            except Exception:  # one failed close must not spare the other slow readers
                log.exception("closing a slow reader")
        self._last_end = time.perf_counter()
        self._last_took = self._last_end - started
        # what was late has been written: frames queued from now on (a new reader's
        # subscription, a pong) are not late until the relay dispatches a late event again
        self.lag = 0.0

    async def _tick_forever(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.tick_seconds)
            self.hub.tick()
            for check in self.on_tick:
                check(loop.time())
            self.schedule()
