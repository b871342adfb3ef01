"""A reader that resumes across more missed events than its outbox holds starts over from a
snapshot (``recovered: false``) and stays connected, instead of being cut with 1013 before its
first write and again on every retry with the same cursor. Over WebSocket and SSE, from the
node's ring and from the broker's log, both engines; a real server with a 16 KiB outbox."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.faults.harness import metric
from tests.integration.sseclient import open_sse
from tests.integration.wsclient import (
    Publisher,
    connect,
    cursor_after,
    publish_seen,
    recv_events,
    subscribe,
)
from tests.servers import Server, running

OUTBOX = 16 * 1024
MISSED = 30  # events of about 700 bytes each: more than the whole outbox, let alone half
FITS = 5  # far fewer than half the outbox
TEXT = "x" * 380
START_OVERS = "ticker_resumes_too_large_total"


def config(tmp_path: Path, source: str) -> str:
    """``source``: ``ring`` (the node keeps every missed event) or ``log`` (a ring of 4: the
    missed events are read from the broker's log)."""
    ring = 1000 if source == "ring" else 4
    path = tmp_path / "ticker.toml"
    path.write_text(f"[limits]\noutbox_max_bytes = {OUTBOX}\nring_size = {ring}\n")
    return str(path)


async def start_overs(server: Server) -> float:
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        return metric((await client.get("/metrics")).text, START_OVERS)


async def miss_events(server: Server, pub: Publisher) -> tuple[str, list[dict[str, Any]]]:
    """A cursor, then ``MISSED`` items published after it (the node has dispatched the last)."""
    first = await pub.publish("seen")
    async with await connect(server.ws_url) as ws:
        _, snapshot = await subscribe(ws)
        cursor = await cursor_after(ws, snapshot, first["id"])
    missed = [await pub.publish(f"missed {n} {TEXT}") for n in range(MISSED - 1)]
    missed.append(await publish_seen(server.ws_url, pub, f"missed {MISSED - 1} {TEXT}"))
    return cursor, missed


def back(cursor: str, events: int) -> str:
    """The cursor ``events`` events before ``cursor`` (the tests know the format)."""
    epoch, seq = cursor.rsplit(":", 1)
    return f"{epoch}:{int(seq) - events}"


@pytest.mark.parametrize("source", ["ring", "log"])
@pytest.mark.parametrize("broker", ["memory", "redis"])
async def test_a_websocket_resume_too_large_for_the_outbox_gets_a_snapshot_and_stays_open(
        broker: str, source: str, tmp_path: Path) -> None:
    with running(broker, TICKER_CONFIG=config(tmp_path, source)) as server:
        pub = Publisher(server.url)
        cursor, missed = await miss_events(server, pub)
        async with await connect(server.ws_url) as ws:
            subscribed, snapshot = await subscribe(ws, since=cursor)
            assert subscribed == {"type": "subscribed", "feed": "en", "recovered": False}
            assert snapshot["type"] == "snapshot"
            assert snapshot["items"][-1]["id"] == missed[-1]["id"]
            # the connection stays open: live items follow the snapshot
            live = await pub.publish("live after the start-over")
            (event,) = await recv_events(ws, 1)
            assert event["item"]["id"] == live["id"]
            assert event["cursor"] == back(snapshot["cursor"], -1)
            # a retry with the same cursor is answered the same way, on the same connection
            again, _ = await subscribe(ws, since=cursor)
            assert again["recovered"] is False
        assert await start_overs(server) == 2
        # a resume that fits half the outbox still recovers every missed event
        async with await connect(server.ws_url) as ws:
            (subscribed,) = await subscribe(ws, since=back(event["cursor"], FITS))
            assert subscribed["recovered"] is True
            events = await recv_events(ws, FITS)
            assert [e["item"]["id"] for e in events] == [m["id"] for m in missed[-FITS + 1:]] \
                + [live["id"]]
        assert await start_overs(server) == 2
        await pub.aclose()


@pytest.mark.parametrize("source", ["ring", "log"])
@pytest.mark.parametrize("broker", ["memory", "redis"])
async def test_an_sse_resume_too_large_for_the_outbox_gets_a_snapshot_and_stays_open(
        broker: str, source: str, tmp_path: Path) -> None:
    with running(broker, TICKER_CONFIG=config(tmp_path, source)) as server:
        pub = Publisher(server.url)
        cursor, missed = await miss_events(server, pub)
        async with open_sse(server.url, headers={"Last-Event-ID": cursor}) as sse:
            subscribed = await sse.next()
            assert (subscribed.event, subscribed.data["recovered"]) == ("subscribed", False)
            snapshot = await sse.next()
            assert snapshot.event == "snapshot"
            assert snapshot.data["items"][-1]["id"] == missed[-1]["id"]
            live = await pub.publish("live after the start-over")
            (event,) = await sse.events(1)
            assert event.data["item"]["id"] == live["id"]
            assert event.id == back(snapshot.data["cursor"], -1)
        assert await start_overs(server) == 1
        await pub.aclose()
