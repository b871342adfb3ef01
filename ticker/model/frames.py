"""WebSocket frames, one JSON object per text frame, tagged on ``type``."""

from __future__ import annotations

import msgspec

from .item import Item


class Filter(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """What a subscription wants. Empty lists and ``None`` mean "everything"."""

    categories: list[str] | None = None
    regions: list[str] | None = None
    max_urgency: int | None = None


class Subscribe(
    msgspec.Struct, frozen=True, kw_only=True, tag="subscribe", tag_field="type",
    forbid_unknown_fields=True,
):
    feed: str
    since: str | None = None
    filter: Filter | None = None


class Unsubscribe(
    msgspec.Struct, frozen=True, kw_only=True, tag="unsubscribe", tag_field="type",
    forbid_unknown_fields=True,
):
    feed: str


ClientFrame = Subscribe | Unsubscribe


class Subscribed(msgspec.Struct, frozen=True, kw_only=True, tag="subscribed", tag_field="type"):
    feed: str
    recovered: bool


class Unsubscribed(
    msgspec.Struct, frozen=True, kw_only=True, tag="unsubscribed", tag_field="type",
):
    """Acknowledges an ``unsubscribe``: nothing more of that feed follows."""

    feed: str


class Snapshot(msgspec.Struct, frozen=True, kw_only=True, tag="snapshot", tag_field="type"):
    """The latest items (newest last), and the feed's pinned item (``null``: none)."""

    feed: str
    cursor: str
    items: list[Item]
    pinned: Item | None = None


class Ping(msgspec.Struct, frozen=True, tag="ping", tag_field="type"):
    pass


class ErrorFrame(msgspec.Struct, frozen=True, kw_only=True, tag="error", tag_field="type"):
    code: str
    message: str
