"""One client floods frames; the node stays responsive and the others keep reading.

The attack that froze a node: a text frame with ``fin=0``, then 200,000 continuation frames
(empty: 6 bytes each on the wire; or one byte each). The flooder must be closed (the fragment cap:
``1009``; with the cap lifted, the frame budget: ``1008``), ``/healthz`` must keep answering
during the flood, and a reader subscribed on another connection must still get the next item.
The same for 200,000 pings (each would get a pong: the frame budget cuts the client, ``1008``).
The figures (frames the client had sent when it saw the close, the worst ``/healthz`` time) are
printed as a FAULT-REPORT line.
"""

from __future__ import annotations

import asyncio
import select
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.faults.conftest import Cluster
from tests.faults.harness import (
    Reader,
    RetryingPublisher,
    assert_clean,
    metric,
    start_readers,
    stop_readers,
    wait_for_cursor,
    wait_until,
)
from tests.frames import CLOSE, CONT, PING, TEXT, client_frame, close_code, split_frames
from tests.integration.rawws import RawClient

FRAMES = 200_000
CHUNK = 500  # frames per send; between sends the client looks for the server's close
HEALTH_TIMEOUT = 10.0  # upper bound on one /healthz answer; never an expected duration


def flood(port: int, frame: bytes, start: bytes) -> tuple[int, int | None]:
    """Send a fragmented text message of ``FRAMES`` continuations as fast as the socket takes
    them, stopping early if the server's close frame has arrived; then read up to that close.
    Returns (frames handed to the socket before the close was seen, close code)."""
    raw = RawClient(port)
    assert raw.status == 101
    raw.send(start)
    sent = 0
    data = b""
    try:
        while sent < FRAMES:
            raw.sock.sendall(frame * CHUNK)
            sent += CHUNK
            readable, _, _ = select.select([raw.sock], [], [], 0)
            if readable:
                chunk = raw.sock.recv(65536)
                if not chunk:
                    break
                data += chunk
                frames, _ = split_frames(data)
                if frames and frames[-1][0] == CLOSE:
                    return sent, close_code(frames[-1][2])
        raw.buffer = data  # everything sent before the close showed up: now wait for it
        return sent, raw.close_code(max_frames=FRAMES)[0]
    except (BrokenPipeError, ConnectionResetError, EOFError):
        return sent, None  # the server dropped the connection without a close frame
    finally:
        raw.close()


START = client_frame(TEXT, b"[", fin=False)  # a text message that never ends


@pytest.mark.parametrize(("what", "frame", "start", "limits", "expected"), [
    ("empty continuations", client_frame(CONT, b"", fin=False), START, "", 1009),
    ("1-byte continuations", client_frame(CONT, b"x", fin=False), START, "", 1009),
    ("empty continuations, no fragment cap", client_frame(CONT, b"", fin=False), START,
     "fragments_max = 1000000", 1008),
    ("pings", client_frame(PING, b"ping"), b"", "", 1008),
], ids=["empty-continuations", "one-byte-continuations", "empty-without-fragment-cap", "pings"])
async def test_a_frame_flood_is_cut_and_the_node_keeps_serving(
        make_cluster: Callable[..., Cluster], tmp_path: Path, what: str, frame: bytes,
        start: bytes, limits: str, expected: int) -> None:
    extra = {}
    if limits:
        config = tmp_path / "ticker.toml"
        config.write_text(f"[limits]\n{limits}\n")
        extra["TICKER_CONFIG"] = str(config)
    cluster = make_cluster(nodes=1, **extra)
    (node,) = cluster.nodes
    reader = Reader("reader", [node.ws_url])
    await start_readers([reader])
    publisher = RetryingPublisher([node.url])
    health: list[float] = []  # seconds per /healthz answer during the flood

    async with httpx.AsyncClient(base_url=node.url, timeout=HEALTH_TIMEOUT) as client:

        async def open_ws() -> float:
            return metric((await client.get("/metrics")).text, "ticker_connections_open",
                          transport="ws")

        # /healthz from the start of the flood until the server has let go of the flooder
        # (at least 20 answers): it must answer every time
        flooding = asyncio.create_task(asyncio.to_thread(flood, node.port, frame, start))
        for _ in range(2000):
            started = time.perf_counter()
            response = await client.get("/healthz")
            health.append(time.perf_counter() - started)
            assert response.status_code == 200
            if flooding.done() and len(health) >= 20 and await open_ws() == 1:
                break  # only the reader is left
            await asyncio.sleep(0.005)
        else:
            raise AssertionError("the flooder's connection was never closed on the server")
        sent, code = await flooding

    assert code == expected, f"the flooder was closed with {code}"
    published = await publisher.publish(1)
    epoch, seq, _ = cluster.log()
    await wait_for_cursor([reader], f"{epoch}:{seq}")
    await wait_until(lambda: published.id in reader.ids(), "the live item")
    await stop_readers([reader])
    await publisher.aclose()
    assert_clean(reader)
    assert len(reader.connects) == 1, "the reader was disconnected"
    print(f"FAULT-REPORT | flood of {what} ({limits or 'default limits'}) | closed with "
          f"{code} after the client had sent {sent} of {FRAMES} frames | "
          f"/healthz answered {len(health)} times during the flood, median "
          f"{sorted(health)[len(health) // 2] * 1000:.1f} ms, worst {max(health) * 1000:.1f} ms"
          " | the other reader got the live item")

