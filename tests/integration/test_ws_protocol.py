"""The WebSocket protocol end to end: real server, real websockets clients, both engines."""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed

from tests.integration.wsclient import (
    Publisher,
    connect,
    cursor_after,
    publish_seen,
    recv,
    recv_events,
    subscribe,
)
from tests.servers import Server, running


async def test_subscribe_snapshot_then_live_item(server: Server) -> None:
    pub = Publisher(server.url)
    await publish_seen(server.ws_url, pub, "Earlier item")
    async with await connect(server.ws_url) as ws:
        subscribed, snapshot = await subscribe(ws)
        assert subscribed == {"type": "subscribed", "feed": "en", "recovered": False}
        assert [i["text"] for i in snapshot["items"]] == ["Earlier item"]
        item = await pub.publish("Lebanese Ministry of Health: one person was killed",
                                 source="Lebanese Ministry of Health", urgency=1,
                                 regions=["mena"], category="health")
        (event,) = await recv_events(ws, 1)
        assert event["type"] == "item"
        assert event["item"] == item
        assert event["cursor"] > snapshot["cursor"]
    await pub.aclose()


async def test_resume_after_missing_five_items(server: Server) -> None:
    pub = Publisher(server.url)
    before = await pub.publish("before")
    async with await connect(server.ws_url) as ws:
        _, snapshot = await subscribe(ws)
        cursor = await cursor_after(ws, snapshot, before["id"])
    missed = [await pub.publish(f"missed {n}") for n in range(5)]
    async with await connect(server.ws_url) as ws:
        (subscribed,) = await subscribe(ws, since=cursor)
        assert subscribed["recovered"] is True
        events = await recv_events(ws, 5)
        assert [e["item"]["id"] for e in events] == [m["id"] for m in missed]
        live = await pub.publish("live after resume")
        (event,) = await recv_events(ws, 1)
        assert event["item"]["id"] == live["id"]
    await pub.aclose()


async def test_cursor_in_query_string(server: Server) -> None:
    pub = Publisher(server.url)
    first = await pub.publish("one")
    async with await connect(server.ws_url) as ws:
        _, snapshot = await subscribe(ws)
        cursor = await cursor_after(ws, snapshot, first["id"])
    await pub.publish("two")
    async with await connect(f"{server.ws_url}?feed=en&since={cursor}") as ws:
        assert (await recv(ws))["recovered"] is True
        (event,) = await recv_events(ws, 1)
        assert event["item"]["text"] == "two"
    assert first["text"] == "one"
    await pub.aclose()


@pytest.mark.parametrize("broker", ["memory", "redis"])
async def test_too_old_cursor_gets_snapshot(broker: str) -> None:
    with running(broker, TICKER_HISTORY="5") as server:
        pub = Publisher(server.url)
        zero = await pub.publish("zero")
        async with await connect(server.ws_url) as ws:
            _, snapshot = await subscribe(ws)
            cursor = await cursor_after(ws, snapshot, zero["id"])
        # Redis trims the log with MAXLEN ~ (whole stream nodes of 100 entries), so go well
        # past the history before the first cursor is surely gone
        total = 12 if broker == "memory" else 250
        for n in range(total - 1):
            await pub.publish(f"item {n}")
        await publish_seen(server.ws_url, pub, f"item {total - 1}")
        async with await connect(server.ws_url) as ws:
            subscribed, fresh = await subscribe(ws, since=cursor)
            assert subscribed["recovered"] is False
            assert fresh["type"] == "snapshot"
            assert fresh["items"][-1]["text"] == f"item {total - 1}"
        async with await connect(server.ws_url) as ws:
            subscribed, fresh = await subscribe(ws, since="not-a-cursor")
            assert subscribed["recovered"] is False
        await pub.aclose()


