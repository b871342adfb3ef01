"""The push fan-outs and webhook senders of one node, started and stopped with the app.

Every node runs one durable reader per feed (push) and per configured endpoint (webhooks); each
reader delivers only while its node holds the reader's lease, so across nodes there is one
active sender per feed and per endpoint. The VAPID key is loaded from the broker at start (or,
if the broker is down then, as soon as it answers): until then the push endpoints answer ``503``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
from collections.abc import Coroutine
from typing import Any

from prometheus_client import CollectorRegistry

from ticker.brokers.base import Broker, BrokerUnavailableError
from ticker.brokers.coordination import Coordination, open_coordination
from ticker.config import Settings
from ticker.outbound.client import Outbound
from ticker.outbound.network import AsyncResolver
from ticker.outbound.rules import AddressRules, OriginList
from ticker.reach.metrics import ReachMetrics
from ticker.reach.push.fanout import PushFanout
from ticker.reach.push.sender import PushSender
from ticker.reach.push.subscriptions import SubscriptionStore
from ticker.reach.push.vapid import Vapid, load_key
from ticker.reach.reader import DurableReader, Seen
from ticker.reach.settings import webhook_name
from ticker.reach.webhooks.sender import WebhookSender

log = logging.getLogger("ticker.reach")
CONCURRENCY = 64  # outbound connections at once, per node


class Reach:
    def __init__(self, settings: Settings, broker: Broker, registry: CollectorRegistry,
                 seen: Seen | None = None, coordination: Coordination | None = None,
                 resolver: AsyncResolver | None = None) -> None:
        """``seen``: what this node's hub has dispatched (``Hub.last_seq``), so the readers
        read the broker only when there is something new."""
        self.settings = settings
        self.broker = broker
        self.seen = seen
        self.coordination = coordination or open_coordination(settings)
        self.outbound = Outbound(AddressRules(settings.outbound_allow), concurrency=CONCURRENCY,
                                 resolver=resolver)
        self.services = OriginList(settings.push_services)
        self.feeds = [f.id for f in settings.feeds]
        self.metrics = ReachMetrics(registry, self.feeds,
                                    [webhook_name(h) for h in settings.webhooks])
        self.store = SubscriptionStore(self.coordination)
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self.vapid: Vapid | None = None
        self.webhooks = [WebhookSender(hook, broker, self.coordination, self.outbound,
                                       self.metrics, self.holder, seen=seen,
                                       park_after=settings.webhook_park_after)
                         for hook in settings.webhooks]
        self.fanouts: list[PushFanout] = []  # made once the key is loaded
        self.readers: list[DurableReader] = list(self.webhooks)
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self, wait: float = 2.0) -> None:
        """Load the push key and give every reader its first position, waiting at most
        ``wait`` seconds (a broker that does not answer: both go on in the background), then
        start the readers."""
        try:
            async with asyncio.timeout(wait):
                await self._load_key()
                for reader in self.readers:
                    await reader.begin()
        except (TimeoutError, BrokerUnavailableError) as exc:
            log.warning("push/webhooks: broker not ready at start-up (%r); going on", exc)
        for sender in self.webhooks:
            self._spawn(sender.run(), sender.name)
        self._spawn(self._start_push(), "push-key")

    async def _load_key(self) -> None:
        if self.vapid is not None:
            return
        self.vapid = await load_key(self.coordination, self.settings.push_key_file,
                                    self.settings.push_contact)
        sender = PushSender(self.outbound, self.services, self.vapid, self.store, self.metrics)
        self.fanouts = [PushFanout(feed, self.broker, self.coordination, self.store, sender,
                                   self.holder, seen=self.seen) for feed in self.feeds]
        self.readers.extend(self.fanouts)

    def _spawn(self, work: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(work, name=f"reach-{name}")
        self._tasks.add(task)
        task.add_done_callback(self._ended)

    def _ended(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("%s ended: %r", task.get_name(), task.exception())

    async def _start_push(self) -> None:
        """Start the push fan-outs, once the key is loaded (retried while the broker is down)."""
        delay = 0.1
        while self.vapid is None:
            try:
                await self._load_key()
            except BrokerUnavailableError as exc:
                log.warning("push: cannot load the VAPID key yet (%s); retrying", exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
        for fanout in self.fanouts:
            self._spawn(fanout.run(), fanout.name)

    async def aclose(self) -> None:
        holding = [reader for reader in self.readers if reader.held]
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        with contextlib.suppress(Exception):  # a broker that does not answer: the TTL frees them
            await asyncio.wait_for(asyncio.gather(*(r.release() for r in holding),
                                                  return_exceptions=True), 1.0)
        await self.outbound.aclose()
        await self.coordination.aclose()
