"""``ticker serve`` and ``ticker token create``: argument parsing and start-up messages only."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from ticker import auth
from ticker.config import ConfigError, Settings, load_settings

DEFAULT_TTL = "30d"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ticker", description="Real-time breaking-news ticker")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the service")
    serve.add_argument("--host", help="interface to listen on (env HOST, default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="TCP port (env PORT, default 8000)")
    serve.add_argument("--log-level", default="info",
                       choices=["critical", "error", "warning", "info", "debug"])
    serve.add_argument("--access-log", action="store_true", help="log every HTTP request")
    token = commands.add_parser("token", help="manage bearer tokens")
    token_commands = token.add_subparsers(dest="token_command", required=True)
    create = token_commands.add_parser("create", help="print a token signed with TICKER_SECRET")
    create.add_argument("--sub", required=True, help="who the token belongs to")
    create.add_argument("--role", required=True, choices=["correspondent", "editor"])
    create.add_argument("--feeds", required=True, help="comma-separated feeds, e.g. en,ar")
    create.add_argument("--ttl", default=DEFAULT_TTL, help="lifetime: 30d, 12h, 15m, 60s")
    args = parser.parse_args(argv)
    try:
        if args.command == "serve":
            return _serve(args)
        return _token_create(args)
    except (ConfigError, ValueError) as exc:
        print(f"ticker: {exc}", file=sys.stderr)
        return 2


def _token_create(args: argparse.Namespace) -> int:
    secret = os.environ.get("TICKER_SECRET")
    if not secret:
        raise ValueError("TICKER_SECRET is not set: tokens are signed with it")
    feeds = [f.strip() for f in args.feeds.split(",") if f.strip()]
    if not feeds:
        raise ValueError("--feeds: name at least one feed")
    print(auth.issue(secret, sub=args.sub, role=args.role, feeds=feeds,
                     ttl=auth.parse_ttl(args.ttl)))
    return 0


def _serve(args: argparse.Namespace) -> int:
    settings = load_settings(host=args.host, port=args.port)
    settings = _with_secret(settings)
    import uvicorn

    from ticker.app import create_app
    from ticker.transports.websocket import TickerWebSocket

    logging.basicConfig(level=args.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = create_app(settings)

    class TickerServer(uvicorn.Server):
        """uvicorn, plus: end SSE streams as soon as shutdown starts (they never finish)."""

        async def shutdown(self, sockets: object = None) -> None:
            app.state.runtime.begin_drain()
            await super().shutdown(sockets)  # type: ignore[arg-type]

    config = uvicorn.Config(
        app, host=settings.host, port=settings.port, ws=TickerWebSocket,
        http="httptools", loop=_loop(), lifespan="on", log_level=args.log_level,
        access_log=args.access_log, timeout_graceful_shutdown=int(settings.drain_seconds),
        backlog=4096, server_header=False,
    )
    TickerServer(config).run()
    return 0


def _with_secret(settings: Settings) -> Settings:
    """Embedded default without a secret: make one for this process and show how to publish."""
    if settings.secret:
        auth.check_secret(settings.secret)
        return settings
    if not settings.embedded:
        raise ValueError(
            "REDIS_URL is set but TICKER_SECRET is not: every instance sharing Redis must sign "
            "and check tokens with the same secret. Set TICKER_SECRET (at least 32 bytes)."
        )
    import msgspec

    secret = auth.generate_secret()
    settings = msgspec.structs.replace(settings, secret=secret)
    feeds = [f.id for f in settings.feeds]
    token = auth.issue(secret, sub="newcomer", role="editor", feeds=feeds, ttl=86400)
    base = f"http://{settings.host}:{settings.port}"
    print(
        "\nticker: embedded mode (in-process broker, nothing else needed).\n"
        "No TICKER_SECRET was set, so this process made one; tokens die with it.\n"
        f"An editor token for {', '.join(feeds)} (valid 24 h):\n\n  {token}\n\n"
        "Publish a breaking item:\n\n"
        f"  curl -X POST {base}/api/v1/feeds/{feeds[0]}/items \\\n"
        f"    -H 'Authorization: Bearer {token}' \\\n"
        "    -H 'Content-Type: application/json' \\\n"
        "    -d '{\"text\": \"Hello from the newsroom\", \"urgency\": 2}'\n\n"
        f"Watch it live: {base}/  ·  WebSocket: ws://{settings.host}:{settings.port}/ws\n",
        flush=True,
    )
    return settings


def _loop() -> str:
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return "asyncio"
    return "uvloop"
