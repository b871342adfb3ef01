"""Test helper: split server-to-client WebSocket bytes back into JSON messages."""

from __future__ import annotations

import json
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
