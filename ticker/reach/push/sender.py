"""Sending one push message to one subscriber: encrypt, sign, POST, read the answer.

``2xx``: sent. ``404``/``410``: the subscription is gone — pruned. ``429`` and ``5xx`` (and a
lost connection): tried again after a backoff (``Retry-After`` honoured, at most
``MAX_DELAY``), at most ``ATTEMPTS`` times in all. Anything else (``400``, ``403``, ``413``, a
redirect) is a failure, not retried. The backoff waits outside the client's connection slots.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging

import httpx

from ticker.outbound.client import Answer, Outbound
from ticker.outbound.rules import OriginList, Refused, origin_of
from ticker.reach.backoff import retry_delay
from ticker.reach.metrics import ReachMetrics
from ticker.reach.push.crypto import b64url_decode, client_key, encrypt
from ticker.reach.push.subscriptions import Subscription, SubscriptionStore
from ticker.reach.push.vapid import Vapid

log = logging.getLogger("ticker.push")
ATTEMPTS = 4
FIRST_DELAY = 1.0
MAX_DELAY = 30.0
TTL_SECONDS = 3600  # how long a push service keeps an undelivered alert


def topic(feed: str, item_id: str) -> str:
    """The ``Topic`` of every message about one item: 32 base64url characters."""
    digest = hashlib.sha256(f"{feed}:{item_id}".encode()).digest()[:24]
    return base64.urlsafe_b64encode(digest).decode()


class Message:
    """One event's message: the same plaintext and headers for every subscriber."""

    def __init__(self, feed: str, plaintext: bytes, urgency: int, item_id: str) -> None:
        self.feed = feed
        self.plaintext = plaintext
        self.headers = {
            "TTL": str(TTL_SECONDS),
            "Urgency": "high" if urgency <= 2 else "normal",
            "Topic": topic(feed, item_id),
            "Content-Encoding": "aes128gcm",
            "Content-Type": "application/octet-stream",
        }


class PushSender:
    def __init__(self, outbound: Outbound, services: OriginList, vapid: Vapid,
                 store: SubscriptionStore, metrics: ReachMetrics) -> None:
        self.outbound = outbound
        self.services = services
        self.vapid = vapid
        self.store = store
        self.metrics = metrics

    async def send(self, message: Message, sub: Subscription) -> None:
        feed = message.feed
        try:
            body = encrypt(message.plaintext, client_key(b64url_decode(sub.p256dh)),
                           b64url_decode(sub.auth))
            headers = {**message.headers,
                       "Authorization": self.vapid.authorization(str(origin_of(sub.endpoint)))}
        except (ValueError, Refused) as exc:
            self._failed(feed, "rejected", sub, str(exc))
            return
        for attempt in range(1, ATTEMPTS + 1):
            answer: Answer | None = None
            try:
                answer = await self.outbound.post(sub.endpoint, self.services, body, headers)
            except Refused as exc:
                self._failed(feed, "refused", sub, str(exc))
                return
            except httpx.HTTPError as exc:
                reason = "network"
                detail = f"{type(exc).__name__}: {exc}"
            else:
                status = answer.status
                if 200 <= status < 300:
                    self.metrics.push_sent.labels(feed).inc()
                    return
                if status in (404, 410):
                    await self.store.remove(feed, sub.endpoint)
                    self.metrics.push_pruned.labels(feed).inc()
                    return
                if status != 429 and status < 500:
                    self._failed(feed, "rejected", sub, f"answered {status}")
                    return
                reason = "throttled" if status == 429 else "server"
                detail = f"answered {status}"
            if attempt == ATTEMPTS:
                self._failed(feed, reason, sub, detail)
                return
            await asyncio.sleep(retry_delay(attempt, FIRST_DELAY, MAX_DELAY,
                                              answer.headers if answer else None))

    def _failed(self, feed: str, reason: str, sub: Subscription, detail: str) -> None:
        self.metrics.push_failed.labels(feed, reason).inc()
        log.info("push to %s failed (%s): %s", origin_of_or_text(sub.endpoint), reason, detail)


def origin_of_or_text(url: str) -> str:
    """For logs: the origin only (the rest of an endpoint URL identifies a subscriber)."""
    try:
        return str(origin_of(url))
    except Refused:
        return "(unusable URL)"
