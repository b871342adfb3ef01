"""HTTP request bodies as decoded from JSON, before the rules in ``ticker.validation``."""

from __future__ import annotations

import msgspec


class PublishBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``POST /api/v1/feeds/{feed}/items``."""

    text: str
    source: str | None = None
    urgency: int = 4
    category: str | None = None
    regions: list[str] = []
    url: str | None = None
    lang: str | None = None


class PatchBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``PATCH /api/v1/feeds/{feed}/items/{id}``: any subset of the correctable fields.

    ``UNSET`` means "leave as it is"; ``null`` clears an optional field.
    """

    text: str | msgspec.UnsetType = msgspec.UNSET
    source: str | msgspec.UnsetType | None = msgspec.UNSET
    urgency: int | msgspec.UnsetType = msgspec.UNSET
    category: str | msgspec.UnsetType | None = msgspec.UNSET
    regions: list[str] | msgspec.UnsetType = msgspec.UNSET
    url: str | msgspec.UnsetType | None = msgspec.UNSET
