"""The item: one short breaking line, as readers and publishers see it on the wire."""

from __future__ import annotations

from typing import Literal

import msgspec

Status = Literal["usable", "canceled"]


class ItemDraft(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """An item before the broker stamps it.

    The broker's atomic publish step assigns ``id``, ``published_at`` and ``updated_at`` (it
    alone knows the sequence and the log's clock) and prepends them to this object's JSON.
    Optional fields that are unset are left out of the JSON.
    """

    feed: str
    text: str
    urgency: int
    regions: list[str]
    lang: str
    author: str
    version: int
    status: Status
    source: str | None = None
    category: str | None = None
    url: str | None = None


class Item(ItemDraft, frozen=True, kw_only=True, omit_defaults=True):
    """A breaking item, as stored and served: a draft with the fields the broker stamped."""

    id: str
    published_at: str
    updated_at: str
