"""One set of reader rules for every live transport (``ticker.session``): the origin allow-list,
the per-address connection limit, and cutting a reader that does not read — over SSE exactly as
over WebSocket. Both engines."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import InvalidStatus

from tests.faults.harness import metric
from tests.integration.sseclient import open_sse
from tests.integration.wsclient import Publisher, connect, recv_events, subscribe
from tests.servers import running

GOOD, EVIL = "https://news.example", "https://evil.example"
WAIT = 30.0  # upper bound on any wait here; never an expected duration


def config(tmp_path: Path, limits: str) -> str:
    path = tmp_path / "ticker.toml"
    path.write_text(f"[limits]\n{limits}\n")
    return str(path)


@contextlib.asynccontextmanager
async def sse_response(client: httpx.AsyncClient, origin: str | None = None,
                       ) -> AsyncIterator[httpx.Response]:
    headers = {"Origin": origin} if origin else {}
    async with client.stream("GET", "/api/v1/feeds/en/events", headers=headers) as response:
        yield response


@pytest.mark.parametrize("broker", ["memory", "redis"])
async def test_sse_answers_only_allowed_origins_and_feeds_stay_open(broker: str) -> None:
    with running(broker, TICKER_ALLOWED_ORIGINS=GOOD) as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
            async with sse_response(client, EVIL) as refused:
                assert refused.status_code == 403
                assert refused.headers["content-type"] == "application/problem+json"
                assert "access-control-allow-origin" not in refused.headers
            async with sse_response(client, GOOD) as allowed:
                assert allowed.status_code == 200
                assert allowed.headers["access-control-allow-origin"] == GOOD
                assert "origin" in allowed.headers["vary"].lower()
            async with sse_response(client) as no_origin:  # not a browser page
                assert no_origin.status_code == 200
            # feeds and the read API are open to every page, as feeds are
            for path in ("/feeds/en.atom", "/feeds/en.json", "/api/v1/feeds/en/items"):
                response = await client.get(path, headers={"Origin": EVIL})
                assert response.status_code == 200, path
        # and the WebSocket refuses the same origin at the upgrade
        with pytest.raises(InvalidStatus) as ws_refused:
            await connect(server.ws_url, origin=EVIL)
        assert ws_refused.value.response.status_code == 403


@pytest.mark.parametrize("broker", ["memory", "redis"])
async def test_the_fourth_reader_from_one_address_is_refused_over_sse_and_websocket(
        broker: str, tmp_path: Path) -> None:
    with running(broker, TICKER_CONFIG=config(tmp_path, "connections_per_ip = 3")) as server:
        pub = Publisher(server.url)
        async with contextlib.AsyncExitStack() as stack:
            first = await stack.enter_async_context(open_sse(server.url))
            ws = await stack.enter_async_context(await connect(server.ws_url))
            await subscribe(ws)
            await stack.enter_async_context(open_sse(server.url))
            async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
                async with sse_response(client) as fourth_sse:
                    assert fourth_sse.status_code == 429
                    assert fourth_sse.headers["content-type"] == "application/problem+json"
            with pytest.raises(InvalidStatus) as fourth_ws:
                await connect(server.ws_url)
            assert fourth_ws.value.response.status_code == 429
            # the three still read
            item = await pub.publish("for the three")
            (event,) = await recv_events(ws, 1)
            assert event["item"]["id"] == item["id"]
            assert (await first.events(1))[0].data["item"]["id"] == item["id"]
        # once they are gone, the address may connect again
        for _ in range(100):
            async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
                async with sse_response(client) as again:
                    if again.status_code == 200:
                        break
            await asyncio.sleep(0.05)
        assert again.status_code == 200
        await pub.aclose()


@pytest.mark.parametrize("broker", ["memory", "redis"])
@pytest.mark.parametrize("limits", [
    "outbox_max_bytes = 32768",  # cut when the outbox overflows
    "write_timeout_seconds = 1.0\nping_idle_seconds = 0.5",  # cut by the write deadline
], ids=["outbox", "write-deadline"])
async def test_a_slow_sse_reader_is_disconnected(broker: str, limits: str,
                                                 tmp_path: Path) -> None:
    with running(broker, TICKER_CONFIG=config(tmp_path, limits)) as server:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.settimeout(WAIT)
        await asyncio.to_thread(sock.connect, ("127.0.0.1", server.port))
        sock.sendall(b"GET /api/v1/feeds/en/events HTTP/1.1\r\nHost: t\r\n\r\n")
        assert sock.recv(64).startswith(b"HTTP/1.1 200")  # then it reads nothing more
        pub = Publisher(server.url)
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:

            async def sample(name: str) -> float:
                return metric((await client.get("/metrics")).text, name, transport="sse")

            for n in range(2000):
                await pub.publish(f"{n} " + "x" * 390, url="https://example.com/" + "a" * 1900)
                if n % 20 == 19 and await sample("ticker_slow_reader_disconnects_total"):
                    break
            for _ in range(int(WAIT / 0.05)):
                if await sample("ticker_connections_open") == 0:
                    break
                await asyncio.sleep(0.05)
            assert await sample("ticker_slow_reader_disconnects_total") == 1
            assert await sample("ticker_connections_open") == 0
        await pub.aclose()
        # the server let go: reading what is left ends in EOF or a reset, not in a timeout
        with contextlib.suppress(ConnectionResetError):
            for _ in range(100_000):
                if not await asyncio.to_thread(sock.recv, 65536):
                    break
            else:
                raise AssertionError("the server kept sending")
        sock.close()


@pytest.mark.parametrize("broker", ["memory", "redis"])
async def test_sse_readers_that_leave_at_once_give_their_place_back(
        broker: str, tmp_path: Path) -> None:
    """A client that sends its request and hangs up before the stream starts must not keep its
    place against the per-address limit (nor a session in the hub)."""
    with running(broker, TICKER_CONFIG=config(tmp_path, "connections_per_ip = 2")) as server:
        request = (b"GET /api/v1/feeds/en/events HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                   b"Accept: text/event-stream\r\n\r\n")
        for _ in range(20):  # ten times the limit
            with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
                sock.sendall(request)
        open_sse_count = -1.0
        for _ in range(200):  # every session is released (bounded wait)
            async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
                text = (await client.get("/metrics")).text
            open_sse_count = metric(text, "ticker_connections_open", transport="sse")
            if open_sse_count == 0:
                break
            await asyncio.sleep(0.05)
        assert open_sse_count == 0
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
            async with sse_response(client) as again:
                assert again.status_code == 200
