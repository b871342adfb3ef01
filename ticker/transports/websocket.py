"""``GET /ws``: the WebSocket transport, plugged into uvicorn as its WebSocket protocol class.

Why not an ASGI endpoint: ``await websocket.send_text`` frames and writes every event separately
for every reader and keeps a task, a scope and buffers alive per connection. A breaking-news
reader mostly listens, so this protocol owns the socket directly: the handshake and the client's
frames go through websockets' sans-I/O ``ServerProtocol``; events come from the hub as complete,
pre-encoded frames and everything pending for a reader is written with one ``transport.write``.
Per connection this keeps one protocol object, one outbox and the subscriptions, and no task.

Close codes: 1008 origin not allowed (the handshake is refused with 403 instead when the origin
is known at upgrade time), 1009 frame too large, 1012 server restarting, 1013 too slow.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import parse_qs, urlsplit

import msgspec
from websockets.frames import Frame, Opcode
from websockets.http11 import Request, Response
from websockets.server import ServerProtocol

from ticker import codec
from ticker.cursor import Cursor
from ticker.hub import Outbox
from ticker.model import ClientFrame, Filter, Subscribe, Unsubscribed
from ticker.validation import check_filter

if TYPE_CHECKING:
    from ticker.runtime import Runtime

log = logging.getLogger("ticker.ws")
# websockets logs every handshake at INFO; with 10,000 readers that is noise, so it gets its own
# logger that an operator can turn up (logging.getLogger("ticker.ws.protocol").setLevel(...)).
_protocol_log = logging.getLogger("ticker.ws.protocol")
_protocol_log.setLevel(logging.WARNING)
CLOSE_TIMEOUT = 2.0


class TickerWebSocket(asyncio.Protocol):
    """One WebSocket connection (uvicorn hands it over after the HTTP upgrade)."""

    def __init__(self, config: Any, server_state: Any, app_state: dict[str, Any],
                 _loop: asyncio.AbstractEventLoop | None = None) -> None:
        self.runtime: Runtime = app_state["ticker"]
        self.connections: set[Any] = server_state.connections  # uvicorn's, for shutdown
        settings = self.runtime.settings
        origins = settings.allowed_origins
        self.proto = ServerProtocol(
            origins=[*origins, None] if origins else None,
            max_size=settings.limits.frame_max,
            logger=_protocol_log,
        )
        self.transport: asyncio.Transport | None = None
        self.outbox: Outbox | None = None  # set once the handshake succeeded
        self.client = ""  # peer address, for logs and per-IP limits
        self.fragments: list[bytes] = []  # a fragmented client message in progress
        self.closing = False
        self.allowance = float(settings.limits.frame_burst)  # client frames it may send now
        self.allowance_at = 0.0  # loop time of the last refill
        self.admitted = False  # counted against the per-address connection limit
        self._close_timer: asyncio.TimerHandle | None = None

    # -- asyncio.Protocol -------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self.connections.add(self)
        peer = self.transport.get_extra_info("peername")
        self.client = str(peer[0]) if isinstance(peer, tuple) else ""

    def data_received(self, data: bytes) -> None:
        self.proto.receive_data(data)
        for event in self.proto.events_received():
            if isinstance(event, Request):
                self._handshake(event)
            elif isinstance(event, Frame):
                self._frame(event)
        self._flush_protocol()

    def eof_received(self) -> bool | None:
        self.proto.receive_eof()
        self._flush_protocol()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self.connections.discard(self)
        if self._close_timer is not None:
            self._close_timer.cancel()
        if self.admitted:
            self.runtime.release_connection(self.client)
            self.admitted = False
        if self.outbox is not None:
            self.runtime.hub.disconnect(self.outbox)
            self.runtime.metrics.connection_closed("ws")
            self.outbox = None

    def pause_writing(self) -> None:
        if self.outbox is not None:
            self.outbox.paused = True

    def resume_writing(self) -> None:
        if self.outbox is not None:
            self.runtime.hub.resume(self.outbox)
            self.runtime.fanout.schedule()

    # -- the fan-out's Writer ---------------------------------------------------------------

    def write(self, data: bytes) -> None:
        if self.transport is not None and not self.closing:
            self.transport.write(data)

    def close_slow(self) -> None:
        self.runtime.metrics.slow_reader_cut("ws")
        self.close(1013, "too slow to keep up: reconnect and resume")

    # -- uvicorn's graceful shutdown --------------------------------------------------------

    def shutdown(self) -> None:
        if self.outbox is None:
            if self.transport is not None:
                self.transport.close()
            return
        self.close(1012, "server restarting: reconnect and resume")

    def close(self, code: int, reason: str) -> None:
        if self.closing or self.transport is None:
            return
        self.closing = True
        if self.outbox is not None:
            if self.outbox.frames and not self.outbox.paused:
                self.transport.write(self.outbox.take())  # what was queued goes out first
            self.runtime.hub.disconnect(self.outbox)
        self.proto.send_close(code, reason)
        self.transport.write(b"".join(self.proto.data_to_send()))
        # abort, not close: close() waits for the write buffer to drain, which never happens
        # for a reader that stopped reading (a cut slow reader would keep its socket forever)
        self._close_timer = asyncio.get_running_loop().call_later(
            CLOSE_TIMEOUT, self.transport.abort,
        )

    # -- internals --------------------------------------------------------------------------

    def _flush_protocol(self) -> None:
        """Write what the sans-I/O protocol produced (handshake, pong, close) and close the
        socket when the closing handshake is done."""
        if self.transport is None:
            return
        for chunk in self.proto.data_to_send():
            if chunk:
                self.transport.write(chunk)
            else:
                self.transport.close()  # an empty chunk means: half-close, we are done
                return
        if self.proto.close_expected() and self.outbox is not None and not self.closing:
            self.closing = True
            self.runtime.hub.disconnect(self.outbox)

    def _handshake(self, request: Request) -> None:
        url = urlsplit(request.path)
        response: Response
        if url.path != "/ws":
            response = self.proto.reject(404, "Not Found: the WebSocket endpoint is /ws\n")
        elif not self.runtime.admit_connection(self.client):
            self.runtime.metrics.rejected(429)
            response = self.proto.reject(429, "Too many connections from this address\n")
        else:
            self.admitted = True
            response = self.proto.accept(request)
        self.proto.send_response(response)
        if response.status_code != 101:
            return
        self.outbox = Outbox(self, self.runtime.settings.limits.outbox_max_bytes, "ws")
        self.runtime.hub.connect(self.outbox)
        self.runtime.metrics.connection_opened("ws")
        query = parse_qs(url.query)
        if "feed" in query:
            since = query.get("since", [None])[0]
            self._subscribe(Subscribe(feed=query["feed"][0], since=since))

    def _frame(self, frame: Frame) -> None:
        if self.outbox is None or self.closing:
            return
        if frame.opcode in (Opcode.TEXT, Opcode.BINARY) and not self._within_rate():
            return
        if frame.opcode in (Opcode.TEXT, Opcode.BINARY) or frame.opcode is Opcode.CONT:
            if frame.opcode is Opcode.BINARY:
                self._error("unsupported", "send JSON in text frames")
                return
            self.fragments.append(bytes(frame.data))
            if not frame.fin:
                if sum(map(len, self.fragments)) > self.runtime.settings.limits.frame_max:
                    self.close(1009, "message too large")
                return
            message, self.fragments = b"".join(self.fragments), []
            self._message(message)

    def _within_rate(self) -> bool:
        """Token bucket: ``frames_per_second`` with bursts of ``frame_burst``. A frame over the
        rate gets an error and is dropped; a client that keeps going (a whole burst more) is
        closed with 1008."""
        limits = self.runtime.settings.limits
        now = asyncio.get_running_loop().time()
        if self.allowance_at:
            elapsed = now - self.allowance_at
            self.allowance = min(limits.frame_burst,
                                 self.allowance + elapsed * limits.frames_per_second)
        self.allowance_at = now
        self.allowance -= 1
        if self.allowance >= 0:
            return True
        if self.allowance < -limits.frame_burst:
            self.close(1008, "too many frames")
        else:
            self._error("rate_limited",
                        f"at most {limits.frames_per_second:g} frames per second; frame dropped")
        return False

    def _message(self, message: bytes) -> None:
        try:
            frame: ClientFrame = codec.client_frame_decoder.decode(message)
        except msgspec.ValidationError as exc:
            self._error("invalid_frame", str(exc))
            return
        except msgspec.DecodeError:
            self._error("malformed_json", "the frame is not valid JSON")
            return
        if isinstance(frame, Subscribe):
            self._subscribe(frame)
        elif self.outbox is not None:
            hub = self.runtime.hub
            if hub.unsubscribe(self.outbox, frame.feed):
                ack = codec.encode(Unsubscribed(feed=frame.feed))
                hub.send_json(self.outbox, "unsubscribed", ack)
                self.runtime.fanout.schedule()
            else:
                self._error("not_subscribed", f"not subscribed to feed {frame.feed!r}")

    def _subscribe(self, frame: Subscribe) -> None:
        outbox = self.outbox
        if outbox is None:
            return
        runtime = self.runtime
        feed = runtime.settings.feed(frame.feed)
        if feed is None:
            self._error("unknown_feed", f"no feed {frame.feed!r}")
            return
        problems = check_filter(frame.filter, feed, "$.filter")
        if problems:
            self._error("invalid_filter", "; ".join(f"{p.path}: {p.message}" for p in problems))
            return
        limit = runtime.settings.limits.subscriptions_per_connection
        if feed.id not in outbox.subs and len(outbox.subs) >= limit:
            self._error("too_many_subscriptions", f"at most {limit} subscriptions per connection")
            return
        since = _cursor(frame.since)
        need = runtime.hub.subscribe(outbox, feed.id, frame.filter or Filter(), since)
        if need is not None:
            runtime.relay.recover(outbox, need)
        runtime.fanout.schedule()

    def _error(self, code: str, message: str) -> None:
        if self.outbox is not None:
            frame = codec.encode({"type": "error", "code": code, "message": message})
            self.runtime.hub.send_json(self.outbox, "error", frame)
            self.runtime.fanout.schedule()


def _cursor(text: str | None) -> Cursor | None:
    """A cursor that does not parse is treated as unknown: the reader gets a snapshot."""
    if text is None:
        return None
    try:
        return Cursor.parse(text)
    except ValueError:
        return None

