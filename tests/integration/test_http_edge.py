"""HTTP before the app (``server.TickerHttp``): request heads bounded in bytes and time, kernel
keepalive on every accepted socket. Raw sockets, so nothing between the test and the bytes."""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.faults.harness import rss_bytes
from tests.integration.rawws import RawClient
from tests.servers import Server, running

WAIT = 30.0  # upper bound on any read here; never an expected duration
HUGE = 32 * 1024 * 1024
RSS_GROWTH_MAX = 8 * 1024 * 1024  # the head is cut at 64 KiB; 32 MiB used to be buffered


@pytest.fixture(scope="module", params=["memory", "redis"])
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
           ) -> Iterator[Server]:
    config = tmp_path_factory.mktemp("http-edge") / "ticker.toml"
    config.write_text("[limits]\nheader_timeout_seconds = 1.0\n")
    with running(request.param, TICKER_CONFIG=str(config)) as srv:
        yield srv


def raw(server: Server) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=WAIT)
    return sock


def read_response(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    data = b""
    with contextlib.suppress(ConnectionResetError):
        for _ in range(10_000):
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    return data


def test_an_unfinished_huge_header_is_cut_with_431_without_buffering_it(server: Server) -> None:
    assert server.process is not None
    before = rss_bytes(server.process.pid)
    with raw(server) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Big: ")
        sent = 0
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            chunk = b"a" * 65536
            while sent < HUGE:  # never a line end: the header never finishes
                sock.sendall(chunk)
                sent += len(chunk)
        response = read_response(sock)
    assert response.startswith(b"HTTP/1.1 431"), response[:200]
    assert b"application/problem+json" in response
    assert sent < HUGE, "the server read all 32 MiB"
    growth = rss_bytes(server.process.pid) - before
    assert growth < RSS_GROWTH_MAX, f"server RSS grew by {growth / 2**20:.1f} MiB"


def test_a_half_sent_header_gets_408_and_the_connection_is_closed(server: Server) -> None:
    with raw(server) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Slow: a")
        response = read_response(sock)
    assert response.startswith(b"HTTP/1.1 408"), response[:200]


def test_a_connection_that_sends_nothing_is_closed(server: Server) -> None:
    with raw(server) as sock:
        assert read_response(sock) == b""


def test_requests_on_a_kept_alive_connection_each_get_the_full_time(server: Server) -> None:
    with httpx.Client(base_url=server.url, timeout=10) as client:
        for _ in range(3):
            assert client.get("/healthz").status_code == 200
        big = client.get("/api/v1/feeds", headers={"X-Big": "a" * 20000})
        assert big.status_code == 431  # within the head bound: the app's own problem+json
        assert big.headers["content-type"] == "application/problem+json"


def _keepalive_seconds(port: int, peer_port: int) -> float:
    """When the kernel timer of the server's socket for the connection from ``peer_port`` fires,
    from ``/proc/net/tcp`` (``tr`` 2 and hours away: the keepalive timer of an idle socket;
    without keepalive there is none, 0)."""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote, timer = fields[1], fields[2], fields[5]
        if int(local.split(":")[1], 16) == port and int(remote.split(":")[1], 16) == peer_port:
            kind, when = timer.split(":")
            return int(when, 16) / os.sysconf("SC_CLK_TCK") if kind == "02" else 0.0
    raise AssertionError(f"no server socket for the connection from port {peer_port}")


def test_accepted_sockets_have_kernel_keepalive(server: Server) -> None:
    with raw(server) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
        assert sock.recv(65536).startswith(b"HTTP/1.1 200")
        assert _keepalive_seconds(server.port, sock.getsockname()[1]) > 60
    ws = RawClient(server.port)
    try:
        assert ws.status == 101
        assert _keepalive_seconds(server.port, ws.sock.getsockname()[1]) > 60
    finally:
        ws.close()
