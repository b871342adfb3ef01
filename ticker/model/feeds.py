"""The public description of a configured feed (``GET /api/v1/feeds``)."""

from __future__ import annotations

from typing import Literal

import msgspec


class FeedInfo(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    title: str
    lang: str
    direction: Literal["ltr", "rtl"]
    categories: list[str]
    regions: list[str]
    readers: int = 0  # readers subscribed across every node, at most 5 s old
