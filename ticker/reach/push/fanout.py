"""A feed's push fan-out: a durable reader whose every event is sent once across all nodes.

The node holding the lease ``push:<feed>`` reads the log; for each event it first *claims* it
(``push:<feed>:<cursor>``), so even at a lease hand-over — the old holder may have been in the
middle of an event — no event is pushed twice: the subscriber gets each event at most once per
node set (a holder that dies mid-event leaves the rest of that event unsent, as a lost alert is
better than a doubled one).

- ``item`` (a new item, or one released from a hold) that is ``usable``: pushed to every
  subscription whose filter matches (``max_urgency``, categories, regions); what it was pushed
  as is remembered for ``REMEMBER_SECONDS``.
- ``update`` / ``retract`` of an item that was pushed: sent to the subscriptions the item was
  pushed to (matched against the item as it was pushed), with the same ``Topic``, so a push
  service replaces an alert that was not delivered yet, and the service worker replaces or
  closes the notification.
- anything else (pins, …): not pushed.

Sends run as tasks, at most ``inflight`` at once (the shared client bounds the connections under
that); the reader waits for an event's sends before it takes the next, so a correction never
overtakes its item.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import msgspec

from ticker.brokers.base import Broker
from ticker.brokers.coordination import Coordination
from ticker.hub.filters import Matcher
from ticker.reach.events import encode, public_event
from ticker.reach.push.crypto import PLAINTEXT_MAX
from ticker.reach.push.sender import Message, PushSender
from ticker.reach.push.subscriptions import SubscriptionStore
from ticker.reach.reader import DurableReader, Event, Seen

log = logging.getLogger("ticker.push")
CLAIM_SECONDS = 7 * 24 * 3600
REMEMBER_SECONDS = 2 * 24 * 3600


class Pushed(msgspec.Struct, frozen=True):
    """What an item was pushed as: enough to find its subscribers again."""

    urgency: int
    category: str | None
    regions: list[str]


class PushFanout(DurableReader):
    def __init__(self, feed: str, broker: Broker, coordination: Coordination,
                 store: SubscriptionStore, sender: PushSender, holder: str, *,
                 seen: Seen | None = None, inflight: int = 1000, lease_ttl: float = 10.0,
                 poll: float = 0.25) -> None:
        super().__init__(f"push:{feed}", [feed], broker, coordination, holder, seen=seen,
                         lease_ttl=lease_ttl, poll=poll)
        self.feed = feed
        self.store = store
        self.sender = sender
        self.inflight = inflight

    async def handle(self, event: Event) -> None:
        payload = public_event(event.data)
        kind = payload.get("type")
        item = payload.get("item") if isinstance(payload.get("item"), dict) else None
        item_id = str(item.get("id") if item is not None else payload.get("id", ""))
        if kind not in ("item", "update", "retract") or not item_id:
            return
        memo = f"push:{self.feed}:{item_id}"
        if kind == "item":
            if item is None or item.get("status", "usable") != "usable":
                return
            pushed = Pushed(int(item.get("urgency", 4)), item.get("category"),
                            list(item.get("regions") or []))
        else:
            known = await self.coordination.recall(memo)
            if known is None:
                return  # never pushed: nothing to correct or take back
            pushed = msgspec.json.decode(known, type=Pushed)
        if not await self.coordination.claim(f"push:{self.feed}:{event.cursor}", CLAIM_SECONDS):
            return  # another node sent (or is sending) this event
        if kind == "item":
            await self.coordination.remember(memo, msgspec.json.encode(pushed), REMEMBER_SECONDS)
        message = Message(self.feed, fit(_message(kind, payload)), pushed.urgency, item_id)
        await self._send_to_matching(message, pushed)

    async def _send_to_matching(self, message: Message, pushed: Pushed) -> None:
        slots = asyncio.Semaphore(self.inflight)
        tasks: set[asyncio.Task[None]] = set()
        matchers: dict[tuple[Any, ...], bool] = {}
        async for batch in self.store.of_feed(self.feed):
            for sub in batch:
                key = (sub.max_urgency, tuple(sub.categories or ()), tuple(sub.regions or ()))
                if key not in matchers:  # few distinct filters among many subscribers
                    matchers[key] = Matcher(sub.filter()).item(pushed.category, pushed.regions,
                                                               pushed.urgency)
                if not matchers[key]:
                    continue
                await slots.acquire()
                task = asyncio.create_task(self.sender.send(message, sub))
                tasks.add(task)

                def done(finished: asyncio.Task[None]) -> None:
                    tasks.discard(finished)
                    slots.release()

                task.add_done_callback(done)
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)


def _message(kind: str, payload: dict[str, Any]) -> dict[str, Any]:
    """The push payload per the contract: no cursor (a push is not a position in the log)."""
    if kind == "retract":
        return {"type": "retract", "feed": payload.get("feed"), "id": payload.get("id"),
                "reason": payload.get("reason", "retracted")}
    return {"type": kind, "item": payload["item"]}


def fit(message: dict[str, Any]) -> bytes:
    """The message's JSON, made to fit one encrypted record: an item too large loses its
    ``url``, then text from its end (alerts are short; this is for the pathological case)."""
    data = encode(message)
    item = message.get("item")
    if len(data) <= PLAINTEXT_MAX or not isinstance(item, dict):
        return data
    item.pop("url", None)
    data = encode(message)
    while len(data) > PLAINTEXT_MAX and len(item.get("text", "")) > 1:
        text = item["text"]
        item["text"] = text[:max(1, len(text) - (len(data) - PLAINTEXT_MAX) - 3)] + "…"
        data = encode(message)
    return data
