"""Events from the log, as the world outside may see them (push payloads, webhook bodies).

Every event type is forwarded as it is, so types the log gains later (holds, pins, …) pass through
without changes here; only fields that never leave the desk are taken out of an event's item.
"""

from __future__ import annotations

from typing import Any

import msgspec

DESK_ONLY = ("note",)  # item fields never in any public output (contract: editorial lifecycle)

_decoder = msgspec.json.Decoder(dict[str, Any])
_encoder = msgspec.json.Encoder()


def public_event(data: bytes) -> dict[str, Any]:
    """The event as a dict, its item (if any) without desk-only fields."""
    event = _decoder.decode(data)
    item = event.get("item")
    if isinstance(item, dict):
        for name in DESK_ONLY:
            item.pop(name, None)
    return event


def encode(value: Any) -> bytes:
    return _encoder.encode(value)
