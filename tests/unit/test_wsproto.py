"""The lean sans-I/O WebSocket protocol (``transports/wsproto.py``) on its own: the upgrade
handshake as RFC 6455 §4.2 asks, heads and frames that arrive in pieces or together, and the
limits. The frame-level RFC 6455 cases run through the whole transport in test_ws_frames.py."""

from __future__ import annotations

import base64
import hashlib

import pytest
from websockets.frames import Frame, Opcode
from websockets.protocol import State

from tests.frames import PING, TEXT, client_frame, close_code, split_frames
from ticker.transports.wsproto import MAX_HEAD, Request, ServerProtocol

KEY = base64.b64encode(b"0123456789abcdef").decode()


def head(path: str = "/ws", **headers: str) -> bytes:
    fields = {"Host": "ticker.test", "Upgrade": "websocket", "Connection": "keep-alive, Upgrade",
              "Sec-WebSocket-Key": KEY, "Sec-WebSocket-Version": "13"}
    fields.update({k.replace("_", "-"): v for k, v in headers.items()})
    lines = "".join(f"{k}: {v}\r\n" for k, v in fields.items() if v)
    return f"GET {path} HTTP/1.1\r\n{lines}\r\n".encode()


def upgrade(proto: ServerProtocol, data: bytes) -> tuple[int, bytes]:
    """The status and the response; a refused upgrade must also end the stream."""
    proto.receive_data(data)
    (request,) = [e for e in proto.events_received() if isinstance(e, Request)]
    response = proto.accept(request)
    proto.send_response(response)
    out = proto.data_to_send()
    assert out[1:] == ([] if response.status_code == 101 else [b""])
    return response.status_code, out[0]


def test_a_valid_upgrade_is_accepted_with_the_key_hashed_as_rfc_6455_says() -> None:
    proto = ServerProtocol(max_size=1024)
    status, response = upgrade(proto, head("/ws?feed=en"))
    expected = base64.b64encode(hashlib.sha1(
        KEY.encode() + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest()).decode()
    assert status == 101 and proto.state is State.OPEN
    assert response.startswith(b"HTTP/1.1 101 Switching Protocols\r\n")
    assert f"Sec-WebSocket-Accept: {expected}\r\n".encode() in response


def test_header_names_are_read_in_any_case() -> None:
    proto = ServerProtocol(max_size=1024)
    proto.receive_data(b"GET /ws HTTP/1.1\r\nUPGRADE: WebSocket\r\nconnection: upgrade\r\n"
                       b"sec-websocket-key: " + KEY.encode() + b"\r\nSEC-WEBSOCKET-VERSION: 13\r\n"
                       b"origin: https://news.example\r\n\r\n")
    (request,) = proto.events_received()
    assert isinstance(request, Request)
    assert request.headers.get("Origin") == "https://news.example"
    assert proto.accept(request).status_code == 101


@pytest.mark.parametrize(("headers", "status"), [
    ({"Upgrade": ""}, 400),
    ({"Connection": "keep-alive"}, 400),
    ({"Sec-WebSocket-Key": "not base64!"}, 400),
    ({"Sec-WebSocket-Key": base64.b64encode(b"short").decode()}, 400),
    ({"Sec-WebSocket-Version": "8"}, 426),
], ids=["no-upgrade", "no-connection-upgrade", "bad-key", "short-key", "old-version"])
def test_a_bad_upgrade_gets_an_http_error_and_the_end_of_the_stream(
        headers: dict[str, str], status: int) -> None:
    proto = ServerProtocol(max_size=1024)
    got, response = upgrade(proto, head(**headers))
    assert got == status and response.startswith(f"HTTP/1.1 {status} ".encode())
    if status == 426:
        assert b"Sec-WebSocket-Version: 13\r\n" in response
    proto.receive_data(client_frame(TEXT, b"{}"))  # nothing more is read
    assert proto.events_received() == [] and proto.state is not State.OPEN


def test_a_head_in_pieces_and_frames_right_behind_it() -> None:
    proto = ServerProtocol(max_size=1024)
    data = head() + client_frame(TEXT, b'{"a":1}') + client_frame(PING, b"p")
    for i in range(0, 40, 7):  # the head in pieces: no request yet
        proto.receive_data(data[i:i + 7])
        assert proto.events_received() == []
    proto.receive_data(data[42:])
    events = proto.events_received()
    assert isinstance(events[0], Request)
    proto.send_response(proto.accept(events[0]))
    # the frames that came with the head are parsed once the upgrade is accepted
    assert [(e.opcode, e.data) for e in events[1:] if isinstance(e, Frame)] == [
        (Opcode.TEXT, b'{"a":1}'), (Opcode.PING, b"p")]
    response, pong = proto.data_to_send()
    assert response.startswith(b"HTTP/1.1 101") and pong == b"\x8a\x01p"


def test_frames_split_anywhere_are_put_back_together() -> None:
    proto = ServerProtocol(max_size=100_000)
    upgrade(proto, head())
    payload = bytes(range(256)) * 300  # a 64-bit length
    data = client_frame(TEXT, b"x" * 200) + client_frame(0x2, payload)
    frames: list[Frame] = []
    for i in range(0, len(data), 997):
        proto.receive_data(data[i:i + 997])
        frames += [e for e in proto.events_received() if isinstance(e, Frame)]
    assert [(f.opcode, f.data) for f in frames] == [(Opcode.TEXT, b"x" * 200),
                                                    (Opcode.BINARY, payload)]


def test_a_frame_over_the_limit_fails_with_1009_before_its_payload_arrives() -> None:
    proto = ServerProtocol(max_size=1000)
    upgrade(proto, head())
    proto.receive_data(client_frame(TEXT, b"x" * 1001)[:8])  # the header only
    frames, _ = split_frames(b"".join(proto.data_to_send()))
    assert close_code(frames[-1][2]) == 1009 and proto.state is State.CLOSING


def test_the_fragments_of_a_message_count_together_against_the_limit() -> None:
    proto = ServerProtocol(max_size=1000)
    upgrade(proto, head())
    proto.receive_data(client_frame(TEXT, b"x" * 600, fin=False) + client_frame(0x0, b"x" * 600))
    frames, _ = split_frames(b"".join(proto.data_to_send()))
    assert close_code(frames[-1][2]) == 1009


def test_a_head_that_never_ends_is_dropped() -> None:
    proto = ServerProtocol(max_size=1000)
    proto.receive_data(b"GET /ws HTTP/1.1\r\nX-Filler: " + b"a" * MAX_HEAD)
    assert proto.events_received() == [] and proto.data_to_send() == [b""]


def test_the_handshake_response_can_be_taken_to_be_written_with_what_follows() -> None:
    proto = ServerProtocol(max_size=1000)
    proto.receive_data(head())
    (request,) = proto.events_received()
    assert isinstance(request, Request)
    proto.send_response(proto.accept(request))
    assert proto.take_response().startswith(b"HTTP/1.1 101")
    assert proto.data_to_send() == []
