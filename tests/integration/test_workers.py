"""``ticker serve --workers 2`` on Redis: two processes share the port, each with its own hub.

Which worker serves a connection is read from ``/proc``: the server side of a loopback
connection is the TCP socket whose local port is the server's and whose remote port is the
client's; its inode names the socket, and the worker holding a descriptor on that inode serves
it. Nothing is added to the public protocol for this.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import websockets
from websockets.asyncio.client import ClientConnection

from tests.integration.sseclient import SseReader
from tests.integration.wsclient import Publisher, connect, recv_events, subscribe
from tests.servers import REDIS_URL, Server, delete_prefix, free_port, server_env

WORKERS = 2
MAX_CLIENTS = 200  # connections opened at most while looking for both workers
WAIT = 30.0  # upper bound on any wait here; never an expected duration


def children(pid: int) -> set[int]:
    """The processes whose parent is ``pid``."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                stat = (entry / "stat").read_text()
                if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                    found.add(int(entry.name))
    return found


def server_socket_inode(server_port: int, client_port: int) -> int | None:
    """The inode of the server side of the loopback connection from ``client_port``."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                local, remote = fields[1], fields[2]
                if (int(local.rsplit(":", 1)[1], 16) == server_port
                        and int(remote.rsplit(":", 1)[1], 16) == client_port):
                    return int(fields[9])
    return None


def owner(pids: set[int], server_port: int, client_port: int) -> int | None:
    """The process among ``pids`` that holds the server side of the connection."""
    inode = server_socket_inode(server_port, client_port)
    if inode is None:
        return None
    target = f"socket:[{inode}]"
    for pid in pids:
        with contextlib.suppress(OSError):
            for fd in os.listdir(f"/proc/{pid}/fd"):
                with contextlib.suppress(OSError):
                    if os.readlink(f"/proc/{pid}/fd/{fd}") == target:
                        return pid
    return None


def wait_for_workers(server: Server) -> set[int]:
    """Until every worker has finished its start-up (uvicorn logs it at info level)."""
    assert server.process is not None
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        if server.logs().count("Application startup complete") >= WORKERS:
            return children(server.process.pid)
        time.sleep(0.05)
    raise AssertionError(f"workers did not start: {server.logs()[-2000:]}")


@pytest.fixture
def workers() -> Iterator[tuple[Server, set[int]]]:
    prefix = f"test:{uuid.uuid4().hex[:12]}:"
    env = server_env("redis", prefix=prefix, TICKER_DRAIN_SECONDS="20")
    server = Server(free_port(), env, log_level="info", args=["--workers", str(WORKERS)])
    try:
        server.start()
        yield server, wait_for_workers(server)
    finally:
        server.stop()
        delete_prefix(REDIS_URL, prefix)


async def clients_on_every_worker(server: Server, pids: set[int]) -> dict[int, list[
        ClientConnection]]:
    """Open WebSocket clients (subscribed to ``en``) until every worker serves some."""
    by_worker: dict[int, list[ClientConnection]] = {}
    opened = 0
    while len(by_worker) < WORKERS and opened < MAX_CLIENTS:
        batch = await asyncio.gather(*[connect(server.ws_url) for _ in range(8)])
        opened += len(batch)
        for ws in batch:
            await subscribe(ws)
            pid = owner(pids, server.port, ws.local_address[1])
            assert pid is not None, "no worker holds the connection"
            by_worker.setdefault(pid, []).append(ws)
    assert len(by_worker) == WORKERS, f"{opened} clients all landed on {set(by_worker)}"
    return by_worker


async def test_clients_on_different_workers_all_receive_every_item(
        workers: tuple[Server, set[int]]) -> None:
    server, pids = workers
    assert len(pids) >= WORKERS
    by_worker = await clients_on_every_worker(server, pids)
    clients = [ws for group in by_worker.values() for ws in group]
    pub = Publisher(server.url)
    try:
        published = [await pub.publish(f"item {n}") for n in range(5)]
        for ws in clients:
            events = await recv_events(ws, 5)
            assert [e["item"]["id"] for e in events] == [p["id"] for p in published]
    finally:
        await pub.aclose()
        for ws in clients:
            await ws.close()


@contextlib.asynccontextmanager
async def sse_stream(server: Server) -> AsyncIterator[tuple[SseReader, int]]:
    """An SSE stream on ``en`` and the local port of its connection."""
    async with httpx.AsyncClient(base_url=server.url,
                                 timeout=httpx.Timeout(10, read=WAIT * 2)) as client:
        async with client.stream("GET", "/api/v1/feeds/en/events") as response:
            assert response.status_code == 200
            stream = response.extensions["network_stream"]
            port: int = stream.get_extra_info("client_addr")[1]
            yield SseReader(response.aiter_lines(), public=True), port


async def test_sigterm_drains_every_worker(workers: tuple[Server, set[int]]) -> None:
    """Each worker runs our protocol classes: on SIGTERM its WebSockets get 1012 and its SSE
    streams end cleanly at once (uvicorn alone would hold them until the drain timeout, 20 s
    here, and then cut them)."""
    server, pids = workers
    by_worker = await clients_on_every_worker(server, pids)
    async with contextlib.AsyncExitStack() as stack:
        sse_workers: dict[int, list[SseReader]] = {}
        for _ in range(MAX_CLIENTS // 8):
            reader, port = await stack.enter_async_context(sse_stream(server))
            pid = owner(pids, server.port, port)
            assert pid is not None
            sse_workers.setdefault(pid, []).append(reader)
            if len(sse_workers) == WORKERS:
                break
        assert len(sse_workers) == WORKERS, f"SSE streams all landed on {set(sse_workers)}"
        assert server.process is not None
        server.process.send_signal(signal.SIGTERM)
        for readers in sse_workers.values():
            for reader in readers:
                with pytest.raises(EOFError):  # a clean end; a cut stream is a protocol error
                    while True:
                        await reader.next(wait=WAIT)
        for group in by_worker.values():
            for ws in group:
                with pytest.raises(websockets.ConnectionClosed) as closed:
                    while True:
                        await asyncio.wait_for(ws.recv(), WAIT)
                assert closed.value.rcvd is not None and closed.value.rcvd.code == 1012


def test_several_workers_on_the_embedded_broker_are_refused() -> None:
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    result = subprocess.run(
        [sys.executable, "-m", "ticker", "serve", "--port", str(free_port()), "--workers", "2"],
        env=env, capture_output=True, text=True, timeout=WAIT, check=False)
    assert result.returncode == 2
    assert "--workers 2 needs REDIS_URL" in result.stderr
