"""A small test client over the real ``websockets`` library."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import websockets
from websockets.asyncio.client import ClientConnection

from tests.servers import token

RECV_TIMEOUT = 10.0


async def recv(ws: ClientConnection, wait: float = RECV_TIMEOUT) -> dict[str, Any]:
    message = await asyncio.wait_for(ws.recv(), wait)
    result: dict[str, Any] = json.loads(message)
    return result


async def recv_events(ws: ClientConnection, count: int) -> list[dict[str, Any]]:
    """The next ``count`` events (item/update/retract), skipping pings."""
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
