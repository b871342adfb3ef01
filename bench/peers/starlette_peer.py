"""Plain starlette + uvicorn + redis-py peer: what a typical Python team writes.

POST /api/v1/feeds/{feed}/items publishes the event to Redis; one listener task
per process receives it and ``await websocket.send_text(...)``s it to every
connected client in turn.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import redis.asyncio as aioredis
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

CHANNEL = "bench:en"
EPOCH = format(int(time.time() * 1000), "x")


class State:
    def __init__(self, redis_url: str) -> None:
        self.redis: aioredis.Redis = aioredis.Redis.from_url(redis_url)
        self.clients: set[WebSocket] = set()
        self.counter = 0
        self.listener: asyncio.Task[None] | None = None


def make_event(state: State, feed: str, body: dict[str, Any]) -> dict[str, Any]:
    state.counter += 1
    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    item = {
        "id": f"{EPOCH}-{state.counter:010d}",
        "feed": feed,
        "text": str(body["text"]),
        "urgency": body.get("urgency", 4),
        "regions": body.get("regions", []),
        "lang": "en",
        "author": "bench",
        "published_at": now,
        "updated_at": now,
        "version": 1,
        "status": "usable",
    }
    return {"type": "item", "cursor": f"{EPOCH}:{state.counter}", "item": item}


async def listen(state: State) -> None:
    pubsub = state.redis.pubsub()
    await pubsub.subscribe(CHANNEL)
    async for message in pubsub.listen():
        if message["type"] != "message":
            continue
        data = message["data"].decode()
        for ws in list(state.clients):
            try:
                await ws.send_text(data)
            except Exception:
                state.clients.discard(ws)


async def publish(request: Request) -> Response:
    state: State = request.app.state.bench
    try:
        body = await request.json()
    except ValueError:
        return JSONResponse({"title": "malformed JSON"}, status_code=400)
    if not isinstance(body, dict) or not isinstance(body.get("text"), str):
        return JSONResponse({"title": "text required"}, status_code=422)
    event = make_event(state, request.path_params["feed"], body)
    await state.redis.publish(CHANNEL, json.dumps(event, separators=(",", ":")))
    return JSONResponse(event["item"], status_code=201)


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def ws_endpoint(websocket: WebSocket) -> None:
    state: State = websocket.app.state.bench
    await websocket.accept()
    state.clients.add(websocket)
    try:
        while True:
            await websocket.receive_text()
    except WebSocketDisconnect:
        pass
    finally:
        state.clients.discard(websocket)


def build_app(redis_url: str) -> Starlette:
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        state = State(redis_url)
        app.state.bench = state
        state.listener = asyncio.create_task(listen(state))
        yield
        state.listener.cancel()
        await state.redis.aclose()

    return Starlette(
        routes=[
            Route("/api/v1/feeds/{feed}/items", publish, methods=["POST"]),
            Route("/healthz", healthz),
            WebSocketRoute("/ws", ws_endpoint),
        ],
        lifespan=lifespan,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--redis", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
    # uvicorn accepts permessage-deflate by default; the flag is accepted for a
    # uniform command line with the Node peers and changes nothing.
    parser.add_argument("--deflate", action="store_true", help="(uvicorn's default: on)")
    args = parser.parse_args()
    uvicorn.run(
        build_app(args.redis),
        host=args.host,
        port=args.port,
        log_level="warning",
        backlog=2048,
    )


if __name__ == "__main__":
    main()
