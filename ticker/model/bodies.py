"""HTTP request bodies as decoded from JSON, before the rules in ``ticker.validation``."""

from __future__ import annotations

import msgspec


class PublishBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``POST /api/v1/feeds/{feed}/items``.

    ``embargoed_until`` and ``expires`` are RFC 3339 times (normalised to UTC with milliseconds
    by the validation); ``note`` is the editor's private note.
    """

    text: str
    source: str | None = None
    urgency: int = 4
    category: str | None = None
    regions: list[str] = []
    url: str | None = None
    lang: str | None = None
    embargoed_until: str | None = None
    expires: str | None = None
    note: str | None = None


class PatchBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``PATCH /api/v1/feeds/{feed}/items/{id}``: any subset of the correctable fields.

    ``UNSET`` means "leave as it is"; ``null`` clears an optional field. ``embargoed_until`` may
    change only while the item is ``scheduled`` or ``submitted``.
    """

    text: str | msgspec.UnsetType = msgspec.UNSET
    source: str | msgspec.UnsetType | None = msgspec.UNSET
    urgency: int | msgspec.UnsetType = msgspec.UNSET
    category: str | msgspec.UnsetType | None = msgspec.UNSET
    regions: list[str] | msgspec.UnsetType = msgspec.UNSET
    url: str | msgspec.UnsetType | None = msgspec.UNSET
    expires: str | msgspec.UnsetType | None = msgspec.UNSET
    embargoed_until: str | msgspec.UnsetType | None = msgspec.UNSET
    note: str | msgspec.UnsetType | None = msgspec.UNSET


class PinBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``PUT /api/v1/feeds/{feed}/pin``: the item to pin (it must be ``usable``)."""

    id: str
