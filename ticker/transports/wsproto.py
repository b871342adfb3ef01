"""A lean sans-I/O WebSocket server protocol (RFC 6455): the upgrade handshake and client frames.

It replaces websockets' ``ServerProtocol`` behind ``transports/websocket.py`` with the same calls
(``receive_data``, ``events_received``, ``data_to_send``, ``accept``/``reject``/``send_response``,
``send_close``, ``fail``, ``receive_eof``, ``state``) and the same answers to a client, because a
ticker node holds tens of thousands of mostly idle connections and pays for each one twice:

- memory: an idle ``ServerProtocol`` is about 1.9 KB (a generator-based parser with its own
  stream buffer, handshake state, logger adapter, ...). This one is a few slotted fields; its
  buffers exist only while bytes are waiting;
- CPU per new connection: uvicorn has already parsed the upgrade request with httptools and
  hands it over as clean bytes; the answer is one pre-built byte string plus the accept key.

What it checks, as ``ServerProtocol`` does (and the RFC 6455 suites in tests/unit/test_ws_frames.py
and tests/integration/test_rfc6455.py hold it to): client frames must be masked, RSV bits must be
0 (no extension is negotiated: ticker declines permessage-deflate), reserved opcodes, control
frames at most 125 bytes and never fragmented, continuations only inside a fragmented message and
data frames never inside one (``1002``); a message over ``max_size`` bytes in all its fragments
(``1009``); a close frame of one byte or with a code that may not be sent (``1002``) or a reason
that is not UTF-8 (``1007``). Pings are answered with pongs, a client's close is echoed and
followed by the end of the stream. The application checks the rest (text UTF-8, frame budget).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Mapping
from typing import Final

from websockets.frames import Frame, Opcode
from websockets.protocol import State
from websockets.utils import apply_mask

GUID: Final = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
MAX_HEAD: Final = 16384  # bytes of request head buffered before the connection is dropped
_DATA = frozenset((Opcode.TEXT, Opcode.BINARY))
_OPCODES = {int(op): op for op in Opcode}
_CLOSE_CODES = frozenset((1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013,
                          1014))
_REASONS = {101: "Switching Protocols", 400: "Bad Request", 403: "Forbidden",
            404: "Not Found", 426: "Upgrade Required", 429: "Too Many Requests"}


class ProtocolError(Exception):
    """A client frame that breaks RFC 6455: the connection fails with ``code``."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code


class Headers(dict[str, str]):
    """Request headers by lower-case name; ``get`` takes any case."""

    def get(self, key: str, default: str | None = None) -> str | None:  # type: ignore[override]
        return dict.get(self, key.lower(), default)


class Request:
    """The upgrade request: its target and headers."""

    __slots__ = ("headers", "method", "path")

    def __init__(self, method: str, path: str, headers: Mapping[str, str]) -> None:
        self.method = method
        self.path = path
        self.headers = headers


class Response:
    """A handshake answer: the status and the bytes to write."""

    __slots__ = ("data", "status_code")

    def __init__(self, status_code: int, data: bytes) -> None:
        self.status_code = status_code
        self.data = data


def close_frame(code: int, reason: str) -> bytes:
    """A server close frame (unmasked); the reason is cut to fit 125 bytes."""
    payload = code.to_bytes(2, "big") + reason.encode()[:123]
    return bytes((0x88, len(payload))) + payload


def control_frame(opcode: int, payload: bytes) -> bytes:
    return bytes((0x80 | opcode, len(payload))) + payload


