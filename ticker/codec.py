"""The one place with msgspec encoders and decoders, and the WebSocket frame header.

Events are encoded once per node: ``ws_frame`` turns the event's JSON into a complete
server-to-client WebSocket text frame (servers never mask), so the same bytes are written to every
matching reader.
"""

from __future__ import annotations

import struct
from typing import Any

import msgspec

from ticker.model import ClientFrame, Event, Item

encoder = msgspec.json.Encoder()
event_decoder = msgspec.json.Decoder(Event)
item_decoder = msgspec.json.Decoder(Item)
client_frame_decoder = msgspec.json.Decoder(ClientFrame)


def encode(value: Any) -> bytes:
    return encoder.encode(value)


def ws_frame(payload: bytes) -> bytes:
    """A final, unmasked text frame (RFC 6455 §5.2) carrying ``payload``."""
    size = len(payload)
    if size < 126:
        return bytes((0x81, size)) + payload
    if size < 65536:
        return struct.pack("!BBH", 0x81, 126, size) + payload
    return struct.pack("!BBQ", 0x81, 127, size) + payload


def sse_block(event: str, data: bytes, event_id: str | None = None) -> bytes:
    """One Server-Sent Events message; ``data`` is single-line JSON."""
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {event}\ndata: ".encode() + data + b"\n\n"
