"""``GET /api/v1/feeds/{feed}/events``: the Server-Sent Events transport.

A reader session (``ticker.session``) like a WebSocket's, with the same admission rules: an
``Origin`` not on ``TICKER_ALLOWED_ORIGINS`` gets ``403`` (allowed origins get their own origin
back with ``Vary: Origin``, from the CORS middleware), and the per-address connection limit
answers ``429``. Its ``sse`` outbox gets each event's SSE block (``id:`` cursor, ``event:`` type,
``data:`` JSON), encoded once per node. While a chunk is being sent the outbox is paused, so
frames pile up there and a reader that falls behind is cut; a chunk the client has not taken
within ``write_timeout_seconds`` cuts it too. A cut aborts the connection (the browser's
EventSource reconnects with ``Last-Event-ID``). Resuming works exactly like the WebSocket:
``Last-Event-ID`` or ``?since=``; neither, or a cursor no longer retained, opens the stream with
``event: snapshot``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from ticker.errors import InvalidInput, NotFound, OriginNotAllowed, RateLimited
from ticker.model import FieldError, Filter
from ticker.runtime import Runtime
from ticker.session import Session
from ticker.validation import query_int

RETRY_MS = 2000  # how long a browser waits before reconnecting
ABORT = "ticker.abort"  # scope extension set by server.TickerHttp: abort the connection


class SseStream:
    """One SSE reader: the session's Owner, drained by the response body generator."""

    def __init__(self, runtime: Runtime, abort: Callable[[], None] | None) -> None:
        self.runtime = runtime
        self.session: Session | None = None
        self.abort = abort
        self.chunks: list[bytes] = []  # written by the fan-out, not yet sent
        self.wake = asyncio.Event()
        self.ended = False  # cut for being slow, or the server is draining
        self.sending_since = 0.0  # loop time a chunk was handed to the server (0: none pending)

    def write(self, data: bytes) -> None:
        self.chunks.append(data)
        if self.session is not None:
            self.session.outbox.paused = True  # the next frames wait until this is sent
        self.wake.set()

    def close_slow(self) -> None:
        """Cut: end the stream and drop the connection, even if the client reads nothing (the
        body generator may be stuck handing a chunk to a socket that does not drain)."""
        self.runtime.metrics.slow_reader_cut("sse")
        self.end()
        if self.abort is not None:
            self.abort()

    def tick(self, now: float) -> None:
        if self.sending_since and now - self.sending_since > (
                self.runtime.settings.limits.write_timeout_seconds) and not self.ended:
            self.close_slow()

    def end(self) -> None:
        self.ended = True
        if self.session is not None:
            self.session.close()
        self.wake.set()

    async def body(self) -> AsyncIterator[bytes]:
        runtime = self.runtime
        loop = asyncio.get_running_loop()
        runtime.sse_streams.add(self)
        try:
            yield f"retry: {RETRY_MS}\n\n".encode()
            while not self.ended:
                await self.wake.wait()
                self.wake.clear()
                if self.chunks and not self.ended:
                    data = b"".join(self.chunks)
                    self.chunks = []
                    self.sending_since = loop.time()
                    yield data
                    self.sending_since = 0.0
                    if self.session is not None and not self.session.closed:
                        runtime.hub.resume(self.session.outbox)
                        runtime.fanout.schedule()
        finally:
            self.ended = True
            if self.session is not None:
                self.session.close()
            runtime.sse_streams.discard(self)


def _filter(request: Request) -> Filter:
    params = request.query_params

    def names(key: str) -> list[str] | None:
        value = params.get(key)
        return [v for v in value.split(",") if v] if value else None

    return Filter(categories=names("categories"), regions=names("regions"),
                  max_urgency=query_int(params, "max_urgency", 1, 9))


async def events(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    sessions = runtime.sessions
    if not sessions.origin_allowed(request.headers.get("origin")):
        raise OriginNotAllowed("the origin is not in TICKER_ALLOWED_ORIGINS")
    runtime.feed(request.path_params["feed"])  # 404 before anything else
    flt = _filter(request)
    extensions = request.scope.get("extensions") or {}
    stream = SseStream(runtime, extensions.get(ABORT))
    address = request.client.host if request.client else ""
    session = sessions.open(stream, "sse", "sse", address)
    if session is None:
        raise RateLimited(10, "too many connections from this address")
    stream.session = session
    since = request.headers.get("last-event-id") or request.query_params.get("since")
    refused = session.subscribe(request.path_params["feed"], flt, since or None, "query")
    if refused is not None:
        session.close()
        if refused.code == "unknown_feed":
            raise NotFound(refused.message)
        raise InvalidInput(refused.errors or [FieldError(path="query", message=refused.message)])
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(stream.body(), media_type="text/event-stream", headers=headers)
