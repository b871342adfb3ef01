"""A WebSocket client on a bare socket: no client library between the test and the bytes.

It does the opening handshake by hand, sends frames built by ``tests.frames.client_frame``
(including the ones RFC 6455 forbids) and reads the server's frames one by one.
"""

from __future__ import annotations

import base64
import json
import os
import socket
from collections import deque
from typing import Any

from tests.frames import CLOSE, PING, TEXT, close_code, split_frames

TIMEOUT = 10.0  # upper bound on any read; never an expected duration


class RawClient:
    def __init__(self, port: int, path: str = "/ws", origin: str | None = None,
                 rcvbuf: int | None = None, timeout: float = TIMEOUT) -> None:
        self.sock = socket.socket()
        if rcvbuf is not None:  # before connect, so the window is small from the start
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect(("127.0.0.1", port))
        self.buffer = b""
        self.parsed: deque[tuple[int, bool, bytes]] = deque()  # frames read, not yet taken
        self.eof = False
        key = base64.b64encode(os.urandom(16)).decode()
        head = (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                "Sec-WebSocket-Version: 13\r\n")
        if origin is not None:
            head += f"Origin: {origin}\r\n"
        self.sock.sendall((head + "\r\n").encode())
        while b"\r\n\r\n" not in self.buffer:
            self._recv()
        response, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        self.status = int(response.split(b" ")[1])

    def _recv(self) -> None:
        data = self.sock.recv(65536)
        if not data:
            self.eof = True
            raise EOFError("the server closed the connection")
        self.buffer += data

    def send(self, *frames: bytes) -> None:
        self.sock.sendall(b"".join(frames))

    def frame(self) -> tuple[int, bool, bytes]:
        """The next server frame: (opcode, fin, payload)."""
        while not self.parsed:
            frames, self.buffer = split_frames(self.buffer)
            self.parsed.extend(frames)
            if not frames:
                self._recv()
        return self.parsed.popleft()

    def message(self) -> dict[str, Any]:
        """The next JSON text message, skipping the server's pings (JSON and WebSocket)."""
        while True:
            opcode, _, payload = self.frame()
            if opcode == PING:
                continue
            assert opcode == TEXT, (opcode, payload)
            message: dict[str, Any] = json.loads(payload)
            if message["type"] != "ping":
                return message

    def close_code(self, max_frames: int = 1000) -> tuple[int | None, list[tuple[int, bytes]]]:
        """Read until the server's close frame: its code and the frames before it."""
        before: list[tuple[int, bytes]] = []
        for _ in range(max_frames):
            opcode, _, payload = self.frame()
            if opcode == CLOSE:
                return close_code(payload), before
            before.append((opcode, payload))
        raise AssertionError(f"no close frame in {max_frames} frames: {before[:5]}")

    def server_closed(self) -> bool:
        """Whether the server ends the TCP connection (reads and drops anything left)."""
        try:
            for _ in range(10_000):
                self._recv()
                self.buffer = b""
        except EOFError:
            return True
        except (ConnectionResetError, TimeoutError):
            return False
        return False

    def close(self) -> None:
        self.sock.close()
