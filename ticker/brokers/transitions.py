"""Which change each item status allows: the one table both engines (and ``publish.lua``) obey.

``publish.lua`` restates this table in Lua (it must decide inside the atomic step); the broker
contract tests hold both engines to the same answers. The newsroom uses it to explain a ``409``.
"""

from __future__ import annotations

from ticker.brokers.base import Kind, PublishStatus

ALLOWED: dict[Kind, frozenset[str]] = {
    "update": frozenset({"usable", "withheld", "scheduled", "submitted"}),
    "note": frozenset({"usable", "withheld", "scheduled", "submitted"}),
    "hold": frozenset({"usable"}),
    "release": frozenset({"withheld"}),
    "retract": frozenset({"usable", "withheld", "scheduled", "submitted"}),
    "pin": frozenset({"usable"}),
    "golive": frozenset({"scheduled", "submitted"}),
    "expire": frozenset({"usable", "withheld"}),
    "approve": frozenset({"submitted"}),  # issue 13: an editor's approval
    "reject": frozenset({"submitted"}),
}
"""Kinds that change an existing item → the statuses it may have. ``item``, ``draft`` and
``unpin`` name no existing item."""

EXPIRED_ALLOWED: frozenset[Kind] = frozenset({"note", "retract"})
"""An expired item is off the air for good: only its note and a kill still apply."""

VERSIONED: frozenset[Kind] = frozenset({"update", "hold", "release", "retract", "approve",
                                        "reject"})
"""Kinds whose ``body`` was computed from the stored item: ``expected_version`` must match."""


def refusal(kind: Kind, status: str, expired: bool) -> PublishStatus | None:
    """Why an item with ``status`` (``expired`` or not) refuses ``kind``, or ``None``."""
    if status == "canceled":
        return "canceled"
    if status not in ALLOWED.get(kind, frozenset()):
        return "illegal"
    if expired and kind not in EXPIRED_ALLOWED:
        return "illegal"
    return None
