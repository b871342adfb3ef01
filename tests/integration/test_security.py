"""Limits on every input, origins and CORS, hostile text, and fuzzed client frames."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection as SyncConnection
from websockets.sync.client import connect as sync_connect

from tests.integration.wsclient import Publisher, connect, recv, recv_events, subscribe
from tests.servers import SECRET, Server, free_port, running, server_env, token

HOSTILE = '<img src=x onerror="window.__pwned=1"><script>alert(1)</script>'


def config(tmp_path: Path, limits: str) -> str:
    path = tmp_path / "ticker.toml"
    path.write_text(f"[limits]\n{limits}\n")
    return str(path)


async def test_websocket_origins_are_enforced() -> None:
    with running("memory", TICKER_ALLOWED_ORIGINS="https://news.example") as server:
        with pytest.raises(InvalidStatus) as refused:
            await connect(server.ws_url, origin="https://evil.example")
        assert refused.value.response.status_code == 403
        async with await connect(server.ws_url,
                                 origin="https://news.example") as ws:
            await subscribe(ws)
        async with await connect(server.ws_url) as ws:  # no Origin: not a browser
            await subscribe(ws)


def test_cors_matches_the_allowed_origins() -> None:
    with running("memory", TICKER_ALLOWED_ORIGINS="https://news.example") as server:
        good = httpx.options(f"{server.url}/api/v1/feeds/en/items", headers={
            "Origin": "https://news.example", "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type,idempotency-key"})
        assert good.status_code == 200
        assert good.headers["access-control-allow-origin"] == "https://news.example"
        bad = httpx.options(f"{server.url}/api/v1/feeds/en/items", headers={
            "Origin": "https://evil.example", "Access-Control-Request-Method": "POST"})
        assert "access-control-allow-origin" not in bad.headers
        read = httpx.get(f"{server.url}/api/v1/feeds", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in read.headers
        # the widget script is an embed: any page may load it
        widget = httpx.get(f"{server.url}/widget.js", headers={"Origin": "https://evil.example"})
        assert widget.headers["access-control-allow-origin"] == "*"


def test_header_limits() -> None:
    with running("memory") as server:
        big = httpx.get(f"{server.url}/api/v1/feeds", headers={"X-Big": "a" * 20000})
        assert big.status_code == 431
        assert big.headers["content-type"] == "application/problem+json"
        many = httpx.get(f"{server.url}/api/v1/feeds",
                         headers={f"X-H{n}": "1" for n in range(120)})
        assert many.status_code == 431
        assert httpx.get(f"{server.url}/api/v1/feeds").status_code == 200


async def test_frames_per_second_are_limited_and_others_are_unaffected() -> None:
    with running("memory") as server:
        pub = Publisher(server.url)
        async with await connect(server.ws_url) as calm, await connect(server.ws_url) as noisy:
            await subscribe(calm)
            codes: list[str] = []
            with pytest.raises(ConnectionClosed) as closed:
                for _ in range(200):
                    await noisy.send(json.dumps({"type": "unsubscribe", "feed": "en"}))
                while True:
                    message = await recv(noisy)
                    codes.append(message["code"])
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
            assert "rate_limited" in codes and "not_subscribed" in codes
            item = await pub.publish("still flowing")
            (event,) = await recv_events(calm, 1)
            assert event["item"]["id"] == item["id"]
        await pub.aclose()


async def test_subscriptions_per_connection_are_limited(tmp_path: Path) -> None:
    with running("memory", TICKER_CONFIG=config(tmp_path,
                                                "subscriptions_per_connection = 2")) as server:
        async with await connect(server.ws_url) as ws:
            await subscribe(ws, "en")
            await subscribe(ws, "ar")
            await subscribe(ws, "ar")  # re-subscribing replaces, it does not add
            await ws.send(json.dumps({"type": "subscribe", "feed": "es"}))
            assert (await recv(ws))["code"] == "too_many_subscriptions"


async def test_connections_per_address_are_limited(tmp_path: Path) -> None:
    with running("memory", TICKER_CONFIG=config(tmp_path, "connections_per_ip = 3")) as server:
        open_ = [await connect(server.ws_url) for _ in range(3)]
        with pytest.raises(InvalidStatus) as refused:
            await connect(server.ws_url)
        assert refused.value.response.status_code == 429
        await open_[0].close()
        async with await connect(server.ws_url) as ws:  # a slot was freed
            await subscribe(ws)
        for ws in open_[1:]:
            await ws.close()


async def test_hostile_text_is_stored_and_served_as_text() -> None:
    with running("memory") as server:
        pub = Publisher(server.url)
        async with await connect(server.ws_url) as ws:
            await subscribe(ws)
            item = await pub.publish(HOSTILE, source=HOSTILE[:100])
            (event,) = await recv_events(ws, 1)
        assert item["text"] == HOSTILE and event["item"]["text"] == HOSTILE
        response = await pub.client.get(f"/api/v1/feeds/en/items/{item['id']}")
        assert response.headers["content-type"] == "application/json"
        assert response.headers["x-content-type-options"] == "nosniff"
        await pub.aclose()


def test_tokens_and_secrets_never_reach_the_logs() -> None:
    env = server_env("memory")
    server = Server(free_port(), env, log_level="debug").start()
    try:
        good, expired = token(), token(ttl="1s") + "tampered"
        for bearer in (good, expired):
            httpx.post(f"{server.url}/api/v1/feeds/en/items", json={"text": "x"},
                       headers={"Authorization": f"Bearer {bearer}"})
    finally:
        server.stop()
    logs = server.logs()
    assert "POST /api/v1/feeds/en/items" in logs  # the access log is on
    assert good not in logs and expired not in logs and SECRET not in logs


def test_raw_garbage_on_the_socket_does_not_hurt_the_server() -> None:
    with running("memory") as server:
        for junk in (b"\x00" * 100, b"GET / HTTP/1.1\r\n" + b"X: y\r\n" * 5 + b"\r\n",
                     b"GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"):
            with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
                sock.sendall(junk)
                sock.recv(4096)
        assert httpx.get(f"{server.url}/healthz").status_code == 200


# -- fuzzing: any client frame gets a clear answer, and nobody else notices -------------------

@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    path = tmp_path_factory.mktemp("fuzz") / "ticker.toml"
    path.write_text("[limits]\nframes_per_second = 100000.0\nframe_burst = 100000\n")
    with running("memory", TICKER_CONFIG=str(path)) as server:
        yield server


@pytest.fixture(scope="module")
def fuzz_socket(fuzz_server: Server) -> Iterator[SyncConnection]:
    with sync_connect(fuzz_server.ws_url) as ws:
        yield ws


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4),
    max_leaves=10,
)
FRAMES = st.one_of(
    st.text(max_size=200),
    st.binary(max_size=200),
    JSON_VALUES.map(json.dumps),
    st.fixed_dictionaries(
        {"type": st.sampled_from(["subscribe", "unsubscribe", "ping", ""])},
        optional={"feed": st.sampled_from(["en", "ar", "xx", ""]) | st.text(max_size=5),
                  "since": st.text(max_size=20) | st.integers(),
                  "filter": JSON_VALUES},
    ).map(json.dumps),
)


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(frame=FRAMES)
def test_any_client_frame_gets_an_answer_and_the_connection_stays_open(
    fuzz_socket: SyncConnection, frame: str | bytes,
) -> None:
    fuzz_socket.send(frame)
    answer: dict[str, Any] = json.loads(fuzz_socket.recv(timeout=5))
    if answer["type"] == "subscribed":
        if not answer["recovered"]:
            assert json.loads(fuzz_socket.recv(timeout=5))["type"] == "snapshot"
    elif answer["type"] == "unsubscribed":
        assert answer["feed"] in ("en", "ar", "es")
    else:
        assert answer["type"] == "error" and answer["code"] and answer["message"], answer
        assert answer["code"] in {"malformed_json", "invalid_frame", "unknown_feed",
                                  "invalid_filter", "not_subscribed", "unsupported"}


async def test_after_fuzzing_others_still_receive(fuzz_server: Server,
                                                  fuzz_socket: SyncConnection) -> None:
    pub = Publisher(fuzz_server.url)
    async with await connect(fuzz_server.ws_url) as ws:
        await subscribe(ws)
        item = await pub.publish("after the fuzz")
        (event,) = await recv_events(ws, 1)
        assert event["item"]["id"] == item["id"]
    await pub.aclose()
