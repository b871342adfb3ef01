"""Both ways a WebSocket upgrade reaches the WebSocket protocol: whole in the connection's first
read (``TickerHttp`` hands it over at once) or in pieces (uvicorn parses it first). Both must
answer the same: a 101 and, for a URL subscription, ``subscribed`` and ``snapshot`` frames, the
101 written together with them."""

from __future__ import annotations

import base64
import json
import os
import socket
import time

import pytest

from tests.frames import split_frames
from tests.servers import Server

TIMEOUT = 10.0  # upper bound on any read; never an expected duration


def _upgrade(port: int, pieces: int) -> list[str]:
    key = base64.b64encode(os.urandom(16)).decode()
    head = (f"GET /ws?feed=en HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        step = -(-len(head) // pieces)
        for start in range(0, len(head), step):
            sock.sendall(head[start:start + step])
            if pieces > 1:
                time.sleep(0.05)  # separate reads on the server's side
        data = b""
        for _ in range(100):  # bounded: at most 100 reads
            frames, _ = split_frames(data.partition(b"\r\n\r\n")[2])
            if b"\r\n\r\n" in data and len(frames) >= 2:
                break
            chunk = sock.recv(65536)
            assert chunk, "the server closed the connection"
            data += chunk
    response, _, rest = data.partition(b"\r\n\r\n")
    assert response.startswith(b"HTTP/1.1 101 ")
    frames, _ = split_frames(rest)
    return [json.loads(payload)["type"] for _, _, payload in frames]


@pytest.mark.parametrize("pieces", [1, 3], ids=["whole", "in-pieces"])
def test_an_upgrade_whole_or_in_pieces_subscribes_from_the_url(server: Server,
                                                               pieces: int) -> None:
    assert _upgrade(server.port, pieces) == ["subscribed", "snapshot"]
