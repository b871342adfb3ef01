"""The desk's wire types (issue 13): an item's history, the queue, the desk stream's events."""

from __future__ import annotations

from typing import Literal

import msgspec

from ticker.model.item import Item

Action = Literal["submitted", "scheduled", "published", "approved", "rejected", "corrected",
                 "held", "released", "retracted", "expired", "pinned", "unpinned"]


class HistoryEntry(msgspec.Struct, frozen=True, kw_only=True):
    """One action on an item: ``by`` the token's ``sub`` (``scheduler`` for an embargo going
    live or an expiry), ``at`` when (RFC 3339), ``version`` the item's version after it."""

    action: Action
    by: str
    at: str
    version: int


class History(msgspec.Struct, frozen=True, kw_only=True):
    """``GET /api/v1/feeds/{feed}/items/{id}/history``: every action, oldest first."""

    id: str
    history: list[HistoryEntry]


class Queue(msgspec.Struct, frozen=True, kw_only=True):
    """``GET /api/v1/feeds/{feed}/queue``: ``submitted`` and ``scheduled`` items, oldest first,
    notes included."""

    items: list[Item]


class DeskQueue(msgspec.Struct, frozen=True, kw_only=True):
    """Desk stream ``event: queue``: the queue as it is now (replace what the desk shows)."""

    feed: str
    items: list[Item]


class DeskNotice(msgspec.Struct, frozen=True, kw_only=True, tag="desk", tag_field="type"):
    """Desk stream ``event: desk``: one action on one item, with the item as it now is (note
    included)."""

    feed: str
    id: str
    action: Action
    by: str
    at: str
    version: int
    item: Item


class DeskReaders(msgspec.Struct, frozen=True, kw_only=True):
    """Desk stream ``event: readers``: readers subscribed to the feed across all nodes."""

    feed: str
    readers: int


class DeskEnd(msgspec.Struct, frozen=True, kw_only=True):
    """Desk stream ``event: end``: the token no longer opens the stream (revoked, expired)."""

    reason: str
