"""The wire types: the single source of truth for what ticker sends and accepts."""

from ticker.model.bodies import PatchBody, PinBody, PublishBody
from ticker.model.envelopes import (
    EventsSince,
    EventsSinceOf,
    Health,
    LatestItems,
    LatestItemsOf,
    PinState,
    PinStateOf,
    Ready,
)
from ticker.model.events import (
    Event,
    ItemEvent,
    PinEvent,
    RetractEvent,
    RetractReason,
    UpdateEvent,
)
from ticker.model.feeds import FeedInfo
from ticker.model.frames import (
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
from ticker.model.item import (
    DESK_STATUSES,
    OFF_AIR_STATUSES,
    PUBLIC_STATUSES,
    Item,
    ItemDraft,
    Status,
    Tombstone,
)
from ticker.model.problem import FieldError, Problem

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
