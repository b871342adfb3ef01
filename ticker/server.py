"""Running the app under uvicorn: one process, or N worker processes sharing the port.

Both modes use the same two protocol classes, so they behave alike in every process:
``TickerWebSocket`` (``/ws`` bypasses ASGI, see docs/architecture.md) and ``TickerHttp``, uvicorn's
HTTP protocol plus what must happen before the app sees a request:

- ``SO_KEEPALIVE`` on every accepted socket, so the kernel's keepalive settings (docs/deploy.md)
  find peers that vanished without a FIN;
- a bound on the request line and headers, in bytes (``431``: httptools would buffer a header
  without limit) and in time (``408``: a half-sent header must not hold a connection);
- an ``abort`` hook in the request scope, so the SSE transport can drop a reader that does not
  read (``transports/sse.py``);
- the drain hook: when uvicorn begins its graceful shutdown it calls ``shutdown`` on every open
  connection, and an SSE stream never finishes by itself, so the first such call ends every SSE
  stream of the process (browsers reconnect elsewhere with ``Last-Event-ID``).

With ``workers > 1`` uvicorn's supervisor binds the socket once and starts N processes that
accept on it; each one imports ``ticker.app:app_from_env`` and builds its own app from the
environment — its own hub, broker connections and one subscription per feed. The supervisor
restarts a worker that dies and passes SIGTERM on to all of them.
"""

from __future__ import annotations

import asyncio
import copy
import socket
from typing import Any

import uvicorn
from starlette.applications import Starlette
from uvicorn.config import LOGGING_CONFIG, STARTUP_FAILURE
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.supervisors import Multiprocess

from ticker import codec
from ticker.config import Limits, Settings
from ticker.model import Problem
from ticker.transports.sse import ABORT
from ticker.transports.websocket import TickerWebSocket
from ticker.web.problems import MEDIA_TYPE, PROBLEM_BASE

APP_FACTORY = "ticker.app:app_from_env"
LISTEN_BACKLOG = 4096  # accept queue asked of the kernel (net.core.somaxconn caps it)
HEAD_SLACK = 4  # the request head may take this many times header_max_bytes before it is cut:
# below that, headers over header_max_bytes get the app's own 431 (web/middleware.py)
_REASONS = {408: ("Request Timeout", "request-timeout"),
            431: ("Request Header Fields Too Large", "request-header-fields-too-large")}


class TickerHttp(HttpToolsProtocol):
    """uvicorn's HTTP protocol with keepalive, head limits, the abort hook and the drain hook;
    see the module."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        runtime = self.app_state.get("ticker")
        limits: Limits = runtime.settings.limits if runtime is not None else Limits()
        self.head_max = limits.header_max_bytes * HEAD_SLACK
        self.head_timeout = limits.header_timeout_seconds
        self.in_head = True  # reading a request line and headers
        self.head_begun = False  # some of them arrived
        self.head_bytes = 0  # bytes received while reading them
        self.head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        sock = transport.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
            except OSError:
                pass  # not a TCP socket (a Unix socket in tests)
        self._start_head()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_head()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self.in_head:
            self.head_bytes += len(data)
        super().data_received(data)
        if self.in_head and self.head_bytes > self.head_max and not self.transport.is_closing():
            self._refuse(431, f"the request line and headers may take at most {self.head_max} "
                         "bytes")

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.scope["extensions"] = {ABORT: self.transport.abort}  # type: ignore[dict-item]
        self.head_bytes = 0
        self._start_head()
        self.head_begun = True

    def on_headers_complete(self) -> None:
        self._stop_head()
        super().on_headers_complete()

    def _start_head(self) -> None:
        self.in_head = True
        if self.head_timer is None:
            self.head_timer = self.loop.call_later(self.head_timeout, self._head_timed_out)

    def _stop_head(self) -> None:
        self.in_head = self.head_begun = False
        if self.head_timer is not None:
            self.head_timer.cancel()
            self.head_timer = None

    def _head_timed_out(self) -> None:
        self.head_timer = None
        if self.transport.is_closing():
            return
        if self.head_begun:
            self._refuse(408, f"the request line and headers must arrive within "
                         f"{self.head_timeout:g} s")
        else:
            self.transport.close()  # an idle connection: nothing to answer

    def _refuse(self, status: int, detail: str) -> None:
        """Answer before any app code ran, and close (no more of the request is read)."""
        self._stop_head()
        reason, slug = _REASONS[status]
        body = codec.encode(Problem(type=PROBLEM_BASE + slug, title=reason, status=status,
                                    detail=detail))
        head = (f"HTTP/1.1 {status} {reason}\r\ncontent-type: {MEDIA_TYPE}\r\n"
                f"content-length: {len(body)}\r\nconnection: close\r\n\r\n")
        self.transport.write(head.encode() + body)
        self.transport.close()
        runtime = self.app_state.get("ticker")
        if runtime is not None:
            runtime.metrics.rejected(status)

    def shutdown(self) -> None:
        runtime = self.app_state.get("ticker")
        if runtime is not None:
            runtime.begin_drain()  # once per process: later calls return at once
        super().shutdown()


def log_config(level: str) -> dict[str, Any]:
    """uvicorn's logging, plus our records (any logger but uvicorn's) on stderr."""
    config = copy.deepcopy(LOGGING_CONFIG)
    config["formatters"]["ticker"] = {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}
    config["handlers"]["ticker"] = {"class": "logging.StreamHandler", "formatter": "ticker",
                                    "stream": "ext://sys.stderr"}
    config["root"] = {"handlers": ["ticker"], "level": level.upper()}
    return config


def uvicorn_config(settings: Settings, app: Starlette | None, *, workers: int, log_level: str,
           access_log: bool) -> uvicorn.Config:
    """The uvicorn configuration. ``app`` for one process; ``None`` for workers, which build it
    themselves from the environment."""
    return uvicorn.Config(
        app if app is not None else APP_FACTORY, factory=app is None, workers=workers,
        host=settings.host, port=settings.port, ws=TickerWebSocket, http=TickerHttp,
        loop=_loop(), lifespan="on", log_level=log_level, log_config=log_config(log_level),
        access_log=access_log, timeout_graceful_shutdown=int(settings.drain_seconds),
        backlog=LISTEN_BACKLOG, server_header=False,
    )


def run(config: uvicorn.Config) -> int:
    """Serve until SIGTERM/SIGINT; the exit status."""
    if config.workers > 1:
        Multiprocess(config, sockets=[config.bind_socket()]).run()
        return 0
    server = uvicorn.Server(config)
    server.run()
    return 0 if server.started else STARTUP_FAILURE


def _loop() -> str:
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return "asyncio"
    return "uvloop"
