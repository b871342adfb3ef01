"""The WebSocket transport byte by byte: bytes into ``data_received``, bytes and close codes out.

As python-websockets tests its own protocol: a connection object with a fake transport that
records what is written, half-closed, closed or aborted; client frames built by hand
(``tests/frames.py``), never by a client library. The hub and the session rules are the real
ones (``build_runtime`` on the memory engine), with the feeds loaded by hand.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
from types import SimpleNamespace
from typing import Any

import pytest

from tests.frames import (
    BINARY,
    CLOSE,
    CONT,
    PING,
    PONG,
    TEXT,
    client_frame,
    close_code,
    split_frames,
)
from tests.servers import SECRET
from ticker.app import build_runtime
from ticker.brokers.base import Head
from ticker.config import load_settings
from ticker.runtime import Runtime
from ticker.transports import websocket
from ticker.transports.websocket import TickerWebSocket

SUBSCRIBE = json.dumps({"type": "subscribe", "feed": "en"}).encode()
WAIT = 5.0  # upper bound on any wait here; never an expected duration


class FakeTransport:
    """Records what the connection does to its socket."""

    def __init__(self, peer: str = "192.0.2.1") -> None:
        self.out = bytearray()
        self.peer = peer
        self.eof = False  # half-closed (write_eof)
        self.closed = False
        self.aborted = False

    def write(self, data: bytes) -> None:
        assert not self.eof and not self.closed, "a write after the socket was closed"
        self.out += data

    def write_eof(self) -> None:
        self.eof = True

    def can_write_eof(self) -> bool:
        return True

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": (self.peer, 40000)}.get(name, default)


def make_runtime(**limits: Any) -> Runtime:
    settings = load_settings({"TICKER_SECRET": SECRET, "TICKER_ALLOWED_ORIGINS":
                              "https://news.example"}, limits=limits)
    runtime = build_runtime(settings)
    for feed in settings.feeds:
        runtime.hub.load(feed.id, Head("e1", 0, [], []))
    return runtime


class Conn:
    """One connection under test: send client bytes, read server frames."""

    def __init__(self, runtime: Runtime, peer: str = "192.0.2.1",
                 origin: str | None = None, path: str = "/ws") -> None:
        self.runtime = runtime
        self.transport = FakeTransport(peer)
        self.server_state = SimpleNamespace(connections=set())
        self.ws = TickerWebSocket(None, self.server_state, {"ticker": runtime})
        self.ws.connection_made(self.transport)  # type: ignore[arg-type]
        key = base64.b64encode(os.urandom(16)).decode()
        head = (f"GET {path} HTTP/1.1\r\nHost: ticker.test\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                "Sec-WebSocket-Version: 13\r\n")
        if origin is not None:
            head += f"Origin: {origin}\r\n"
        self.ws.data_received((head + "\r\n").encode())
        response, _, rest = bytes(self.transport.out).partition(b"\r\n\r\n")
        self.status = int(response.split(b" ")[1])
        self.transport.out = bytearray(rest)
        self.pending = b""

    def send(self, *frames: bytes) -> None:
        self.ws.data_received(b"".join(frames))

    def frames(self) -> list[tuple[int, bool, bytes]]:
        """Everything written since the last call, after a flush of the fan-out."""
        self.runtime.fanout.flush()
        frames, self.pending = split_frames(self.pending + bytes(self.transport.out))
        self.transport.out = bytearray()
        return frames

    def messages(self) -> list[dict[str, Any]]:
        return [json.loads(payload) for opcode, _, payload in self.frames() if opcode == TEXT]

    def closed_with(self) -> int | None:
        """The close code the server sent last. The session must be released; a failed
        connection (anything but the closing handshakes 1012/1013, which wait for the peer's
        close) must also be half-closed or closed."""
        frames = self.frames()
        assert frames and frames[-1][0] == CLOSE, frames
        code = close_code(frames[-1][2])
        assert self.ws.closing and self.ws.session is not None and self.ws.session.closed
        if code not in (1012, 1013):
            assert self.transport.eof or self.transport.closed
        return code


def text(payload: bytes, fin: bool = True) -> bytes:
    return client_frame(TEXT, payload, fin=fin)


def cont(payload: bytes, fin: bool = False) -> bytes:
    return client_frame(CONT, payload, fin=fin)


# -- the handshake ---------------------------------------------------------------------------


async def test_upgrade_then_subscribe_answers_with_subscribed_and_snapshot() -> None:
    conn = Conn(make_runtime())
    assert conn.status == 101
    conn.send(text(SUBSCRIBE))
    assert [m["type"] for m in conn.messages()] == ["subscribed", "snapshot"]


async def test_refused_origin_gets_403_and_no_websocket() -> None:
    runtime = make_runtime()
    assert Conn(runtime, origin="https://evil.example").status == 403
    assert Conn(runtime, origin="https://news.example").status == 101
    assert Conn(runtime).status == 101  # no Origin: not a browser page
    assert len(runtime.sessions.live) == 2


async def test_the_address_limit_refuses_the_extra_connection_with_429() -> None:
    runtime = make_runtime(connections_per_ip=3)
    conns = [Conn(runtime) for _ in range(3)]
    assert [c.status for c in conns] == [101, 101, 101]
    assert Conn(runtime).status == 429
    assert Conn(runtime, peer="198.51.100.7").status == 101  # another address
    conns[0].ws.connection_lost(None)
    assert Conn(runtime).status == 101  # a slot was freed


# -- messages and fragments ------------------------------------------------------------------


async def test_a_fragmented_text_message_is_one_command_and_pings_between_fragments_are_answered(
) -> None:
    conn = Conn(make_runtime())
    conn.send(text(SUBSCRIBE[:5], fin=False), client_frame(PING, b"between"),
              cont(SUBSCRIBE[5:12]))
    conn.send(client_frame(PING, b"again"), cont(SUBSCRIBE[12:], fin=True))
    frames = conn.frames()
    pongs = [payload for opcode, _, payload in frames if opcode == PONG]
    assert pongs == [b"between", b"again"]
    kinds = [json.loads(p)["type"] for opcode, _, p in frames if opcode == TEXT]
    assert kinds == ["subscribed", "snapshot"]


async def test_a_binary_message_is_an_error_however_it_is_fragmented() -> None:
    conn = Conn(make_runtime())
    conn.send(client_frame(BINARY, SUBSCRIBE))
    conn.send(client_frame(BINARY, SUBSCRIBE[:10], fin=False), cont(SUBSCRIBE[10:20]),
              cont(SUBSCRIBE[20:], fin=True))
    messages = conn.messages()
    assert [(m["type"], m["code"]) for m in messages] == [("error", "unsupported")] * 2
    assert not conn.ws.closing
    conn.send(text(SUBSCRIBE))  # the connection is still usable
    assert conn.messages()[0]["type"] == "subscribed"


async def test_too_many_fragments_close_with_1009_and_the_rest_is_not_read() -> None:
    conn = Conn(make_runtime(fragments_max=8))
    flood = text(b"[", fin=False) + cont(b"") * 10_000
    conn.send(flood)
    assert conn.closed_with() == 1009
    assert conn.ws.fragments == 9  # the ninth frame closed it; the others were discarded
    assert not conn.runtime.sessions.live, "the session was not released"


async def test_every_continuation_is_charged_to_the_frame_budget() -> None:
    conn = Conn(make_runtime(fragments_max=100_000, frame_burst=5, frames_per_second=1.0))
    conn.send(text(b"[", fin=False), *[cont(b"") for _ in range(20)])
    frames = conn.frames()
    errors = [json.loads(p)["code"] for opcode, _, p in frames if opcode == TEXT]
    assert errors and set(errors) == {"rate_limited"}
    assert frames[-1][0] == CLOSE and close_code(frames[-1][2]) == 1008


async def test_a_message_dropped_for_the_rate_is_never_read_as_a_command() -> None:
    conn = Conn(make_runtime(frame_burst=2, frames_per_second=0.001))
    conn.send(text(b"{}"), text(b"{}"))  # the burst
    conn.send(text(SUBSCRIBE[:10], fin=False), cont(SUBSCRIBE[10:], fin=True))
    assert [m.get("code") for m in conn.messages()] == [
        "invalid_frame", "invalid_frame", "rate_limited", "rate_limited"]


async def test_deeply_nested_json_gets_an_error_frame() -> None:
    conn = Conn(make_runtime())
    deep = b'{"x":' + b"[" * 1500 + b"]" * 1500 + b',"type":"subscribe","feed":"en"}'
    conn.send(text(deep))
    (error,) = conn.messages()
    assert error["type"] == "error" and error["code"] == "malformed_json"
    assert not conn.ws.closing


# -- UTF-8 (RFC 6455 §8.1: fail the connection with 1007) -----------------------------------


@pytest.mark.parametrize("frames", [
    [text(b'{"type":"\xff"}')],
    [text(b'{"type":"', fin=False), cont(b"\xc3"), cont(b"\x28", fin=True)],  # bad sequence
    [text(b'{"a":"\xe2\x82', fin=False), cont(b"", fin=True)],  # ends inside a character
], ids=["one-frame", "across-fragments", "truncated"])
async def test_text_that_is_not_utf8_closes_with_1007(frames: list[bytes]) -> None:
    conn = Conn(make_runtime())
    conn.send(*frames)
    assert conn.closed_with() == 1007


async def test_invalid_utf8_fails_at_the_fragment_not_at_the_end() -> None:
    conn = Conn(make_runtime())
    conn.send(text(b"\xf8", fin=False))
    assert conn.closed_with() == 1007


async def test_utf8_split_between_fragments_is_fine() -> None:
    conn = Conn(make_runtime())
    frame = json.dumps({"type": "subscribe", "feed": "عاجل"}, ensure_ascii=False).encode()
    cut = frame.index("ع".encode()) + 1  # inside the two bytes of the first letter
    conn.send(text(frame[:cut], fin=False), cont(frame[cut:], fin=True))
    (error,) = conn.messages()
    assert error["code"] == "unknown_feed" and "عاجل" in error["message"]


# -- protocol errors (RFC 6455 §5, §7.4): 1002 --------------------------------------------------


@pytest.mark.parametrize("frames", [
    [client_frame(PING, b"x" * 126)],  # control frame over 125 bytes
    [client_frame(PING, b"", fin=False)],  # fragmented control frame
    [client_frame(TEXT, SUBSCRIBE, rsv=4)],  # RSV1 without an extension
    [client_frame(TEXT, SUBSCRIBE, rsv=1)],  # RSV3
    [client_frame(0x3, b"")],  # reserved data opcode
    [client_frame(0xB, b"")],  # reserved control opcode
    [cont(b"{}", fin=True)],  # continuation without a start
    [text(b"[", fin=False), text(b"]")],  # a new message inside a fragmented one
    [text(b"[", fin=False), client_frame(BINARY, b"]")],
    [client_frame(TEXT, SUBSCRIBE, masked=False)],  # clients must mask
    [client_frame(CLOSE, b"\x03\xe8"[:1])],  # a close payload of one byte
    [client_frame(CLOSE, (999).to_bytes(2, "big"))],  # close codes that must not be sent
    [client_frame(CLOSE, (1005).to_bytes(2, "big"))],
    [client_frame(CLOSE, (1006).to_bytes(2, "big"))],
    [client_frame(CLOSE, (1015).to_bytes(2, "big"))],
    [client_frame(CLOSE, (5000).to_bytes(2, "big"))],
], ids=["long-control", "fragmented-control", "rsv1", "rsv3", "opcode-3", "opcode-b",
        "orphan-continuation", "text-in-fragmented", "binary-in-fragmented", "unmasked",
        "close-1-byte", "close-999", "close-1005", "close-1006", "close-1015", "close-5000"])
async def test_protocol_errors_close_with_1002(frames: list[bytes]) -> None:
    conn = Conn(make_runtime())
    conn.send(text(SUBSCRIBE))
    conn.frames()
    conn.send(*frames)
    assert conn.closed_with() == 1002
    assert not conn.runtime.sessions.live


async def test_a_close_reason_that_is_not_utf8_closes_with_1007() -> None:
    conn = Conn(make_runtime())
    conn.send(client_frame(CLOSE, (1000).to_bytes(2, "big") + b"\xff"))
    assert conn.closed_with() == 1007


# -- closing ---------------------------------------------------------------------------------


@pytest.mark.parametrize("code", [1000, 1001, 3000, 4999])
async def test_a_client_close_is_echoed_and_the_session_released(code: int) -> None:
    conn = Conn(make_runtime())
    conn.send(text(SUBSCRIBE))
    conn.frames()
    payload = code.to_bytes(2, "big") + b"bye"
    conn.send(client_frame(CLOSE, payload))
    frames = conn.frames()
    assert frames == [(CLOSE, True, payload)]
    assert conn.transport.eof and not conn.runtime.sessions.live


async def test_an_empty_client_close_is_echoed_empty() -> None:
    conn = Conn(make_runtime())
    conn.send(client_frame(CLOSE))
    assert conn.frames() == [(CLOSE, True, b"")]


async def test_closing_an_already_closing_connection_never_raises() -> None:
    """SIGTERM calls ``shutdown`` and a flush calls ``close_slow`` on connections whatever
    state they are in: after a client close, after a half-close, twice in a row."""
    runtime = make_runtime()
    echoed, half_closed, twice = Conn(runtime), Conn(runtime), Conn(runtime)
    for conn in (echoed, half_closed, twice):
        conn.send(text(SUBSCRIBE))
        conn.frames()
    echoed.send(client_frame(CLOSE, (1000).to_bytes(2, "big")))
    half_closed.ws.eof_received()
    twice.ws.shutdown()
    for conn in (echoed, half_closed, twice):
        conn.ws.shutdown()
        conn.ws.close_slow()
        conn.ws.close(1012, "again")
    assert [close_code(p) for o, _, p in twice.frames() if o == CLOSE] == [1012]
    assert [o for o, _, _ in half_closed.frames()] == []
    assert not runtime.sessions.live


async def test_a_close_the_peer_never_finishes_ends_in_an_abort(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(websocket, "CLOSE_TIMEOUT", 0.05)
    conn = Conn(make_runtime())
    conn.send(text(SUBSCRIBE))
    conn.ws.close_slow()
    assert conn.closed_with() == 1013 and conn.ws.closing
    await _until(lambda: conn.transport.aborted)


# -- liveness --------------------------------------------------------------------------------


async def test_a_peer_that_does_not_answer_the_ping_is_closed_with_1011() -> None:
    runtime = make_runtime(ping_idle_seconds=10.0, pong_timeout_seconds=5.0)
    quiet, answering = Conn(runtime), Conn(runtime)
    for conn in (quiet, answering):
        conn.send(text(SUBSCRIBE))
        conn.frames()
    start = asyncio.get_running_loop().time()
    runtime.sessions.tick(start + 10)
    for conn in (quiet, answering):
        assert [(o, p) for o, _, p in conn.frames()] == [(PING, b"")]
    answering.send(client_frame(PONG, b""))
    runtime.sessions.tick(start + 12)
    runtime.sessions.tick(start + 15.5)
    assert quiet.closed_with() == 1011
    assert not answering.ws.closing and answering.frames() == []
    assert list(runtime.sessions.live) == [answering.ws.session]


async def test_pongs_count_against_the_outbox_so_a_pinger_that_never_reads_is_cut() -> None:
    runtime = make_runtime(outbox_max_bytes=2000, frames_per_second=100_000.0,
                           frame_burst=100_000)
    conn = Conn(runtime)
    conn.send(text(SUBSCRIBE))
    conn.frames()
    conn.ws.pause_writing()  # its socket buffer is full: it does not read
    conn.send(*[client_frame(PING, b"p" * 125) for _ in range(100)])
    assert conn.transport.out == b""  # no pong went around the outbox
    conn.ws.resume_writing()
    assert conn.closed_with() == 1013


async def test_pings_are_charged_to_the_frame_budget() -> None:
    conn = Conn(make_runtime(frame_burst=10, frames_per_second=1.0))
    conn.send(*[client_frame(PING, b"") for _ in range(100)])
    frames = conn.frames()
    assert frames[-1][0] == CLOSE and close_code(frames[-1][2]) == 1008
    assert sum(1 for o, _, _ in frames if o == PONG) <= 25


async def _until(condition: Any) -> None:
    for _ in range(int(WAIT / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("timed out")