async def test_filters(server: Server) -> None:
    pub = Publisher(server.url)
    async with await connect(server.ws_url) as ws:
        await subscribe(ws, flt={"categories": ["sports"], "regions": ["europe"],
                                 "max_urgency": 3})
        await pub.publish("wrong category", category="politics", regions=["europe"], urgency=1)
        await pub.publish("too low", category="sports", regions=["europe"], urgency=5)
        await pub.publish("wrong region", category="sports", regions=["asia"], urgency=1)
        wanted = await pub.publish("match", category="sports", regions=["asia", "europe"],
                                   urgency=3)
        (event,) = await recv_events(ws, 1)
        assert event["item"]["id"] == wanted["id"]
    await pub.aclose()


async def test_two_feeds_on_one_connection_and_unsubscribe(server: Server) -> None:
    pub = Publisher(server.url)
    async with await connect(server.ws_url) as ws:
        await subscribe(ws, "en")
        await subscribe(ws, "ar")
        await pub.publish("English", feed="en")
        await pub.publish("عاجل: خبر", feed="ar")
        events = await recv_events(ws, 2)
        assert sorted(e["item"]["feed"] for e in events) == ["ar", "en"]
        await ws.send(json.dumps({"type": "unsubscribe", "feed": "en"}))
        assert await recv(ws) == {"type": "unsubscribed", "feed": "en"}
        await pub.publish("not for us", feed="en")
        arabic = await pub.publish("خبر ثان", feed="ar")
        (event,) = await recv_events(ws, 1)
        assert event["item"]["id"] == arabic["id"]
        assert event["item"]["lang"] == "ar"
    await pub.aclose()


@pytest.mark.parametrize("broker", ["memory"])
async def test_bad_frames_get_errors_and_the_connection_stays_open(server: Server) -> None:
    async with await connect(server.ws_url) as ws:
        cases = [
            ("{not json", "malformed_json"),
            (json.dumps({"type": "dance"}), "invalid_frame"),
            (json.dumps({"type": "subscribe"}), "invalid_frame"),
            (json.dumps({"type": "subscribe", "feed": "xx"}), "unknown_feed"),
            (json.dumps({"type": "subscribe", "feed": "en", "filter": {"regions": ["mars"]}}),
             "invalid_filter"),
            (json.dumps({"type": "unsubscribe", "feed": "en"}), "not_subscribed"),
        ]
        for frame, code in cases:
            await ws.send(frame)
            error = await recv(ws)
            assert error["type"] == "error" and error["code"] == code, (frame, error)
            assert error["message"]
        await ws.send(b"\x00binary")
        assert (await recv(ws))["code"] == "unsupported"
        subscribed, _ = await subscribe(ws)
        assert subscribed["type"] == "subscribed"


@pytest.mark.parametrize("broker", ["memory"])
async def test_frame_over_the_limit_closes_1009(server: Server) -> None:
    async with await connect(server.ws_url, max_size=None) as ws:
        await ws.send("x" * (16 * 1024 + 1))
        with pytest.raises(ConnectionClosed) as closed:
            await recv(ws)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009


async def test_unknown_path_is_not_upgraded(server: Server) -> None:
    with pytest.raises(Exception, match="404"):
        await connect(f"ws://127.0.0.1:{server.port}/elsewhere")


async def test_idle_connection_gets_pings(tmp_path: Path) -> None:
    config = tmp_path / "ticker.toml"
    config.write_text("[limits]\nping_idle_seconds = 0.5\n")
    with running("memory", TICKER_CONFIG=str(config)) as server:
        async with await connect(server.ws_url) as ws:
            await subscribe(ws)
            assert await recv(ws) == {"type": "ping"}


async def test_shutdown_closes_readers_with_1012() -> None:
    with running("memory") as server:
        async with await connect(server.ws_url) as ws:
            await subscribe(ws)
            assert server.process is not None
            server.process.send_signal(signal.SIGTERM)
            with pytest.raises(ConnectionClosed) as closed:
                while True:
                    await recv(ws)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1012
        await asyncio.to_thread(server.stop)