class ServerProtocol:
    """One connection's WebSocket state; see the module."""

    __slots__ = ("_buf", "_discard", "_eof_sent", "_events", "_msg_size", "_out", "max_size",
                 "state")

    def __init__(self, max_size: int) -> None:
        self.max_size = max_size  # bytes a message may have in all its fragments
        self.state = State.CONNECTING
        self._buf: bytes = b""  # received bytes not yet parsed
        self._events: list[Request | Frame] | None = None  # parsed since the last receive
        self._out: list[bytes] | None = None  # bytes to write; b"" = end of stream
        self._msg_size = -1  # bytes of the fragmented message so far; -1: none in progress
        self._discard = False  # the connection failed or ended: read nothing more
        self._eof_sent = False

    # -- input --------------------------------------------------------------------------------

    def receive_data(self, data: bytes) -> None:
        self._events = []
        if self._discard:
            return
        buf = self._buf + data if self._buf else data
        self._buf = b""
        if self.state is State.CONNECTING:
            self._receive_head(buf)
        else:
            self._receive_frames(buf)

    def receive_eof(self) -> None:
        self._events = []
        if self._discard:
            return
        if self.state is State.CLOSING:
            self.state = State.CLOSED
            self._send_eof()
            self._discard = True
        else:
            self.fail(1006, "unexpected end of stream")

    def events_received(self) -> list[Request | Frame]:
        """What the last ``receive_*`` parsed; frames parsed while these are handled (bytes
        that came with the upgrade request, parsed once it is accepted) are appended."""
        return self._events if self._events is not None else []

    def data_to_send(self) -> list[bytes]:
        out, self._out = self._out, None
        self._events = None
        return out or []

    # -- the handshake ----------------------------------------------------------------------

    def accept(self, request: Request) -> Response:
        """101 for a valid upgrade request, else the 400/426 that says what is wrong."""
        headers = request.headers
        if request.method != "GET":
            return self.reject(400, "Failed to open a WebSocket connection: not a GET request.\n")
        if "upgrade" not in (headers.get("connection") or "").lower():
            return self.reject(400, "Failed to open a WebSocket connection: "
                               "missing Connection: Upgrade.\n")
        if (headers.get("upgrade") or "").lower() != "websocket":
            return self.reject(400, "Failed to open a WebSocket connection: "
                               "missing Upgrade: websocket.\n")
        key = headers.get("sec-websocket-key") or ""
        try:
            valid_key = len(base64.b64decode(key, validate=True)) == 16
        except binascii.Error:
            valid_key = False
        if not valid_key:
            return self.reject(400, "Failed to open a WebSocket connection: "
                               "invalid Sec-WebSocket-Key header.\n")
        if headers.get("sec-websocket-version") != "13":
            return Response(426, _response(426, "Failed to open a WebSocket connection: "
                                           "unsupported Sec-WebSocket-Version.\n",
                                           "Sec-WebSocket-Version: 13\r\n"))
        accept = base64.b64encode(hashlib.sha1(key.encode() + GUID).digest())
        return Response(101, b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                        b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n")

    def take_response(self) -> bytes:
        """The handshake response ``send_response`` queued, for the caller to write itself
        (with the frames that follow it)."""
        assert self._out
        return self._out.pop(0)

    def reject(self, status: int, text: str) -> Response:
        return Response(status, _response(status, text))

    def send_response(self, response: Response) -> None:
        self._send(response.data)
        if response.status_code == 101:
            self.state = State.OPEN
            rest, self._buf = self._buf, b""
            if rest:  # frames the client sent right behind its request
                self._receive_frames(rest)
        else:
            self._send_eof()
            self._discard = True

    # -- output -----------------------------------------------------------------------------

    def send_close(self, code: int, reason: str) -> None:
        """Start the closing handshake; the peer's close ends it."""
        self._send(close_frame(code, reason))
        self.state = State.CLOSING

    def fail(self, code: int, reason: str) -> None:
        """Fail the connection: a close frame (unless 1006), the end of the stream, and
        nothing more is read."""
        if self.state is State.OPEN and code != 1006:
            self._send(close_frame(code, reason))
            self.state = State.CLOSING
        self._send_eof()
        self._discard = True
        self._buf = b""

    # -- internals --------------------------------------------------------------------------

    def _send(self, data: bytes) -> None:
        if self._out is None:
            self._out = [data]
        else:
            self._out.append(data)

    def _send_eof(self) -> None:
        if not self._eof_sent:
            self._eof_sent = True
            self._send(b"")

    def _receive_head(self, buf: bytes) -> None:
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            if len(buf) > MAX_HEAD:
                self.fail(1006, "request head too long")
            else:
                self._buf = buf
            return
        head, self._buf = buf[:end], buf[end + 4:]
        lines = head.decode("latin-1").split("\r\n")
        parts = lines[0].split(" ")
        if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
            self._send(_response(400, "Bad Request\n"))
            self._send_eof()
            self._discard = True
            return
        headers = Headers()
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if not sep:
                continue
            name = name.strip().lower()
            value = value.strip()
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        assert self._events is not None
        self._events.append(Request(parts[0], parts[1], headers))

    def _receive_frames(self, buf: bytes) -> None:
        events = self._events
        assert events is not None
        pos, size = 0, len(buf)
        try:
            while size - pos >= 2:
                b0, b1 = buf[pos], buf[pos + 1]
                length = b1 & 0x7F
                head = 2
                if length == 126:
                    if size - pos < 4:
                        break
                    length = int.from_bytes(buf[pos + 2:pos + 4], "big")
                    head = 4
                elif length == 127:
                    if size - pos < 10:
                        break
                    length = int.from_bytes(buf[pos + 2:pos + 10], "big")
                    head = 10
                opcode = _OPCODES.get(b0 & 0x0F)
                if opcode is None:
                    raise ProtocolError(1002, "invalid opcode")
                if not b1 & 0x80:
                    raise ProtocolError(1002, "incorrect masking")
                limit = self.max_size - (self._msg_size if self._msg_size > 0 else 0)
                if length > limit:
                    raise ProtocolError(1009, f"frame with {length} bytes exceeds limit of "
                                        f"{limit} bytes")
                end = pos + head + 4 + length
                if end > size:
                    break
                mask = buf[pos + head:pos + head + 4]
                data = apply_mask(buf[pos + head + 4:end], mask) if length else b""
                pos = end
                fin = bool(b0 & 0x80)
                if b0 & 0x70:
                    raise ProtocolError(1002, "reserved bits must be 0")
                if opcode >= 8:
                    if length > 125:
                        raise ProtocolError(1002, "control frame too long")
                    if not fin:
                        raise ProtocolError(1002, "fragmented control frame")
                frame = Frame(opcode, data, fin)
                self._frame(frame)
                events.append(frame)
                if self._discard:
                    return
        except ProtocolError as exc:
            self.fail(exc.code, str(exc))
            return
        except UnicodeDecodeError as exc:
            self.fail(1007, f"{exc.reason} at position {exc.start}")
            return
        if pos < size:
            self._buf = buf[pos:]

    def _frame(self, frame: Frame) -> None:
        """The protocol's part of a frame: message sequencing, pongs, the closing handshake."""
        opcode = frame.opcode
        data = bytes(frame.data)  # bytes already (parsed here): no copy
        if opcode in _DATA:
            if self._msg_size >= 0:
                raise ProtocolError(1002, "expected a continuation frame")
            self._msg_size = -1 if frame.fin else len(frame.data)
        elif opcode is Opcode.CONT:
            if self._msg_size < 0:
                raise ProtocolError(1002, "unexpected continuation frame")
            self._msg_size = -1 if frame.fin else self._msg_size + len(frame.data)
        elif opcode is Opcode.PING:
            if self.state is State.OPEN:
                self._send(control_frame(0xA, data))
        elif opcode is Opcode.CLOSE:
            if len(data) == 1:
                raise ProtocolError(1002, "close frame too short")
            if data:
                code = int.from_bytes(data[:2], "big")
                if code not in _CLOSE_CODES and not 3000 <= code < 5000:
                    raise ProtocolError(1002, f"invalid status code {code}")
                data[2:].decode()
            if self._msg_size >= 0:
                raise ProtocolError(1002, "incomplete fragmented message")
            if self.state is State.OPEN:
                self._send(control_frame(0x8, data))
            self.state = State.CLOSING
            self._send_eof()
            self._discard = True


def _response(status: int, text: str, extra: str = "") -> bytes:
    body = text.encode()
    return (f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}\r\nConnection: close\r\n"
            f"Content-Type: text/plain; charset=utf-8\r\nContent-Length: {len(body)}\r\n"
            f"{extra}\r\n").encode() + body
