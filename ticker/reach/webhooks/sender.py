"""One endpoint's sender: a durable reader that POSTs each event until the endpoint takes it.

In log order per feed, at least once: an event is retried (exponential backoff with jitter, at
most ``MAX_DELAY`` seconds apart, ``Retry-After`` honoured up to that) until a ``2xx``, and the
position moves only after it. After ``park_after`` failed attempts in a row the endpoint is
*parked*: a log line, ``ticker_webhook_parked{endpoint} 1``, and attempts go on every
``MAX_DELAY`` seconds; the first ``2xx`` resumes it (another log line, the gauge back to 0).
A redirect is a failure, never followed.
"""

from __future__ import annotations

import asyncio
import logging

from ticker.brokers.base import Broker
from ticker.brokers.coordination import Coordination
from ticker.config import WebhookConfig
from ticker.outbound.client import Outbound
from ticker.reach.backoff import retry_delay
from ticker.reach.events import encode, public_event
from ticker.reach.metrics import ReachMetrics
from ticker.reach.reader import DurableReader, Event, Seen
from ticker.reach.webhooks.endpoint import Endpoint

log = logging.getLogger("ticker.webhooks")
FIRST_DELAY = 0.5
MAX_DELAY = 30.0


def message_id(feed: str, cursor: str) -> str:
    """Unique per event (its feed and cursor), the same on every attempt and every node."""
    return f"evt_{feed}_{cursor.replace(':', '_')}"


class WebhookSender(DurableReader):
    def __init__(self, hook: WebhookConfig, broker: Broker, coordination: Coordination,
                 outbound: Outbound, metrics: ReachMetrics, holder: str, *,
                 seen: Seen | None = None, park_after: int = 10, lease_ttl: float = 10.0,
                 poll: float = 0.25) -> None:
        self.target = Endpoint(hook, outbound)
        self.endpoint = self.target.name
        super().__init__(f"webhook:{self.endpoint}", list(hook.feeds), broker, coordination,
                         holder, seen=seen, lease_ttl=lease_ttl, poll=poll)
        self.events = None if hook.events is None else frozenset(hook.events)
        self.metrics = metrics
        self.park_after = park_after  # failed attempts in a row (10: about 3 minutes)
        self.parked = False

    def lag_changed(self) -> None:
        self.metrics.webhook_lag.labels(self.endpoint).set(sum(self.lag.values()))

    def stopped_holding(self) -> None:
        """Another node (or none) delivers now: this node reports neither lag nor parking."""
        self.parked = False
        self.metrics.webhook_parked.labels(self.endpoint).set(0)

    async def handle(self, event: Event) -> None:
        payload = public_event(event.data)
        if self.events is not None and payload.get("type") not in self.events:
            return
        await self.deliver(message_id(event.feed, str(event.cursor)), encode(payload))

    async def deliver(self, msg_id: str, body: bytes) -> None:
        attempt = 0
        while True:
            attempt += 1
            answer, outcome = await self.target.attempt(msg_id, body)
            self.metrics.webhook_deliveries.labels(self.endpoint, outcome).inc()
            if outcome == "delivered":
                if self.parked:
                    self.parked = False
                    self.metrics.webhook_parked.labels(self.endpoint).set(0)
                    log.warning("webhook %s: answering again; resumed", self.endpoint)
                return
            if attempt >= self.park_after and not self.parked:
                self.parked = True
                self.metrics.webhook_parked.labels(self.endpoint).set(1)
                log.error("webhook %s: parked after %d failed attempts (last: %s); trying every "
                          "%g s until it answers", self.endpoint, attempt, outcome, MAX_DELAY)
            self.metrics.webhook_retries.labels(self.endpoint).inc()
            await asyncio.sleep(retry_delay(attempt, FIRST_DELAY, MAX_DELAY,
                                              answer.headers if answer else None))
