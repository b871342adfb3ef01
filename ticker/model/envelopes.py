"""Response envelopes: one definition for the bytes and for the schema.

The items and events inside them are stored by the broker as JSON and passed through untouched,
so each envelope is generic in what it carries: the handlers encode ``LatestItemsOf[Raw]`` with
the broker's bytes (``msgspec.Raw``), and the OpenAPI document describes the same Struct with
``Item`` and ``Event`` in their place (``LatestItems``, ``EventsSince``).
"""

from __future__ import annotations

from typing import Generic, TypeVar

import msgspec

from .events import Event
from .item import Item

ItemT = TypeVar("ItemT")
EventT = TypeVar("EventT")


class LatestItemsOf(msgspec.Struct, Generic[ItemT], frozen=True, kw_only=True):
    feed: str
    cursor: str
    items: list[ItemT]
    pinned: ItemT | None = None


class PinStateOf(msgspec.Struct, Generic[ItemT], frozen=True, kw_only=True):
    feed: str
    pinned: ItemT | None


class EventsSinceOf(msgspec.Struct, Generic[ItemT, EventT], frozen=True, kw_only=True,
                    omit_defaults=True):
    feed: str
    recovered: bool
    cursor: str
    events: list[EventT]
    items: list[ItemT] = []


class LatestItems(LatestItemsOf[Item], frozen=True, kw_only=True):
    """``GET /api/v1/feeds/{feed}/items`` without ``since``: the latest items, newest last, and
    the feed's pinned item (``null``: none); live events continue after ``cursor``."""


class PinState(PinStateOf[Item], frozen=True, kw_only=True):
    """``PUT`` and ``DELETE /api/v1/feeds/{feed}/pin``: the feed's pinned item now (with its
    note, for the editor), or ``null``."""


class EventsSince(EventsSinceOf[Item, Event], frozen=True, kw_only=True, omit_defaults=True):
    """``GET /api/v1/feeds/{feed}/items?since=C``. ``recovered: true``: ``events`` are every event
    after ``since``, oldest first, and ``cursor`` is the last of them. ``recovered: false``:
    ``since`` is no longer retained; ``events`` is empty and ``items`` holds the latest items
    (newest last) to replace what the client shows, with ``cursor`` where to continue."""


class Health(msgspec.Struct, frozen=True, kw_only=True):
    """``GET /healthz``."""

    status: str


class Ready(msgspec.Struct, frozen=True, kw_only=True):
    """``GET /readyz``: ``broker`` is the engine's URL scheme."""

    status: str
    broker: str
