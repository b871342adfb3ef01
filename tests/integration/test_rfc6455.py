"""RFC 6455 conformance of ``/ws`` against a live server, from a bare socket.

Each case sends bytes a client library would never send (or a tricky legal sequence) and checks
what comes back on the wire: the frames, the close code, and that the server then ends the TCP
connection. Both engines: the framing must not depend on the broker.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.frames import BINARY, CLOSE, CONT, PING, PONG, TEXT, client_frame
from tests.integration.rawws import RawClient
from tests.servers import Server, running

SUBSCRIBE = json.dumps({"type": "subscribe", "feed": "en"}).encode()


@pytest.fixture(scope="module", params=["memory", "redis"])
def live(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
         ) -> Iterator[Server]:
    config = tmp_path_factory.mktemp("rfc6455") / "ticker.toml"
    config.write_text("[limits]\nfragments_max = 16\n")
    with running(request.param, TICKER_CONFIG=str(config)) as server:
        yield server


@pytest.fixture
def client(live: Server) -> Iterator[RawClient]:
    raw = RawClient(live.port)
    assert raw.status == 101
    yield raw
    raw.close()


def text(payload: bytes, fin: bool = True) -> bytes:
    return client_frame(TEXT, payload, fin=fin)


def cont(payload: bytes, fin: bool = False) -> bytes:
    return client_frame(CONT, payload, fin=fin)


def test_a_fragmented_subscribe_with_pings_between_fragments(client: RawClient) -> None:
    client.send(text(SUBSCRIBE[:4], fin=False), client_frame(PING, b"one"),
                cont(SUBSCRIBE[4:9]), client_frame(PING, b"two"), cont(SUBSCRIBE[9:], fin=True))
    got = [client.frame() for _ in range(4)]
    assert [(o, p) for o, _, p in got if o == PONG] == [(PONG, b"one"), (PONG, b"two")]
    kinds = [json.loads(p)["type"] for o, _, p in got if o == TEXT]
    assert kinds == ["subscribed", "snapshot"]


def test_a_fragmented_binary_message_is_an_error_never_a_command(client: RawClient) -> None:
    client.send(client_frame(BINARY, SUBSCRIBE[:6], fin=False), cont(SUBSCRIBE[6:], fin=True))
    assert client.message() == {"type": "error", "code": "unsupported",
                                "message": "send JSON in text frames"}
    client.send(text(SUBSCRIBE))
    assert client.message()["type"] == "subscribed"


def test_deeply_nested_json_gets_an_error_frame(client: RawClient) -> None:
    deep = b'{"x":' + b"[" * 1500 + b"]" * 1500 + b',"type":"subscribe","feed":"en"}'
    client.send(text(deep))
    error = client.message()
    assert error["type"] == "error" and error["code"] == "malformed_json"
    client.send(text(SUBSCRIBE))
    assert client.message()["type"] == "subscribed"


@pytest.mark.parametrize("frames", [
    [text(b'{"type":"subscribe","feed":"\xff"}')],
    [text(b'{"type":"', fin=False), cont(b"\xed\xa0\x80", fin=True)],  # a UTF-16 surrogate
    [text(b'"\xe2\x82', fin=True)],  # ends inside a character
], ids=["invalid-byte", "surrogate-in-continuation", "truncated"])
def test_text_that_is_not_utf8_closes_with_1007(client: RawClient,
                                                frames: list[bytes]) -> None:
    client.send(*frames)
    code, _ = client.close_code()
    assert code == 1007
    assert client.server_closed()


@pytest.mark.parametrize("frames", [
    [client_frame(PING, b"x" * 126)],
    [client_frame(PONG, b"", fin=False)],
    [client_frame(TEXT, SUBSCRIBE, rsv=4)],
    [client_frame(TEXT, SUBSCRIBE, rsv=2)],
    [client_frame(0x7, b"")],
    [client_frame(0xF, b"")],
    [cont(b"{}", fin=True)],
    [text(b"[", fin=False), text(b"]")],
    [client_frame(TEXT, SUBSCRIBE, masked=False)],
    [client_frame(CLOSE, b"\x03")],
    [client_frame(CLOSE, (1004).to_bytes(2, "big"))],
    [client_frame(CLOSE, (1005).to_bytes(2, "big"))],
    [client_frame(CLOSE, (2999).to_bytes(2, "big"))],
], ids=["ping-over-125", "fragmented-pong", "rsv1", "rsv2", "opcode-7", "opcode-f",
        "continuation-without-start", "new-message-inside-fragmented", "unmasked",
        "close-1-byte", "close-1004", "close-1005", "close-2999"])
def test_protocol_errors_close_with_1002(client: RawClient, frames: list[bytes]) -> None:
    client.send(*frames)
    code, _ = client.close_code()
    assert code == 1002
    assert client.server_closed()


def test_too_many_fragments_close_with_1009(client: RawClient) -> None:
    client.send(text(b"[", fin=False), *[cont(b"") for _ in range(17)])
    code, _ = client.close_code()
    assert code == 1009
    assert client.server_closed()


@pytest.mark.parametrize("payload", [b"", (1000).to_bytes(2, "big") + b"bye",
                                     (4000).to_bytes(2, "big")], ids=["empty", "1000", "4000"])
def test_a_client_close_is_echoed_then_the_server_closes(client: RawClient,
                                                         payload: bytes) -> None:
    client.send(text(SUBSCRIBE))
    assert client.message()["type"] == "subscribed"
    client.send(client_frame(CLOSE, payload))
    while True:
        opcode, _, echoed = client.frame()
        if opcode == CLOSE:
            break
    assert echoed == payload
    assert client.server_closed()


def test_a_peer_that_stops_answering_pings_is_closed_with_1011(tmp_path: Path) -> None:
    config = tmp_path / "ticker.toml"
    config.write_text("[limits]\nping_idle_seconds = 0.3\npong_timeout_seconds = 0.6\n")
    with running("memory", TICKER_CONFIG=str(config)) as server:
        silent, answering = RawClient(server.port), RawClient(server.port)
        try:
            for raw in (silent, answering):
                raw.send(text(SUBSCRIBE))
            pings = 0
            for _ in range(200):  # answer every ping for a while; the silent one answers none
                opcode, _, payload = answering.frame()
                if opcode == PING:
                    answering.send(client_frame(PONG, payload))
                    pings += 1
                    if pings == 5:
                        break
            code, before = silent.close_code()
            assert code == 1011
            assert PING in [opcode for opcode, _ in before]
            assert silent.server_closed()
            answering.send(text(json.dumps({"type": "unsubscribe", "feed": "en"}).encode()))
            while (message := answering.message())["type"] != "unsubscribed":
                assert message["type"] in ("subscribed", "snapshot"), message
        finally:
            silent.close()
            answering.close()
