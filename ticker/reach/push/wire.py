"""The push endpoints' bodies as Structs: the schema the OpenAPI document is generated from.

Requests are checked field by field in ``subscriptions.decode_subscription`` (so one ``422``
lists every broken rule); these types say what a valid body looks like.
"""

from __future__ import annotations

import msgspec


class PushKeys(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    p256dh: str  # the browser's P-256 public key, uncompressed point, base64url
    auth: str  # 16 random bytes, base64url


class PushSubscriptionJSON(msgspec.Struct, frozen=True, kw_only=True,
                           forbid_unknown_fields=True):
    """What the browser's ``PushSubscription.toJSON()`` gives."""

    endpoint: str
    keys: PushKeys
    expirationTime: float | None = None  # the browser's name for it


class PushSubscribeBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``POST /api/v1/push/subscriptions``."""

    subscription: PushSubscriptionJSON
    feed: str
    max_urgency: int = 2
    categories: list[str] | None = None
    regions: list[str] | None = None


class PushSubscribed(msgspec.Struct, frozen=True, kw_only=True):
    """The subscription as it is kept (``201``)."""

    feed: str
    endpoint: str
    max_urgency: int
    categories: list[str] | None
    regions: list[str] | None


class PushUnsubscribeBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``DELETE /api/v1/push/subscriptions``: removes the endpoint from every feed."""

    endpoint: str


class PushKey(msgspec.Struct, frozen=True, kw_only=True):
    """``GET /api/v1/push/key``: the VAPID application server key (base64url, uncompressed
    P-256 point), the same on every node and across restarts."""

    public_key: str
