"""Events: every change to a feed, at a position (``cursor``) in that feed's log."""

from __future__ import annotations

import msgspec

from ticker.model.item import Item


class ItemEvent(msgspec.Struct, frozen=True, kw_only=True, tag="item", tag_field="type"):
    """A new item."""

    cursor: str
    item: Item


class UpdateEvent(msgspec.Struct, frozen=True, kw_only=True, tag="update", tag_field="type"):
    """A correction: ``item.version`` increased."""

    cursor: str
    item: Item


class RetractEvent(msgspec.Struct, frozen=True, kw_only=True, tag="retract", tag_field="type"):
    """A retraction: the item with ``id`` is now ``canceled``."""

    cursor: str
    feed: str
    id: str


Event = ItemEvent | UpdateEvent | RetractEvent
