"""The item: one short breaking line, as readers and publishers see it on the wire."""

from __future__ import annotations

from typing import Literal

import msgspec

Status = Literal["usable", "withheld", "canceled", "submitted", "scheduled"]
"""IPTC ninjs ``pubStatus``: ``usable`` (on the air), ``withheld`` (held: off the air, may come
back), ``canceled`` (retracted or killed: final). ``submitted`` (awaiting an editor) and
``scheduled`` (waiting for its embargo) exist only on the desk, never in a public output."""

PUBLIC_STATUSES: frozenset[str] = frozenset({"usable", "withheld", "canceled"})
DESK_STATUSES: frozenset[str] = frozenset({"submitted", "scheduled"})
OFF_AIR_STATUSES: frozenset[str] = frozenset({"withheld", "canceled"})  # public reads: tombstone


class ItemDraft(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """An item before the broker stamps it.

    The broker's atomic publish step assigns ``id``, ``published_at`` and ``updated_at`` (it
    alone knows the sequence and the log's clock) and prepends them to this object's JSON.
    Optional fields that are unset are left out of the JSON.

    ``pinned`` and ``note`` are never part of the stored JSON or of any event's item: the feed
    keeps which item is pinned, and notes live beside the items (private). Reads merge them in:
    ``pinned`` where the pinned item is served (snapshot ``pinned``, ``pin`` events, reads by id),
    ``note`` only for a token valid for the feed.
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
    embargoed_until: str | None = None  # RFC 3339; a future one makes the item ``scheduled``
    expires: str | None = None  # RFC 3339; then the item leaves the air (reason ``expired``)
    pinned: bool = False  # merged on reads, never stored (see above)
    note: str | None = None  # private (ninjs edNote); merged only for a token valid for the feed


class Item(ItemDraft, frozen=True, kw_only=True, omit_defaults=True):
    """A breaking item, as stored and served: a draft with the fields the broker stamped."""

    id: str
    published_at: str
    updated_at: str


class Tombstone(msgspec.Struct, frozen=True, kw_only=True):
    """A public read of a ``withheld`` or ``canceled`` item: what it was, never what it said."""

    id: str
    feed: str
    status: Status
    version: int
    updated_at: str
