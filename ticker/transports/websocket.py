"""``GET /ws``: the WebSocket transport, plugged into uvicorn as its WebSocket protocol class.

Why not an ASGI endpoint: ``await websocket.send_text`` frames and writes every event separately
for every reader and keeps a task, a scope and buffers alive per connection. A breaking-news
reader mostly listens, so this protocol owns the socket directly: the handshake and the client's
frames go through a lean sans-I/O ``ServerProtocol`` (``transports/wsproto.py``: a few slotted
fields per connection instead of websockets' ~1.9 KB one); events come from the hub as complete,
pre-encoded frames and everything pending for a reader is written with one write per flush
(``transports/fanout.py``). Per connection this keeps one slotted protocol object and one reader
session (``ticker.session``: the outbox, the subscriptions, the per-address count), and no task.

Framing follows RFC 6455. ``ServerProtocol`` parses every frame and already fails the connection
with ``1002`` for reserved bits without an extension, a reserved opcode, an unmasked client
frame, a control frame over 125 bytes or fragmented, a continuation without a start, a new data
frame inside a fragmented message, or an invalid close code; with ``1007`` for a close reason
that is not UTF-8; with ``1009`` for a message whose fragments add up to more than
``frame_max``. It answers pings (between fragments too) and echoes a client's close. This module
adds what it leaves to the application, per message rather than per list of fragments: the
current message's opcode, fragment count, and for text its bytes and an incremental UTF-8 check.
Every data frame, continuations included, and every ping is charged to the connection's frame
budget; a message may have at most ``fragments_max`` fragments; a text message that is not
UTF-8 fails with ``1007``; a binary message, however fragmented, is answered with an ``error``
frame and never read as a command. Pongs the library answers with go through the reader's
outbox, so a client that pings without reading is cut like any slow reader.

Liveness: every ``ping_idle_seconds`` the server sends a WebSocket ping; a peer that has not
answered within ``pong_timeout_seconds`` is closed with ``1011`` and its outbox freed. Every
close ends in an abort after ``CLOSE_TIMEOUT`` if the peer does not finish it.

Disallowed origins never get a WebSocket: the upgrade is refused with ``403``. Close codes:
1002 protocol error, 1007 text that is not UTF-8, 1008 far over the frame rate, 1009 message too
large (or in too many fragments), 1011 no pong in time, 1012 server restarting, 1013 too slow.
"""

from __future__ import annotations

import asyncio
import codecs
import logging
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import parse_qs, urlsplit

import msgspec
from websockets.frames import Frame, Opcode
from websockets.protocol import State

from ticker import codec
from ticker.model import ClientFrame, Filter, Subscribe
from ticker.transports.wsproto import Request, Response, ServerProtocol

if TYPE_CHECKING:
    from ticker.runtime import Runtime
    from ticker.session import Session

log = logging.getLogger("ticker.ws")
CLOSE_TIMEOUT = 2.0  # seconds from starting a close to aborting the socket
PING_FRAME = b"\x89\x00"  # an empty WebSocket ping (servers never mask)
PONG_HEAD = 0x8A  # first byte of a pong frame the library queued
FEED_SLICE = 4096  # bytes handed to the frame parser at a time
_utf8 = codecs.getincrementaldecoder("utf-8")


