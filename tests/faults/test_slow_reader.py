"""A reader that never reads is cut with 1013; memory stays bounded; the others get everything."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import struct
from collections.abc import Callable

import httpx

from tests.faults.conftest import Cluster
from tests.faults.harness import (
    Reader,
    assert_clean,
    metric,
    report,
    rss_bytes,
    start_readers,
    stop_readers,
    wait_for_cursor,
)
from ticker import codec
from ticker.brokers.base import Change
from ticker.brokers.redis import RedisBroker
from ticker.model import ItemDraft

EVENTS = 5000
BATCH = 50  # publishes in flight at once
RSS_GROWTH_MAX = 200 * 1024 * 1024  # generous: one reader's outbox is bounded at 1 MiB
READ_MAX = 256 * 1024 * 1024  # bytes the slow reader reads at the end, at most


def masked_text_frame(payload: bytes) -> bytes:
    """A client-to-server text frame (clients must mask), for payloads under 126 bytes."""
    assert len(payload) < 126
    mask = os.urandom(4)
    return bytes([0x81, 0x80 | len(payload)]) + mask + bytes(
        b ^ mask[i % 4] for i, b in enumerate(payload))


class RawSlowReader:
    """A bare socket: WebSocket handshake, subscribe, read the first frames, then nothing.

    Its receive buffer is set small before connecting (which also turns off the kernel's
    receive-buffer autotuning), so the server's socket and asyncio buffers fill quickly and the
    rest piles up in the reader's outbox on the server.
    """

    def __init__(self, port: int) -> None:
        self.buffer = b""
        self.received = 0  # bytes read from the socket
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.sock.settimeout(10)
        self.sock.connect(("127.0.0.1", port))
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n".encode())
        while b"\r\n\r\n" not in self.buffer:
            self._recv()
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        assert head.startswith(b"HTTP/1.1 101"), head
        self.sock.sendall(masked_text_frame(b'{"type":"subscribe","feed":"en"}'))
        kinds = [json.loads(self.next_frame()[1])["type"] for _ in range(2)]
        assert kinds == ["subscribed", "snapshot"], kinds

    def _recv(self) -> None:
        data = self.sock.recv(65536)
        if not data:
            raise EOFError("the server closed the connection")
        self.received += len(data)
        self.buffer += data

    def _parse(self) -> tuple[int, bytes] | None:
        buf = self.buffer
        if len(buf) < 2:
            return None
        opcode, size, offset = buf[0] & 0x0F, buf[1] & 0x7F, 2
        if size == 126:
            if len(buf) < 4:
                return None
            size, offset = struct.unpack("!H", buf[2:4])[0], 4
        elif size == 127:
            if len(buf) < 10:
                return None
            size, offset = struct.unpack("!Q", buf[2:10])[0], 10
        if len(buf) < offset + size:
            return None
        self.buffer = buf[offset + size:]
        return opcode, buf[offset:offset + size]

    def next_frame(self) -> tuple[int, bytes]:
        """(opcode, payload) of the next server frame (servers never mask)."""
        while (frame := self._parse()) is None:
            self._recv()
        return frame

    def read_until_close(self) -> tuple[int | None, int]:
        """Read what the server sends until its close frame: (close code, frames before it);
        the code is ``None`` when the connection ended without a close frame."""
        frames = 0
        try:
            while self.received < READ_MAX:
                opcode, payload = self.next_frame()
                if opcode == 0x8:
                    return struct.unpack("!H", payload[:2])[0], frames
                frames += 1
        except (EOFError, ConnectionResetError):
            return None, frames
        raise AssertionError(f"no close frame in the first {READ_MAX} bytes")

    def close(self) -> None:
        self.sock.close()


def big_draft(n: int) -> bytes:
    """An item of about 2.5 KB (400-character text and a 2,000-character URL)."""
    text = (f"event {n} " + "x" * 400)[:400]
    url = "https://example.com/" + "a" * 1980
    return codec.encode(ItemDraft(feed="en", text=text, urgency=4, regions=[], lang="en",
                                  author="fault", version=1, status="usable", url=url))


async def scrape(url: str) -> str:
    async with httpx.AsyncClient(timeout=5) as client:
        return (await client.get(f"{url}/metrics")).text


async def test_a_reader_that_never_reads_is_cut_and_memory_stays_bounded(
        make_cluster: Callable[..., Cluster]) -> None:
    cluster = make_cluster(nodes=1)
    (node,) = cluster.nodes
    assert node.process is not None
    slow = await asyncio.to_thread(RawSlowReader, node.port)
    normal = Reader("normal", [node.ws_url])
    await start_readers([normal])
    rss_before = rss_bytes(node.process.pid)

    broker = RedisBroker(cluster.redis.url, prefix=cluster.prefix)
    published: dict[int, str] = {}  # seq → item id
    try:
        for start in range(0, EVENTS, BATCH):
            results = await asyncio.gather(*(
                broker.publish("en", Change("item", big_draft(n)))
                for n in range(start, start + BATCH)))
            for result in results:
                assert result.status == "published" and result.item is not None
                published[result.seq] = codec.item_decoder.decode(result.item).id
    finally:
        await broker.aclose()

    epoch, seq, _ = cluster.log()
    assert seq == EVENTS and sorted(published) == list(range(1, EVENTS + 1))
    await wait_for_cursor([normal], f"{epoch}:{seq}")
    rss_after = rss_bytes(node.process.pid)
    text = await scrape(node.url)
    assert metric(text, "ticker_slow_reader_disconnects_total", transport="ws") == 1
    # the server lets go of the connection although the slow reader still reads nothing (its
    # close frame sits behind megabytes it never read): only the normal reader is left open
    open_now = 0.0

    async def open_connections() -> float:
        nonlocal open_now
        open_now = metric(await scrape(node.url), "ticker_connections_open", transport="ws")
        return open_now

    for _ in range(100):
        if await open_connections() == 1:
            break
        await asyncio.sleep(0.2)
    assert open_now == 1, f"{open_now} WebSocket connections still open on the server"
    await stop_readers([normal])

    assert_clean(normal)
    assert normal.ids() == [published[n] for n in range(1, EVENTS + 1)], "the normal reader " \
        "missed events"
    assert len(normal.connects) == 1, "the normal reader was cut too"
    growth = rss_after - rss_before
    assert growth < RSS_GROWTH_MAX, f"server RSS grew by {growth / 2**20:.0f} MiB"
    # when it finally reads, it finds only what its own small buffer held, then the end of the
    # connection: the close frame (1013) if it got through, else a reset, as the server dropped
    # the connection after its close timeout. Either way the reader resumes from its cursor.
    code, frames = await asyncio.to_thread(slow.read_until_close)
    slow.close()
    assert code in (1013, None), f"the slow reader's connection ended with {code}"
    report("slow reader (never reads)", EVENTS, [len(normal.deliveries)], 0, 0,
           f"slow reader cut (1013 counted; it saw {code or 'a reset'} after {frames} more "
           f"frames); server RSS {rss_before / 2**20:.0f} → {rss_after / 2**20:.0f} MiB")
