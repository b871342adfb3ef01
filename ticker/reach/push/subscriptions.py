"""Push subscriptions: the request body, its checks, and the records kept in the broker.

A subscription is stored per feed (table ``push:<feed>``, keyed by its endpoint), so a feed's
fan-out scans only its own subscribers; one endpoint may subscribe to several feeds.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import msgspec

from ticker.brokers.coordination import Coordination
from ticker.config import Settings
from ticker.errors import InvalidInput
from ticker.model import FieldError, Filter
from ticker.outbound.rules import OriginList, Refused
from ticker.reach.push.crypto import b64url_decode, client_key

ENDPOINT_MAX = 2048
DEFAULT_MAX_URGENCY = 2


class Subscription(msgspec.Struct, frozen=True, kw_only=True):
    """What is kept per subscriber and feed."""

    endpoint: str
    p256dh: str  # base64url, as the browser gave it
    auth: str
    feed: str
    max_urgency: int = DEFAULT_MAX_URGENCY
    categories: list[str] | None = None
    regions: list[str] | None = None

    def filter(self) -> Filter:
        return Filter(categories=self.categories, regions=self.regions,
                      max_urgency=self.max_urgency)


_decoder = msgspec.json.Decoder(Subscription)


def table(feed: str) -> str:
    return f"push:{feed}"


class SubscriptionStore:
    def __init__(self, coordination: Coordination) -> None:
        self.coordination = coordination

    async def add(self, sub: Subscription) -> None:
        await self.coordination.put(table(sub.feed), sub.endpoint, msgspec.json.encode(sub))

    async def remove(self, feed: str, endpoint: str) -> bool:
        return await self.coordination.delete(table(feed), endpoint)

    async def count(self, feed: str) -> int:
        return await self.coordination.count(table(feed))

    async def of_feed(self, feed: str) -> AsyncIterator[list[Subscription]]:
        async for batch in self.coordination.scan(table(feed)):
            yield [_decoder.decode(value) for _, value in batch]


def _text(body: dict[str, Any], path: str, key: str, errors: list[FieldError]) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value:
        errors.append(FieldError(path=f"{path}.{key}", message="required: a non-empty string"))
        return ""
    return value


def _names(body: dict[str, Any], key: str, allowed: list[str],
           errors: list[FieldError]) -> list[str] | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        errors.append(FieldError(path=f"$.{key}", message="must be a list of strings"))
        return None
    for index, name in enumerate(value):
        if allowed and name not in allowed:
            errors.append(FieldError(path=f"$.{key}[{index}]",
                                     message=f"{name!r} is not one of the feed's {key}"))
    return list(dict.fromkeys(value)) or None


def decode_subscription(body: Any, settings: Settings, services: OriginList) -> Subscription:
    """The checked subscription, or ``InvalidInput`` listing every broken rule."""
    if not isinstance(body, dict):
        raise InvalidInput([FieldError(path="$", message="must be a JSON object")])
    errors: list[FieldError] = []
    unknown = set(body) - {"subscription", "feed", "max_urgency", "categories", "regions"}
    errors += [FieldError(path=f"$.{k}", message="unknown field") for k in sorted(unknown)]
    sub = body.get("subscription")
    if not isinstance(sub, dict):
        errors.append(FieldError(path="$.subscription",
                                 message="required: the browser's PushSubscription as JSON"))
        sub = {}
    endpoint = _text(sub, "$.subscription", "endpoint", errors)
    if endpoint:
        if len(endpoint) > ENDPOINT_MAX:
            errors.append(FieldError(path="$.subscription.endpoint",
                                     message=f"must be at most {ENDPOINT_MAX} characters"))
        else:
            try:
                services.check(endpoint)
            except Refused as exc:
                errors.append(FieldError(path="$.subscription.endpoint",
                                         message=f"not an allowed push service: {exc}"))
    keys = sub.get("keys") if isinstance(sub.get("keys"), dict) else {}
    if not keys:
        errors.append(FieldError(path="$.subscription.keys",
                                 message="required: an object with p256dh and auth"))
    p256dh = _text(keys, "$.subscription.keys", "p256dh", errors) if keys else ""
    auth = _text(keys, "$.subscription.keys", "auth", errors) if keys else ""
    if p256dh:
        try:
            client_key(b64url_decode(p256dh))
        except (ValueError, TypeError) as exc:
            errors.append(FieldError(path="$.subscription.keys.p256dh", message=str(exc)))
    if auth:
        try:
            if len(b64url_decode(auth)) != 16:
                raise ValueError
        except ValueError:
            errors.append(FieldError(path="$.subscription.keys.auth",
                                     message="must be 16 bytes, base64url"))
    feed_id = _text(body, "$", "feed", errors)
    feed = settings.feed(feed_id) if feed_id else None
    if feed_id and feed is None:
        errors.append(FieldError(path="$.feed", message=f"{feed_id!r} is not a configured feed"))
    urgency = body.get("max_urgency", DEFAULT_MAX_URGENCY)
    if isinstance(urgency, bool) or not isinstance(urgency, int) or not 1 <= urgency <= 9:
        errors.append(FieldError(path="$.max_urgency", message="must be a whole number 1..9"))
    categories = _names(body, "categories", feed.categories if feed else [], errors)
    regions = _names(body, "regions", feed.regions if feed else [], errors)
    if errors:
        raise InvalidInput(errors)
    return Subscription(endpoint=endpoint, p256dh=p256dh, auth=auth, feed=feed_id,
                        max_urgency=urgency, categories=categories, regions=regions)
