"""The approval queue over HTTP (issue 13): approve, reject, the queue, an item's history, and
the desk's private live stream.

``GET /api/v1/feeds/{feed}/desk/events`` is Server-Sent Events behind a bearer token valid for
the feed (``Authorization: Bearer``; browsers read it with ``fetch``, as ``EventSource`` cannot
send the header). Events:

- ``queue``: ``{"feed", "items": [ITEM, ...]}`` — the queue as it is (first, and again whenever
  notices may have been lost);
- ``desk``: ``{"type": "desk", "feed", "id", "action", "by", "at", "version", "item"}`` — one
  action on one item (a history entry, with the item as it now is, note included);
- ``readers``: ``{"feed", "readers": N}`` — the feed's reader count, when it changes;
- ``end``: ``{"reason"}`` — the token is no longer valid (revoked, expired): the stream ends.

The token is checked again every ``TICK`` seconds, so a revoked token's stream ends within a
tick of the revocation reaching the node.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from ticker import codec
from ticker.auth import require_feed
from ticker.brokers.base import BrokerUnavailableError
from ticker.desk import BACKLOG
from ticker.errors import TickerError
from ticker.runtime import Runtime
from ticker.web.api import runtime_of

JSON = "application/json"
TICK = 1.0  # seconds between the stream's checks of its token and of the reader count
PING_SECONDS = 15.0  # between pings, when nothing else was sent
RETRY_MS = 2000


def _event(name: str, data: bytes) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + data + b"\n\n"


async def approve(request: Request) -> Response:
    return await _decide(request, "approve")


async def reject(request: Request) -> Response:
    return await _decide(request, "reject")


async def _decide(request: Request, action: str) -> Response:
    """``POST …/items/{id}/approve`` and ``…/reject``: no body; the item as it now is."""
    runtime = runtime_of(request)
    feed = runtime.feed(request.path_params["feed"])
    claims = runtime.verifier.verify(request.headers.get("authorization"))
    item_id = request.path_params["item_id"]
    if action == "approve":
        outcome = await runtime.newsroom.approve(claims, feed, item_id)
        if outcome.item.status == "usable":
            runtime.metrics.events.labels(feed.id, "item").inc()
        else:
            runtime.scheduler.wake()  # it is on the schedule now
    else:
        outcome = await runtime.newsroom.reject(claims, feed, item_id)
    headers = {"Location": f"/api/v1/feeds/{feed.id}/items/{item_id}"}
    return Response(outcome.data, 200, headers=headers, media_type=JSON)


async def queue(request: Request) -> Response:
    """``GET …/queue``: ``{"items": [...]}``, submitted and scheduled, oldest first."""
    runtime = runtime_of(request)
    feed = runtime.feed(request.path_params["feed"])
    claims = runtime.verifier.verify(request.headers.get("authorization"))
    items = await runtime.newsroom.queue(claims, feed)
    return Response(b'{"items":[' + b",".join(items) + b"]}", media_type=JSON)


async def history(request: Request) -> Response:
    """``GET …/items/{id}/history``: ``{"id", "history": [{action, by, at, version}, ...]}``."""
    runtime = runtime_of(request)
    feed = runtime.feed(request.path_params["feed"])
    claims = runtime.verifier.verify(request.headers.get("authorization"))
    item_id = request.path_params["item_id"]
    entries = await runtime.newsroom.history(claims, feed, item_id)
    return Response(b'{"id":' + codec.encode(item_id) + b',"history":' + entries + b"}",
                    media_type=JSON)


class DeskStream:
    """One desk reader: notices from the ``DeskHub``, the queue, reader counts, its token."""

    def __init__(self, runtime: Runtime, feed: str, authorization: str) -> None:
        self.runtime = runtime
        self.feed = feed
        self.authorization = authorization  # checked again every tick; never logged
        self.chunks: list[bytes] = []
        self.wake = asyncio.Event()
        self.ended = False
        self.queue_wanted = True  # send the queue (first, and after a resync)

    def notice(self, data: bytes) -> bool:
        if len(self.chunks) >= BACKLOG:
            return False
        self.chunks.append(_event("desk", data))
        self.wake.set()
        return True

    def resync(self) -> None:
        self.queue_wanted = True
        self.wake.set()

    def end(self) -> None:
        self.ended = True
        self.wake.set()

    def _still_valid(self) -> str | None:
        """Why the token no longer opens this stream, or None."""
        try:
            require_feed(self.runtime.verifier.verify(self.authorization), self.feed)
        except TickerError as exc:
            return exc.detail or exc.title
        return None

    async def _queue_event(self) -> bytes | None:
        claims = self.runtime.verifier.verify(self.authorization)
        feed = self.runtime.feed(self.feed)
        try:
            items = await self.runtime.newsroom.queue(claims, feed)
        except (TickerError, BrokerUnavailableError):
            self.queue_wanted = True  # the broker is away: try again next tick
            return None
        return _event("queue", f'{{"feed":"{self.feed}","items":['.encode()
                      + b",".join(items) + b"]}")

    async def body(self) -> AsyncIterator[bytes]:
        runtime = self.runtime
        runtime.desk.add(self.feed, self)
        runtime.sse_streams.add(self)  # ended when the server drains
        readers: int | None = None
        loop = asyncio.get_running_loop()
        pinged = loop.time()
        try:
            yield f"retry: {RETRY_MS}\n\n".encode()
            while not self.ended:
                reason = self._still_valid()
                if reason is not None:
                    yield _event("end", codec.encode({"reason": reason}))
                    return
                if self.queue_wanted:
                    self.queue_wanted = False
                    event = await self._queue_event()
                    if event is not None:
                        yield event
                if self.chunks:
                    data, self.chunks = b"".join(self.chunks), []
                    yield data
                count = runtime.readers().get(self.feed, 0)
                if count != readers:
                    readers = count
                    yield _event("readers", f'{{"feed":"{self.feed}","readers":{count}}}'.encode())
                if loop.time() - pinged >= PING_SECONDS:
                    pinged = loop.time()
                    yield b": ping\n\n"
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(TICK):  # not wait_for: it can swallow a cancel
                        await self.wake.wait()
                self.wake.clear()
        finally:
            runtime.desk.remove(self.feed, self)
            runtime.sse_streams.discard(self)


async def desk_events(request: Request) -> Response:
    """``GET /api/v1/feeds/{feed}/desk/events``: the desk's private stream (401/403 first)."""
    runtime = runtime_of(request)
    feed = runtime.feed(request.path_params["feed"])
    authorization = request.headers.get("authorization") or ""
    require_feed(runtime.verifier.verify(authorization), feed.id)
    stream = DeskStream(runtime, feed.id, authorization)
    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return StreamingResponse(stream.body(), media_type="text/event-stream", headers=headers)
