"""The wire types: the single source of truth for what ticker sends and accepts."""

from ticker.model.bodies import PatchBody, PublishBody
from ticker.model.envelopes import (
    EventsSince,
    EventsSinceOf,
    Health,
    LatestItems,
    LatestItemsOf,
    Ready,
)
from ticker.model.events import Event, ItemEvent, RetractEvent, UpdateEvent
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
from ticker.model.item import Item, ItemDraft, Status
from ticker.model.problem import FieldError, Problem

__all__ = [
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
    "Ping",
    "Problem",
    "PublishBody",
    "Ready",
    "RetractEvent",
    "Snapshot",
    "Status",
    "Subscribe",
    "Subscribed",
    "Unsubscribe",
    "Unsubscribed",
    "UpdateEvent",
]
