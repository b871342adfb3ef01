"""The newsroom's use cases: publish, correct, retract. Knows nothing of HTTP.

Who may do what is checked here (a token's feeds and role), the change is built as bytes
for the broker's atomic step, and the broker's answer is turned into a result or a typed error.
"""

from __future__ import annotations

import hashlib
import math
from typing import Any, NamedTuple

import msgspec

from ticker import codec
from ticker.auth import Claims, require_feed, require_item_access
from ticker.brokers.base import Broker, Change, Idempotency
from ticker.config import FeedConfig
from ticker.errors import Conflict, InvalidInput, NotFound, RateLimited
from ticker.model import FieldError, Item, ItemDraft, PatchBody, PublishBody
from ticker.ratelimit import RateLimiter

MAX_CONFLICT_RETRIES = 5


class Outcome(NamedTuple):
    """The item as stored (JSON and decoded) and whether this call created the change."""

    data: bytes
    item: Item
    created: bool


class Newsroom:
    def __init__(self, broker: Broker, limiter: RateLimiter) -> None:
        self._broker = broker
        self._limiter = limiter

    async def publish(self, claims: Claims, feed: FeedConfig, body: PublishBody,
                      idempotency_key: str | None = None) -> Outcome:
        require_feed(claims, feed.id)
        draft = ItemDraft(
            feed=feed.id, text=body.text, urgency=body.urgency, regions=body.regions,
            lang=body.lang or feed.lang, author=claims.sub, version=1, status="usable",
            source=body.source,
            category=body.category, url=body.url,
        )
        idem = None
        if idempotency_key is not None:
            fingerprint = hashlib.sha256(codec.encode(body)).hexdigest()
            idem = Idempotency(scope=claims.sub, key=idempotency_key, fingerprint=fingerprint)
        # A retry of a publish that went through is answered before the rate limit is charged:
        # it publishes nothing, and a 429 would break the promise of getting the same item.
        result = await self._broker.recall(feed.id, idem) if idem is not None else None
        if result is None:
            await self._take_rate(claims.sub)
            result = await self._broker.publish(feed.id, Change("item", codec.encode(draft)), idem)
        if result.status == "mismatch":
            raise InvalidInput([FieldError(
                path="header.Idempotency-Key",
                message="this key was already used with a different body",
            )])
        if result.item is None:  # a duplicate whose item left the store (``item_retention``)
            raise Conflict("the item this Idempotency-Key published is no longer kept; "
                           "nothing new was published")
        return Outcome(result.item, codec.item_decoder.decode(result.item),
                       result.status == "published")

    async def correct(self, claims: Claims, feed: FeedConfig, item_id: str,
                      patch: PatchBody) -> Outcome:
        def change(item: Item) -> Item:
            fields = {k: v for k, v in msgspec.structs.asdict(patch).items()
                      if v is not msgspec.UNSET}
            return msgspec.structs.replace(item, version=item.version + 1, **fields)

        return await self._replace(claims, feed, item_id, "update", change)

    async def retract(self, claims: Claims, feed: FeedConfig, item_id: str) -> Outcome:
        return await self._replace(
            claims, feed, item_id, "retract",
            lambda item: msgspec.structs.replace(item, status="canceled"),
        )

    async def _replace(self, claims: Claims, feed: FeedConfig, item_id: str, kind: Any,
                       change: Any) -> Outcome:
        require_feed(claims, feed.id)
        await self._take_rate(claims.sub)  # corrections and retractions share the publish rate
        for _ in range(MAX_CONFLICT_RETRIES):
            current = await self.get(feed.id, item_id)
            require_item_access(claims, current.author)
            if current.status == "canceled":
                raise Conflict(f"item {item_id} was retracted and can no longer be changed")
            new = change(current)
            body = msgspec.to_builtins(new)
            del body["updated_at"]
            result = await self._broker.publish(
                feed.id, Change(kind, codec.encode(body), item_id, current.version), None,
            )
            if result.status == "published":
                data = result.item or b""
                return Outcome(data, codec.item_decoder.decode(data), True)
            if result.status == "not_found":
                raise NotFound(f"no item {item_id} in feed {feed.id!r}")
            if result.status == "canceled":
                raise Conflict(f"item {item_id} was retracted and can no longer be changed")
            # "conflict": someone else changed it meanwhile; read it again and retry
        raise Conflict(f"item {item_id} is being changed by others; try again")

    async def _take_rate(self, subject: str) -> None:
        wait = await self._limiter.hit(subject)
        if wait > 0:
            raise RateLimited(max(1, math.ceil(wait)),
                              "too many changes from this token; try again after Retry-After")

    async def get(self, feed: str, item_id: str) -> Item:
        data = await self.get_json(feed, item_id)
        return codec.item_decoder.decode(data)

    async def get_json(self, feed: str, item_id: str) -> bytes:
        data = await self._broker.get_item(feed, item_id)
        if data is None:
            raise NotFound(f"no item {item_id!r} in feed {feed!r}")
        return data
