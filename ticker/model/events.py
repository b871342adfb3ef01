"""Events: every change to a feed, at a position (``cursor``) in that feed's log."""

from __future__ import annotations

from typing import Literal

import msgspec

from .item import Item

RetractReason = Literal["retracted", "withheld", "expired"]
"""Why an item left the air: killed (``retracted``; also what an absent reason means), held
(``withheld``: it may come back as an ``item`` event) or ``expired``."""


class ItemEvent(msgspec.Struct, frozen=True, kw_only=True, tag="item", tag_field="type"):
    """A new item, an item that went live from ``scheduled``/``submitted``, or a released one
    (its old ``id``, ``status: usable``)."""

    cursor: str
    item: Item


class UpdateEvent(msgspec.Struct, frozen=True, kw_only=True, tag="update", tag_field="type"):
    """A correction: ``item.version`` increased."""

    cursor: str
    item: Item


class RetractEvent(msgspec.Struct, frozen=True, kw_only=True, tag="retract", tag_field="type"):
    """The item with ``id`` left the air; every client removes it from view, whatever the
    ``reason``."""

    cursor: str
    feed: str
    id: str
    reason: RetractReason = "retracted"


class PinEvent(msgspec.Struct, frozen=True, kw_only=True, tag="pin", tag_field="type"):
    """The feed's pinned item changed: ``id`` (``null``: none). ``item`` is the pinned item
    (``pinned: true``), so a client can show it even if it is not among those it holds."""

    cursor: str
    feed: str
    id: str | None
    item: Item | None = None


Event = ItemEvent | UpdateEvent | RetractEvent | PinEvent