class TickerWebSocket(asyncio.Protocol):
    """One WebSocket connection (uvicorn hands it over after the HTTP upgrade)."""

    # slotted: a node keeps tens of thousands of these (docs/benchmarks.md, memory per reader)
    __slots__ = ("_abort", "address", "allowance", "allowance_at", "binary", "closing",
                 "connections", "dropped", "fragments", "last_ping_at", "limits",
                 "ping_sent_at", "proto", "runtime", "session", "sessions", "text",
                 "transport", "utf8")

    def __init__(self, config: Any, server_state: Any, app_state: dict[str, Any],
                 _loop: asyncio.AbstractEventLoop | None = None) -> None:
        self.runtime: Runtime = app_state["ticker"]
        self.sessions = self.runtime.sessions
        self.connections: set[Any] = server_state.connections  # uvicorn's, for shutdown
        self.limits = limits = self.runtime.settings.limits
        # origins are checked by the session rules (one allow-list for every transport)
        self.proto = ServerProtocol(max_size=limits.frame_max)
        self.transport: asyncio.Transport | None = None
        self.session: Session | None = None  # set once the handshake succeeded
        self.address = ""  # peer address, for the per-address limit
        self.closing = False  # no more frames for this reader; the socket is being closed
        self._abort: asyncio.TimerHandle | None = None
        # the client's current message
        self.fragments = 0  # frames of it so far
        self.binary = False  # a binary message: never read, answered with an error
        self.dropped = False  # over the frame rate: its remaining fragments are ignored
        self.text: bytearray | None = None  # a fragmented text message's bytes so far
        self.utf8: codecs.IncrementalDecoder | None = None  # checks them as they come
        # the frame budget: a token bucket of client frames
        self.allowance = float(limits.frame_burst)
        self.allowance_at = 0.0  # loop time of the last refill
        # liveness
        self.ping_sent_at = 0.0  # loop time of the unanswered ping (0: none)
        self.last_ping_at = 0.0

    # -- asyncio.Protocol -------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self.connections.add(self)
        peer = self.transport.get_extra_info("peername")
        self.address = str(peer[0]) if isinstance(peer, tuple) else ""
        self.last_ping_at = self.runtime.fanout.now()

    def data_received(self, data: bytes) -> None:
        # the parser turns all it is given into frames before any is looked at: a big read
        # full of tiny frames goes in slices, so a connection that fails on its 33rd frame
        # does not parse 40,000 first (after the failure the parser only discards)
        if len(data) <= FEED_SLICE:
            self._receive(data)
            return
        for start in range(0, len(data), FEED_SLICE):
            self._receive(data[start:start + FEED_SLICE])

    def _receive(self, data: bytes) -> None:
        proto = self.proto
        proto.receive_data(data)
        for event in proto.events_received():
            if self.closing:
                break  # frames parsed in the same read after the connection failed
            try:
                if isinstance(event, Frame):
                    self._frame(event)
                elif isinstance(event, Request):
                    self._handshake(event)
            except Exception:  # a bug must not become "Fatal error on transport"
                log.exception("unexpected error on a WebSocket frame")
                self.fail(1011, "internal error")
        self._drain_protocol()

    def eof_received(self) -> bool | None:
        self.proto.receive_eof()
        self._drain_protocol()
        self._end()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self.connections.discard(self)
        if self._abort is not None:
            self._abort.cancel()
        self.closing = True
        if self.session is not None:
            self.session.close()
        # no cycle left between this object, its session, outbox and transport: reference
        # counting frees them now instead of a garbage collection over every live reader
        self.session = None
        self.transport = None

    def pause_writing(self) -> None:
        if self.session is not None:
            self.session.outbox.paused = True

    def resume_writing(self) -> None:
        if self.session is not None and not self.closing:
            self.runtime.hub.resume(self.session.outbox)
            self.runtime.fanout.schedule()

    # -- the session's Owner ----------------------------------------------------------------

    def write(self, data: bytes) -> None:
        if self.transport is not None and not self.closing:
            self.transport.write(data)

    def close_slow(self) -> None:
        self.runtime.metrics.slow_reader_cut("ws")
        self.close(1013, "too slow to keep up: reconnect and resume")

    def tick(self, now: float) -> None:
        """Ping every ``ping_idle_seconds``; no pong within ``pong_timeout_seconds``: 1011."""
        if self.closing or self.session is None:
            return
        if self.ping_sent_at:
            if now - self.ping_sent_at > self.limits.pong_timeout_seconds:
                self.fail(1011, "no pong within the deadline")
            return
        if now - self.last_ping_at >= self.limits.ping_idle_seconds:
            self.ping_sent_at = self.last_ping_at = now
            self.session.send_raw(PING_FRAME)

    # -- closing ----------------------------------------------------------------------------

    def shutdown(self) -> None:
        """uvicorn's graceful shutdown: 1012 to readers. Never raises (uvicorn calls it for
        every connection in a row)."""
        try:
            if self.session is None:
                self._end()
            else:
                self.close(1012, "server restarting: reconnect and resume")
        except Exception:
            log.exception("closing a WebSocket at shutdown")
            if self.transport is not None:
                self.transport.abort()

    def close(self, code: int, reason: str) -> None:
        """Start the closing handshake (1012, 1013): what was queued goes out first, then the
        close frame; the socket is aborted if the peer has not finished it by CLOSE_TIMEOUT.
        Does nothing on a connection that is already closing."""
        if self.closing or self.transport is None:
            return
        self._flush_outbox()
        self._release()
        if self.proto.state is State.OPEN:
            self.proto.send_close(code, reason)
            self._drain_protocol()
        else:
            self.transport.close()
        self._abort_later()

    def fail(self, code: int, reason: str) -> None:
        """Fail the connection (RFC 6455 §7.1.7): a close frame, then the socket is closed
        and nothing more the peer sends is read. What was queued (the errors that explain it)
        goes out first."""
        if self.closing or self.transport is None:
            return
        self._flush_outbox()
        self._release()
        self.proto.fail(code, reason)
        self._drain_protocol()
        self._end()

    def _flush_outbox(self) -> None:
        session = self.session
        if session is not None and self.transport is not None:
            outbox = session.outbox
            if outbox.frames and not outbox.paused:
                self.transport.write(outbox.take())

    def _release(self) -> None:
        """No more frames for this reader: leave the hub, free the outbox and address slot."""
        self.closing = True
        if self.session is not None:
            self.session.close()

    def _end(self) -> None:
        """The WebSocket is over: half-close the socket (what the peer still sends is read and
        discarded, so closing never turns into a reset that destroys the close frame in
        flight); the peer closes its side, or the socket is aborted after CLOSE_TIMEOUT."""
        self._release()
        transport = self.transport
        if transport is not None and not transport.is_closing():
            if self.proto.state is not State.CONNECTING and transport.can_write_eof():
                transport.write_eof()
            else:
                transport.close()
        self._abort_later()

    def _abort_later(self) -> None:
        # abort, not wait: close() waits for the write buffer to drain, which never happens for
        # a peer that stopped reading
        if self._abort is None and self.transport is not None:
            self._abort = asyncio.get_running_loop().call_later(CLOSE_TIMEOUT,
                                                                self.transport.abort)

    # -- internals --------------------------------------------------------------------------

    def _drain_protocol(self) -> None:
        """Write what the sans-I/O protocol produced: the handshake response and close frames
        at once, pongs through the outbox (they count against it); an empty chunk means the
        protocol is done with the connection."""
        if self.transport is None:
            return
        for chunk in self.proto.data_to_send():
            if not chunk:
                self._end()
            elif chunk[0] == PONG_HEAD and self.session is not None:
                self.session.send_raw(chunk)  # dropped if closing
            else:
                self.transport.write(chunk)

    def _handshake(self, request: Request) -> None:
        url = urlsplit(request.path)
        sessions = self.sessions
        response: Response
        session = None
        if url.path != "/ws":
            response = self.proto.reject(404, "Not Found: the WebSocket endpoint is /ws\n")
        elif not sessions.origin_allowed(request.headers.get("Origin")):
            self.runtime.metrics.rejected(403)
            response = self.proto.reject(403, "Forbidden: this origin may not connect\n")
        else:
            response = self.proto.accept(request)
            if response.status_code == 101:
                session = sessions.open(self, "ws", "ws", self.address)
                if session is None:
                    self.runtime.metrics.rejected(429)
                    response = self.proto.reject(429, "Too many connections from this address\n")
        self.proto.send_response(response)
        if session is None:
            return
        self.session = session
        query = parse_qs(url.query)
        if "feed" in query:
            # the 101 goes out with the subscription's first frames: one write, not two (a
            # reconnect storm is thousands of these at once)
            session.send_raw(self.proto.take_response())
            self._subscribe(query["feed"][0], None, query.get("since", [None])[0])

    def _frame(self, frame: Frame) -> None:
        opcode = frame.opcode
        if opcode is Opcode.PING:
            self._charge()  # the library queued its pong
            return
        if opcode is Opcode.PONG:
            self.ping_sent_at = 0.0
            return
        if opcode is Opcode.CLOSE or self.session is None:
            return  # the library echoed the close; _drain_protocol ends the connection
        # a data frame: TEXT or BINARY starts a message, CONT continues it (the library has
        # already failed the connection for any other order)
        if opcode is not Opcode.CONT:
            self.fragments = 0
            self.binary = opcode is Opcode.BINARY
            self.dropped = False
            self.utf8 = self.text = None
        self.fragments += 1
        if self.fragments > self.limits.fragments_max:
            self.fail(1009, f"a message may have at most {self.limits.fragments_max} fragments")
            return
        if not self._charge():
            self.dropped = True
        if self.dropped or self.closing:
            return
        if self.binary:
            if frame.fin:
                self.session.error("unsupported", "send JSON in text frames")
            return
        data = bytes(frame.data)  # it is bytes already: no copy
        try:
            if frame.fin and self.fragments == 1:
                data.decode()
                self._message(data)
                return
            if self.utf8 is None or self.text is None:
                self.utf8, self.text = _utf8(), bytearray()
            self.utf8.decode(data, frame.fin)
        except UnicodeDecodeError as exc:
            self.fail(1007, f"invalid UTF-8 at byte {exc.start}")
            return
        self.text += data
        if frame.fin:
            message = bytes(self.text)
            self.utf8 = self.text = None
            self._message(message)

    def _charge(self) -> bool:
        """Token bucket: ``frames_per_second`` with bursts of ``frame_burst``. A frame over the
        rate gets an error and is dropped; a client that keeps going (a whole burst more) is
        closed with 1008."""
        limits = self.limits
        now = self.runtime.fanout.now()
        if self.allowance_at:
            self.allowance = min(limits.frame_burst, self.allowance
                                 + (now - self.allowance_at) * limits.frames_per_second)
        self.allowance_at = now
        self.allowance -= 1
        if self.allowance >= 0:
            return True
        if self.allowance < -limits.frame_burst:
            self.fail(1008, "too many frames")
        elif self.session is not None:
            self.session.error("rate_limited", f"at most {limits.frames_per_second:g} frames "
                               "per second; frame dropped")
        return False

    def _message(self, message: bytes) -> None:
        session = self.session
        assert session is not None
        try:
            frame: ClientFrame = codec.client_frame_decoder.decode(message)
        except msgspec.ValidationError as exc:
            session.error("invalid_frame", str(exc))
            return
        except msgspec.DecodeError:
            session.error("malformed_json", "the frame is not valid JSON")
            return
        except RecursionError:
            session.error("malformed_json", "the frame is nested too deeply")
            return
        if isinstance(frame, Subscribe):
            self._subscribe(frame.feed, frame.filter, frame.since)
        elif not session.unsubscribe(frame.feed):
            session.error("not_subscribed", f"not subscribed to feed {frame.feed!r}")

    def _subscribe(self, feed: str, flt: Filter | None, since: str | None) -> None:
        assert self.session is not None
        refused = self.session.subscribe(feed, flt, since, "$.filter")
        if refused is not None:
            self.session.error(refused.code, refused.message)
