"""The wire types: the single source of truth for what ticker sends and accepts.

Only msgspec and relative imports in this package: the publishers' distribution ships these same
files as ``ticker_publishers.wire`` (``publishers/ticker_publishers/wire`` is a link here), so a
client gets the wire types without installing the server. ``tests/unit/test_packaging.py`` checks.
"""

from .bodies import PatchBody, PinBody, PublishBody
from .envelopes import (
    EventsSince,
    EventsSinceOf,
    Health,
    LatestItems,
    LatestItemsOf,
    PinState,
    PinStateOf,
    Ready,
)
from .events import (
    Event,
    ItemEvent,
    PinEvent,
    RetractEvent,
    RetractReason,
    UpdateEvent,
)
from .feeds import FeedInfo
from .frames import (
    ClientFrame,
    ErrorFrame,
    Filter,
    Ping,
    Snapshot,
    Subscribe,
    Subscribed,
    Unsubscribe,
    Unsubscribed,
)
from .item import (
    DESK_STATUSES,
    OFF_AIR_STATUSES,
    PUBLIC_STATUSES,
    Item,
    ItemDraft,
    Status,
    Tombstone,
)
from .problem import FieldError, Problem

__all__ = [
    "DESK_STATUSES",
    "OFF_AIR_STATUSES",
    "PUBLIC_STATUSES",
    "ClientFrame",
    "ErrorFrame",
    "Event",
    "EventsSince",
    "EventsSinceOf",
    "FeedInfo",
    "FieldError",
    "Filter",
    "Health",
    "Item",
    "ItemDraft",
    "ItemEvent",
    "LatestItems",
    "LatestItemsOf",
    "PatchBody",
    "PinBody",
    "PinEvent",
    "PinState",
    "PinStateOf",
    "Ping",
    "Problem",
    "PublishBody",
    "Ready",
    "RetractEvent",
    "RetractReason",
    "Snapshot",
    "Status",
    "Subscribe",
    "Subscribed",
    "Tombstone",
    "Unsubscribe",
    "Unsubscribed",
    "UpdateEvent",
]
