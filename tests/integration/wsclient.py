"""A small test client over the real ``websockets`` library."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from typing import Any

import httpx
import websockets
from websockets.asyncio.client import ClientConnection

from tests.frame_schemas import check_server_frame
from tests.servers import token

RECV_TIMEOUT = 10.0


async def recv(ws: ClientConnection, wait: float = RECV_TIMEOUT) -> dict[str, Any]:
    """The next frame, checked against its AsyncAPI message schema."""
    message = await asyncio.wait_for(ws.recv(), wait)
    result: dict[str, Any] = json.loads(message)
    check_server_frame(result)
    return result


async def recv_events(ws: ClientConnection, count: int) -> list[dict[str, Any]]:
    """The next ``count`` events (item/update/retract/pin), skipping pings."""
    events: list[dict[str, Any]] = []
    while len(events) < count:
        message = await recv(ws)
        if message["type"] != "ping":
            events.append(message)
    return events


async def subscribe(ws: ClientConnection, feed: str = "en", since: str | None = None,
                    flt: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Send a subscribe frame; return the ``subscribed`` frame and, if any, the snapshot."""
    frame: dict[str, Any] = {"type": "subscribe", "feed": feed}
    if since is not None:
        frame["since"] = since
    if flt is not None:
        frame["filter"] = flt
    await ws.send(json.dumps(frame))
    first = await recv(ws)
    assert first["type"] == "subscribed", first
    if first["recovered"]:
        return [first]
    return [first, await recv(ws)]


async def connect(url: str, **kwargs: Any) -> ClientConnection:
    return await websockets.connect(url, open_timeout=10, **kwargs)


class Publisher:
    def __init__(self, base_url: str, sub: str = "alice", role: str = "editor") -> None:
        self.client = httpx.AsyncClient(base_url=base_url, timeout=10,
                                        headers={"Authorization": f"Bearer {token(sub, role)}"})

    async def publish(self, text: str, feed: str = "en", **fields: Any) -> dict[str, Any]:
        response = await self.client.post(f"/api/v1/feeds/{feed}/items",
                                          json={"text": text, **fields})
        assert response.status_code == 201, response.text
        result: dict[str, Any] = response.json()
        return result

    async def aclose(self) -> None:
        await self.client.aclose()


class FeedReader:
    """A reader of several feeds on one server that, like a widget, resumes from its cursors
    after any disconnect. It records the item ids of ``item`` events per feed, in arrival order.
    """

    def __init__(self, url: str, feeds: list[str], max_reconnects: int = 30) -> None:
        self.url = url
        self.feeds = feeds
        self.max_reconnects = max_reconnects
        self.cursors: dict[str, str] = {}  # feed → last cursor seen (snapshot or event)
        self.items: dict[str, list[str]] = {feed: [] for feed in feeds}
        self.subscribed: dict[str, int] = dict.fromkeys(feeds, 0)  # subscribed replies per feed
        self.reconnects = 0
        self.unrecovered = 0  # resumes answered with recovered: false (a loss)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> FeedReader:
        self._task = asyncio.create_task(self._run())
        return self

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def wait_until(self, ready: Callable[[], bool], wait: float = 30.0) -> None:
        async def poll() -> None:
            while not ready():
                if self._task is not None and self._task.done():
                    self._task.result()  # the reader gave up: show why
                await asyncio.sleep(0.02)

        await asyncio.wait_for(poll(), wait)

    async def wait_subscribed(self) -> None:
        """Until every feed has been subscribed on the current connection."""
        await self.wait_until(lambda: all(self.subscribed.values()))

    async def wait_items(self, expected: dict[str, list[str]], wait: float = 30.0) -> None:
        await self.wait_until(lambda: all(len(self.items[feed]) >= len(ids)
                                          for feed, ids in expected.items()), wait)

    async def _run(self) -> None:
        failures = 0
        while True:
            try:
                async with await connect(self.url) as ws:
                    self.subscribed = dict.fromkeys(self.feeds, 0)
                    for feed in self.feeds:
                        frame = {"type": "subscribe", "feed": feed}
                        if feed in self.cursors:
                            frame["since"] = self.cursors[feed]
                        await ws.send(json.dumps(frame))
                    async for raw in ws:
                        frame = json.loads(raw)
                        check_server_frame(frame)
                        self._handle(frame)
            except (websockets.ConnectionClosed, OSError, TimeoutError):
                pass
            failures += 1
            if failures > self.max_reconnects:
                raise RuntimeError(f"{self.url}: gave up after {failures} disconnects")
            self.reconnects += 1
            await asyncio.sleep(0.1)

    def _handle(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        if kind == "subscribed":
            feed = message["feed"]
            if feed in self.cursors and not message["recovered"]:
                self.unrecovered += 1
            self.subscribed[feed] += 1
        elif kind == "snapshot":
            self.cursors.setdefault(message["feed"], message["cursor"])
        elif kind == "item":
            feed = message["item"]["feed"]
            self.items[feed].append(message["item"]["id"])
            self.cursors[feed] = message["cursor"]
        elif kind in ("update", "retract"):
            feed = message.get("feed") or message["item"]["feed"]
            self.cursors[feed] = message["cursor"]
        elif kind == "error":
            raise AssertionError(f"server error frame: {message}")


async def publish_until_accepted(client: httpx.AsyncClient, feed: str, text: str, key: str,
                                 attempts: int = 100) -> dict[str, Any]:
    """POST one item with an idempotency key, retrying 503s and transport errors with the same
    key until it is accepted (201, or 200 when an earlier attempt had published it)."""
    for _ in range(attempts):
        try:
            response = await client.post(f"/api/v1/feeds/{feed}/items", json={"text": text},
                                         headers={"Idempotency-Key": key})
        except httpx.TransportError:
            await asyncio.sleep(0.1)
            continue
        if response.status_code in (200, 201):
            result: dict[str, Any] = response.json()
            return result
        assert response.status_code == 503, response.text
        await asyncio.sleep(0.1)
    raise AssertionError(f"{feed}: {text!r} was not accepted after {attempts} attempts")


async def publish_seen(ws_url: str, pub: Publisher, text: str, **fields: Any) -> dict[str, Any]:
    """Publish and return only once the node has dispatched it (a witness reader saw it).

    A ``201`` means the item is in the log; the node's hub gets it a moment later through the
    broker, so a snapshot taken right after a ``201`` may not hold it yet (it then arrives as a
    live event). Tests that assert on snapshot contents publish through this.
    """
    async with await connect(ws_url) as witness:
        await subscribe(witness, fields.get("feed", "en"))
        item = await pub.publish(text, **fields)
        while True:
            (event,) = await recv_events(witness, 1)
            if event.get("item", {}).get("id") == item["id"]:
                return item


async def cursor_after(ws: ClientConnection, snapshot: dict[str, Any], item_id: str) -> str:
    """The cursor to resume from once ``item_id`` has been seen, in the snapshot or live."""
    if any(i["id"] == item_id for i in snapshot["items"]):
        cursor: str = snapshot["cursor"]
        return cursor
    while True:
        (event,) = await recv_events(ws, 1)
        if event.get("item", {}).get("id") == item_id:
            cursor = event["cursor"]
            return cursor
