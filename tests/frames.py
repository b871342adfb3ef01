"""Test helpers: WebSocket frames byte by byte — client frames built as RFC 6455 lays them
out, server bytes split back into frames and JSON messages."""

from __future__ import annotations

import json
import os
import struct
from typing import Any

from tests.frame_schemas import check_server_frame


def parse_frames(data: bytes) -> list[dict[str, Any]]:
    """Unmasked text frames → decoded JSON objects (SSE is not handled here)."""
    messages = []
    pos = 0
    while pos < len(data):
        first, second = data[pos], data[pos + 1]
        assert first == 0x81, f"expected a final text frame, got {first:#x}"
        size = second & 0x7F
        pos += 2
        if size == 126:
            (size,) = struct.unpack_from("!H", data, pos)
            pos += 2
        elif size == 127:
            (size,) = struct.unpack_from("!Q", data, pos)
            pos += 8
        message = json.loads(data[pos:pos + size])
        check_server_frame(message)
        messages.append(message)
        pos += size
    return messages


def client_frame(opcode: int, payload: bytes = b"", *, fin: bool = True, rsv: int = 0,
                 masked: bool = True) -> bytes:
    """One client-to-server frame as RFC 6455 §5.2 lays it out (``rsv``: the three reserved
    bits as a number 0-7; clients must mask, ``masked=False`` breaks that rule)."""
    first = (0x80 if fin else 0) | (rsv << 4) | opcode
    bit = 0x80 if masked else 0
    size = len(payload)
    if size < 126:
        head = bytes((first, bit | size))
    elif size < 65536:
        head = struct.pack("!BBH", first, bit | 126, size)
    else:
        head = struct.pack("!BBQ", first, bit | 127, size)
    if not masked:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def split_frames(data: bytes) -> tuple[list[tuple[int, bool, bytes]], bytes]:
    """Server-to-client frames (never masked) → [(opcode, fin, payload)], and the bytes of an
    incomplete frame at the end."""
    frames = []
    pos = 0
    while pos + 2 <= len(data):
        first, second = data[pos], data[pos + 1]
        assert not second & 0x80, "a server frame must not be masked"
        size, start = second & 0x7F, pos + 2
        if size == 126:
            if start + 2 > len(data):
                break
            (size,) = struct.unpack_from("!H", data, start)
            start += 2
        elif size == 127:
            if start + 8 > len(data):
                break
            (size,) = struct.unpack_from("!Q", data, start)
            start += 8
        if start + size > len(data):
            break
        frames.append((first & 0x0F, bool(first & 0x80), data[start:start + size]))
        pos = start + size
    return frames, data[pos:]


def close_code(payload: bytes) -> int | None:
    """The status code of a close frame's payload (``None``: no code)."""
    return struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None


TEXT, BINARY, CONT, CLOSE, PING, PONG = 0x1, 0x2, 0x0, 0x8, 0x9, 0xA
