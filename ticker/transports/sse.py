"""``GET /api/v1/feeds/{feed}/events``: the Server-Sent Events transport.

The same hub, the same outbox rules as the WebSocket: an ``sse`` outbox gets each event's SSE
block (``id:`` cursor, ``event:`` type, ``data:`` JSON), encoded once per node. While a chunk is
being sent the outbox is paused, so frames pile up there and a reader that falls behind is cut
(the stream ends; the browser's EventSource reconnects with ``Last-Event-ID``). Resuming works
exactly like the WebSocket: ``Last-Event-ID`` or ``?since=``; neither, or a cursor no longer
retained, opens the stream with ``event: snapshot``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from ticker.cursor import Cursor
from ticker.errors import InvalidInput
from ticker.hub import Outbox
from ticker.model import Filter
from ticker.runtime import Runtime
from ticker.validation import check_filter, query_int

RETRY_MS = 2000  # how long a browser waits before reconnecting


class SseStream:
    """One SSE reader: the fan-out's Writer, drained by the response body generator."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.outbox = Outbox(self, runtime.settings.limits.outbox_max_bytes, "sse")
        self.chunks: list[bytes] = []  # written by the fan-out, not yet sent
        self.wake = asyncio.Event()
        self.ended = False  # cut for being slow, or the server is draining

    def write(self, data: bytes) -> None:
        self.chunks.append(data)
        self.outbox.paused = True  # the next frames wait in the outbox until this is sent
        self.wake.set()

    def close_slow(self) -> None:
        self.runtime.metrics.slow_reader_cut("sse")
        self.end()

    def end(self) -> None:
        self.ended = True
        self.wake.set()

    async def body(self) -> AsyncIterator[bytes]:
        hub, fanout = self.runtime.hub, self.runtime.fanout
        self.runtime.sse_streams.add(self)
        self.runtime.metrics.connection_opened("sse")
        try:
            yield f"retry: {RETRY_MS}\n\n".encode()
            while not self.ended:
                await self.wake.wait()
                self.wake.clear()
                if self.chunks:
                    data = b"".join(self.chunks)
                    self.chunks = []
                    yield data
                    hub.resume(self.outbox)
                    fanout.schedule()
        finally:
            hub.disconnect(self.outbox)
            self.runtime.sse_streams.discard(self)
            self.runtime.metrics.connection_closed("sse")


def _filter(request: Request) -> Filter:
    params = request.query_params

    def names(key: str) -> list[str] | None:
        value = params.get(key)
        return [v for v in value.split(",") if v] if value else None

    return Filter(categories=names("categories"), regions=names("regions"),
                  max_urgency=query_int(params, "max_urgency", 1, 9))


async def events(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    feed = runtime.feed(request.path_params["feed"])
    flt = _filter(request)
    problems = check_filter(flt, feed, "query")
    if problems:
        raise InvalidInput(problems)
    since_text = request.headers.get("last-event-id") or request.query_params.get("since")
    since = None
    if since_text:
        try:
            since = Cursor.parse(since_text)
        except ValueError:
            since = None  # like the WebSocket: an unusable cursor gets a snapshot
    stream = SseStream(runtime)
    runtime.hub.connect(stream.outbox)
    need = runtime.hub.subscribe(stream.outbox, feed.id, flt, since)
    if need is not None:
        runtime.relay.recover(stream.outbox, need)
    runtime.fanout.schedule()
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no",
               "Access-Control-Allow-Origin": "*"}
    return StreamingResponse(stream.body(), media_type="text/event-stream", headers=headers)
