"""``ticker serve``, ``ticker token create`` and ``ticker token revoke``: argument parsing and
start-up messages only."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from ticker import auth
from ticker.brokers.base import BrokerUnavailableError
from ticker.checks import command as check_command  # light: checks load when run
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
    serve.add_argument("--workers", type=int, default=1, metavar="N",
                       help="processes sharing the port (needs REDIS_URL when N > 1); "
                            "about one per core, see docs/capacity.md")
    token = commands.add_parser("token", help="manage bearer tokens")
    token_commands = token.add_subparsers(dest="token_command", required=True)
    create = token_commands.add_parser("create", help="print a token signed with TICKER_SECRET")
    create.add_argument("--sub", required=True, help="who the token belongs to")
    create.add_argument("--role", required=True, choices=list(auth.ROLES))
    create.add_argument("--feeds", required=True, help="comma-separated feeds, e.g. en,ar")
    create.add_argument("--ttl", default=DEFAULT_TTL, help="lifetime: 30d, 12h, 15m, 60s")
    revoke = token_commands.add_parser(
        "revoke", help="refuse a token on every node sharing REDIS_URL, until it expires")
    which = revoke.add_mutually_exclusive_group(required=True)
    which.add_argument("--token", help="the whole token (checked with TICKER_SECRET)")
    which.add_argument("--jti", help="the token's id (its jti claim)")
    check_command.add_parser(commands)
    from ticker.reach.webhooks import ping

    ping.add_command(commands)
    args = parser.parse_args(argv)
    if args.command == "check":
        return check_command.run(args)
    try:
        if args.command == "webhooks":
            return ping.run(args)
        if args.command == "serve":
            return _serve(args)
        if args.token_command == "revoke":
            return _token_revoke(args)
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


def _token_revoke(args: argparse.Namespace) -> int:
    import asyncio

    from ticker.revocation import RedisDenyList
    from ticker.stamp import rfc3339

    settings = load_settings()
    if settings.embedded:
        raise ValueError("token revoke needs REDIS_URL: the embedded broker's deny list lives "
                         "inside the running server; use POST /api/v1/tokens/revoke there")
    if args.token is not None:
        if not settings.secret:
            raise ValueError("TICKER_SECRET is not set: it is needed to read --token")
        jti, exp = auth.Verifier(settings.secret).identify(args.token)
    else:
        jti, exp = args.jti, auth.jti_expiry(args.jti)

    async def revoke() -> str:
        deny_list = RedisDenyList(settings.broker_url, settings.redis_prefix)
        try:
            return (await deny_list.revoke(jti, exp)).status
        finally:
            await deny_list.aclose()

    try:
        status = asyncio.run(revoke())
    except BrokerUnavailableError as exc:
        print(f"ticker: nothing was revoked: {exc}", file=sys.stderr)
        return 1
    if status == "full":
        print("ticker: the deny list is full; rotate TICKER_SECRET instead", file=sys.stderr)
        return 1
    said = {"revoked": "revoked", "already": "was already revoked",
            "expired": "has expired already"}[status]
    print(f"{jti} {said}; refused until {rfc3339(exp * 1000)}")
    return 0


def _serve(args: argparse.Namespace) -> int:
    settings = load_settings(host=args.host, port=args.port)
    if args.workers < 1:
        raise ValueError("--workers: at least 1")
    if args.workers > 1 and settings.embedded:
        raise ValueError(
            f"--workers {args.workers} needs REDIS_URL: with the embedded broker every worker "
            "would have its own feeds, and readers would miss what was published through "
            "another worker. Set REDIS_URL (and TICKER_SECRET), or run one worker.")
    settings = _with_secret(settings)
    from ticker import server

    app = None
    if args.workers == 1:
        from ticker.app import create_app

        app = create_app(settings)
    config = server.uvicorn_config(settings, app, workers=args.workers,
                                   log_level=args.log_level, access_log=args.access_log)
    return server.run(config)


def _with_secret(settings: Settings) -> Settings:
    """Embedded default without a secret: make one for this process and show how to publish.

    The editor token is printed only to a terminal: under a process manager or a platform
    (the Procfile) stdout ends up in logs, where a token must never be."""
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
    if not sys.stdout.isatty():
        print(
            "ticker: embedded mode (in-process broker). No TICKER_SECRET was set, so this "
            "process made one that nobody else knows, and no token is printed: stdout is not "
            "a terminal and may end up in logs. To publish, set TICKER_SECRET (at least 32 "
            "bytes) and restart, then create a token with: ticker token create --sub NAME "
            f"--role editor --feeds {','.join(feeds)}",
            flush=True,
        )
        return settings
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

