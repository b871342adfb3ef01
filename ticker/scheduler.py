"""The scheduler: every node fires each feed's due transitions (embargoes, expiries) on time.

Theory of operation
-------------------
Due times live in the broker, one schedule per feed (a Redis sorted set, or a heap in the
embedded engine), written by the same atomic step that publishes, corrects or kills the item:
so a schedule survives a restart of every node, and a kill or an edited time cancels or moves
its entry in the same step. Every node runs this loop; there is no second process to deploy.

Each round the loop reads when each feed's earliest entry is due (``Broker.next_due``, one cheap
read: no script, no write) and, for a feed with something due, calls ``Broker.fire_due(feed)``,
which claims the earliest due entry *inside the same
atomic step that makes its transition and appends its event* (``publish.lua`` on Redis). So
however many nodes and workers call it at the same moment, exactly one claim removes the entry
and appends the event; the others find it gone. There is no lease and nothing held between
steps: a node that dies before its call reaches Redis claimed nothing (another node fires the
entry a moment later), and one that dies after sending it cannot stop Redis running the script
whole. An entry whose time passed while every node was down is simply due at the next start.

Timing: after each round the loop sleeps until the earliest next due time any feed reported,
at most ``poll`` seconds (so entries another node added are seen within ``poll``), and at least
``min_sleep`` (so clocks that disagree cannot make it spin). ``wake()`` (a publish on this node)
starts a round at once.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import suppress

from ticker.brokers.base import Broker, BrokerUnavailableError
from ticker.stamp import now_ms

log = logging.getLogger("ticker.scheduler")
MAX_PER_ROUND = 100  # transitions fired per feed per round, so one feed cannot starve the rest


class Scheduler:
    def __init__(self, broker: Broker, feeds: list[str], *, poll: float = 0.5,
                 min_sleep: float = 0.02, retry: float = 1.0) -> None:
        self.broker = broker
        self.feeds = feeds
        self.poll = poll  # longest sleep between rounds (seconds)
        self.min_sleep = min_sleep  # shortest sleep between rounds (seconds)
        self.retry = retry  # sleep after the broker could not be reached (seconds)
        self.fired = 0  # transitions this node fired (for metrics)
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="ticker-scheduler")

    async def aclose(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task

    def wake(self) -> None:
        """Something may have been scheduled: look at the schedules now."""
        self._wake.set()

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            try:
                next_ms = await self.round()
                delay = self.poll if next_ms is None else (next_ms - now_ms()) / 1000
                delay = min(max(delay, self.min_sleep), self.poll)
            except BrokerUnavailableError as exc:
                log.warning("scheduler: broker unreachable (%s); retrying", exc)
                delay = self.retry
            except Exception:  # the loop must outlive any bug in one round; it logs it
                log.exception("scheduler round failed")
                delay = self.retry
            with suppress(TimeoutError):
                async with asyncio.timeout(delay):  # not wait_for: it can swallow a cancel (3.11)
                    await self._wake.wait()

    async def round(self) -> int | None:
        """Fire everything due in every feed; the earliest next due time (ms), if any.

        A feed's schedule is first looked at with a cheap read (``next_due``); the claiming
        step runs only when something is due by this node's clock. (If this clock runs ahead of
        the broker's, the claim answers "not yet" and the loop comes back after ``min_sleep``;
        if it runs behind, the entry fires that much late.)"""
        earliest: int | None = None
        for feed in self.feeds:
            due = await self.broker.next_due(feed)
            if due is not None and due <= now_ms():
                due = await self._fire(feed)
            if due is not None and (earliest is None or due < earliest):
                earliest = due
        return earliest

    async def _fire(self, feed: str) -> int | None:
        """Claim and fire what is due in ``feed``; when its next entry is due."""
        for _ in range(MAX_PER_ROUND):
            fired = await self.broker.fire_due(feed)
            if fired.result is None:
                return fired.next_ms
            if fired.result.status == "published":
                self.fired += 1
        return now_ms()  # more is due: come back at once
