"""SIGTERM while a half-closed WebSocket client is still on the node.

The client subscribes, stops reading while megabytes of events pile up in the server's socket
buffers, then half-closes (``shutdown(SHUT_WR)``). Its connection lingers on the server (the
buffered bytes cannot drain), already closed as far as the WebSocket protocol goes. SIGTERM must
still give every other reader ``1012`` and the process must exit cleanly: closing a connection
that is already closing used to raise inside uvicorn's shutdown and kill the process.
"""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed

from tests.faults.conftest import Cluster
from tests.faults.test_slow_reader import big_draft
from tests.frames import TEXT, client_frame
from tests.integration.rawws import RawClient
from tests.integration.wsclient import connect, subscribe
from ticker.brokers.base import Change
from ticker.brokers.redis import RedisBroker

EVENTS = 2000  # about 5 MB: more than the socket buffers hold, less than the outbox limit
BATCH = 50
WAIT = 30.0  # upper bound on any wait here; never an expected duration


async def test_sigterm_with_a_half_closed_client_still_closes_the_others_with_1012(
        make_cluster: Callable[..., Cluster], tmp_path: Path) -> None:
    config = tmp_path / "ticker.toml"
    config.write_text("[limits]\noutbox_max_bytes = 67108864\n")  # never cut: it lingers
    cluster = make_cluster(nodes=1, TICKER_CONFIG=str(config))
    (node,) = cluster.nodes
    assert node.process is not None
    readers = [await connect(node.ws_url) for _ in range(2)]
    for ws in readers:
        await subscribe(ws)
    stuck = await asyncio.to_thread(RawClient, node.port, rcvbuf=4096)
    stuck.send(client_frame(TEXT, b'{"type":"subscribe","feed":"en"}'))

    broker = RedisBroker(cluster.redis.url, prefix=cluster.prefix)
    try:
        for start in range(0, EVENTS, BATCH):
            await asyncio.gather(*(broker.publish("en", Change("item", big_draft(n)))
                                   for n in range(start, start + BATCH)))
    finally:
        await broker.aclose()
    stuck.sock.shutdown(socket.SHUT_WR)  # half-closed, and still not reading

    node.process.send_signal(signal.SIGTERM)
    codes: list[int | None] = []
    for ws in readers:
        with pytest.raises(ConnectionClosed) as closed:
            for _ in range(EVENTS + 100):  # read what is left, up to the close
                await asyncio.wait_for(ws.recv(), WAIT)
        codes.append(closed.value.rcvd.code if closed.value.rcvd is not None else None)
    try:
        code = await asyncio.to_thread(node.process.wait, WAIT)
    except subprocess.TimeoutExpired:
        raise AssertionError("the node did not exit after SIGTERM") from None
    stuck.close()
    logs = node.logs()
    assert codes == [1012, 1012], f"the readers' close codes: {codes}; {logs[-2000:]}"
    assert code in (0, -signal.SIGTERM), f"the node exited with {code}: {logs[-2000:]}"
    assert "Traceback" not in logs, logs[-3000:]
