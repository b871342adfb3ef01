"""Drives the hub from the event loop: flushes ready outboxes once per loop pass, and ticks.

Coalescing without added latency: the first frame that makes an outbox ready schedules one
flush with ``call_soon``; everything dispatched before the loop gets to it (a burst of events,
several pub/sub messages read at once) is joined into one write per reader. When idle, a frame
is written in the very next loop pass.
"""

from __future__ import annotations

import asyncio
import contextlib

from ticker.hub import Hub


class Fanout:
    def __init__(self, hub: Hub, tick_seconds: float) -> None:
        self.hub = hub
        self.tick_seconds = tick_seconds  # ping_idle / hub.ping_ticks
        self._scheduled = False
        self._ticker: asyncio.Task[None] | None = None
        self.deliveries = 0  # frames written to readers (for metrics)
        self.cuts = 0  # slow readers cut

    def start(self) -> None:
        self._ticker = asyncio.get_running_loop().create_task(self._tick_forever())

    async def stop(self) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker

    def schedule(self) -> None:
        if not self._scheduled and (self.hub.ready or self.hub.cut):
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self.flush)

    def flush(self) -> None:
        self._scheduled = False
        hub = self.hub
        for outbox in hub.take_ready():
            if outbox.frames and not outbox.paused:
                self.deliveries += len(outbox.frames)
                outbox.owner.write(outbox.take())
        for outbox in hub.take_cut():
            self.cuts += 1
            outbox.owner.close_slow()

    async def _tick_forever(self) -> None:
        while True:
            await asyncio.sleep(self.tick_seconds)
            self.hub.tick()
            self.schedule()

