"""Running the app under uvicorn: one process, or N worker processes sharing the port.

Both modes use the same two protocol classes, so they behave alike in every process:
``TickerWebSocket`` (``/ws`` bypasses ASGI, see docs/architecture.md) and ``TickerHttp``, uvicorn's
HTTP protocol plus the drain hook: when uvicorn begins its graceful shutdown it calls ``shutdown``
on every open connection, and an SSE stream never finishes by itself, so the first such call
ends every SSE stream of the process (browsers reconnect elsewhere with ``Last-Event-ID``).

With ``workers > 1`` uvicorn's supervisor binds the socket once and starts N processes that
accept on it; each one imports ``ticker.app:app_from_env`` and builds its own app from the
environment — its own hub, broker connections and one subscription per feed. The supervisor
restarts a worker that dies and passes SIGTERM on to all of them.
"""

from __future__ import annotations

import copy
from typing import Any

import uvicorn
from starlette.applications import Starlette
from uvicorn.config import LOGGING_CONFIG, STARTUP_FAILURE
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.supervisors import Multiprocess

from ticker.config import Settings
from ticker.transports.websocket import TickerWebSocket

APP_FACTORY = "ticker.app:app_from_env"
LISTEN_BACKLOG = 4096  # accept queue asked of the kernel (net.core.somaxconn caps it)


class TickerHttp(HttpToolsProtocol):
    """uvicorn's HTTP protocol; at shutdown, SSE streams end at once instead of at the timeout."""

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
