"""``ticker-publish``: post, correct, retract, hold, pin and follow ticker items from a terminal.

::

    ticker-publish "TEXT" --feed en [--source S] [--urgency N] [--category C] [--region R]...
                   [--url URL] [--lang L] [--idempotency-key K]
                   [--embargo TIME] [--expires TIME] [--note NOTE]
    ticker-publish --stdin --feed en [same options]        one item per line
    ticker-publish correct ID --feed en [--text T] [--source S] [--urgency N] [--category C]
                   [--region R]... [--url URL] [--embargo TIME] [--expires TIME] [--note NOTE]
    ticker-publish retract ID --feed en
    ticker-publish hold ID --feed en | release ID --feed en
    ticker-publish pin ID --feed en | unpin --feed en
    ticker-publish tail FEED [--since CURSOR] [--count N] [--json] [filters]

TIME is RFC 3339 with an offset (``2026-12-01T09:00:00Z``, ``…+02:00``) or a delay from now
(``+90s``, ``+10m``, ``+2h``, ``+1d``).

The server is ``$TICKER_URL`` (or ``--server``), the token ``$TICKER_TOKEN`` (never on the command
line, where other users could read it), the feed ``--feed`` or ``$TICKER_FEED``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, NoReturn, TextIO
from urllib.parse import urlsplit

import msgspec
from msgspec import UNSET

from ticker_publishers.client import Ticker, rfc3339
from ticker_publishers.errors import (
    Forbidden,
    RateLimited,
    TickerError,
    Unauthorized,
    Unavailable,
)
from ticker_publishers.retry import RetryInfo, RetryPolicy
from ticker_publishers.sse import StreamEvent
from ticker_publishers.wire import (
    Item,
    ItemEvent,
    PinEvent,
    RetractEvent,
    Snapshot,
    Subscribed,
    UpdateEvent,
)

PROG = "ticker-publish"

OK = 0
FAILED = 1  # anything unexpected: a server error (500), an answer that makes no sense
USAGE = 2  # bad arguments, TICKER_URL / TICKER_TOKEN / feed not given
REJECTED = 3  # the server refused the request: 400, 404, 409, 413, 415, 422 (fields printed)
AUTH = 4  # 401 (token missing, bad, expired) or 403 (not allowed on this feed or item)
UNAVAILABLE = 5  # no connection, 503/502/504, or still rate limited after the retries
INTERRUPTED = 130  # Ctrl-C

EXIT_CODES = f"""exit codes:
  {OK}  done
  {FAILED}  unexpected error (e.g. a 500 from the server)
  {USAGE}  usage: bad arguments, or TICKER_URL, TICKER_TOKEN or the feed not set
  {REJECTED}  rejected: the server refused the input (400/404/409/413/415/422); the failing
     fields are printed with the option that set them
  {AUTH}  not authorized: 401 (token missing, invalid or expired) or 403 (not allowed)
  {UNAVAILABLE}  unavailable: could not reach the server, 503, or still rate limited, after
     the retries
"""

# JSON paths in a 422 → the option that set that field
_OPTION = {
    "$.text": "TEXT", "$.source": "--source", "$.urgency": "--urgency",
    "$.category": "--category", "$.regions": "--region", "$.url": "--url", "$.lang": "--lang",
    "$.embargoed_until": "--embargo", "$.expires": "--expires", "$.note": "--note",
    "header.Idempotency-Key": "--idempotency-key", "query.since": "--since",
    "query.categories": "--category", "query.regions": "--region",
    "query.max_urgency": "--max-urgency",
}
_json = msgspec.json.Encoder()


class Usage(Exception):
    """A usage error found after parsing (missing environment, conflicting options)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        raise Usage(message)


# -- arguments -----------------------------------------------------------------------------------


def _common(parser: argparse.ArgumentParser, *, feed: bool = True, retries: int = 4,
            what: str = "retries on connection errors, 429 and 503") -> None:
    group = parser.add_argument_group("connection")
    group.add_argument("--server", metavar="URL", default=os.environ.get("TICKER_URL"),
                       help="the ticker server (default: $TICKER_URL)")
    if feed:
        group.add_argument("--feed", default=os.environ.get("TICKER_FEED"),
                           help="the feed, e.g. en (default: $TICKER_FEED)")
    group.add_argument("--retries", type=_count, default=retries, metavar="N",
                       help=f"{what} (default: {retries})")
    group.add_argument("--timeout", type=float, default=10.0, metavar="SECONDS",
                       help="per request (default: 10)")
    group.add_argument("--json", action="store_true", help="print results as JSON, one a line")
    group.add_argument("-q", "--quiet", action="store_true", help="do not report retries")


def _fields(parser: argparse.ArgumentParser, *, correcting: bool) -> None:
    group = parser.add_argument_group("item fields")
    if correcting:
        group.add_argument("--text", help="the corrected text")
    group.add_argument("--source", help="attribution, e.g. 'Civil Defence'"
                       + (" ('' clears it)" if correcting else ""))
    group.add_argument("--urgency", type=int, metavar="1-9", help="1 flash … 9 lowest"
                       + ("" if correcting else " (server default: 4)"))
    group.add_argument("--category", help="one of the feed's categories"
                       + (" ('' clears it)" if correcting else ""))
    group.add_argument("--region", action="append", dest="regions", metavar="REGION",
                       help="a region; repeat for several"
                       + (" (replaces all; --region '' for none)" if correcting else ""))
    group.add_argument("--url", dest="link", metavar="URL", help="link to the full story"
                       + (" ('' clears it)" if correcting else ""))
    if not correcting:
        group.add_argument("--lang", help="BCP 47 tag (default: the feed's language)")
    clears = " ('' clears it)" if correcting else ""
    group.add_argument("--embargo", type=_time, metavar="TIME",
                       help="go live by itself at TIME (RFC 3339, or +10m, +2h from now)"
                       + (" (only while the item is scheduled)" if correcting else ""))
    group.add_argument("--expires", type=_time, metavar="TIME",
                       help="leave the air at TIME (RFC 3339, or +10m, +2h from now)" + clears)
    group.add_argument("--note", help="a note for the desk, never shown to readers" + clears)


_DELAY = re.compile(r"\+(\d+)([smhd])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def _time(text: str) -> str:
    """An option's TIME: RFC 3339 with an offset, or ``+N`` s/m/h/d from now; ``''`` clears."""
    if text == "":
        return ""
    delay = _DELAY.fullmatch(text.strip())
    if delay:
        when = datetime.now(UTC) + timedelta(**{_UNITS[delay[2]]: int(delay[1])})
        return rfc3339(when)
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a time: give RFC 3339 (2026-12-01T09:00:00Z) or +10m, +2h"
        ) from None
    if parsed.tzinfo is None:
        raise argparse.ArgumentTypeError(
            f"{text!r} has no UTC offset: add Z or +HH:MM") from None
    return rfc3339(parsed)


def _count(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


def publish_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG, formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Publish a breaking item to ticker. Other commands: "
                    f"'{PROG} correct ID', '{PROG} retract ID', '{PROG} hold ID', "
                    f"'{PROG} release ID', '{PROG} pin ID', '{PROG} unpin', "
                    f"'{PROG} tail FEED' (each has --help).",
        epilog=EXIT_CODES,
    )
    parser.add_argument("text", nargs="?", metavar="TEXT", help="the item's text")
    parser.add_argument("--stdin", action="store_true",
                        help="read items from standard input, one per line (blank lines skipped)")
    parser.add_argument("--idempotency-key", metavar="KEY",
                        help="retry-safe key; with --stdin, line N uses KEY-N")
    _fields(parser, correcting=False)
    _common(parser)
    return parser


def correct_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=f"{PROG} correct", epilog=EXIT_CODES,
                     formatter_class=argparse.RawDescriptionHelpFormatter,
                     description="Correct an item: only the fields given change.")
    parser.add_argument("id", metavar="ID", help="the item's id")
    _fields(parser, correcting=True)
    _common(parser)
    return parser


def _by_id(command: str, description: str) -> Callable[[], argparse.ArgumentParser]:
    def parser() -> argparse.ArgumentParser:
        made = _Parser(prog=f"{PROG} {command}", epilog=EXIT_CODES,
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       description=description)
        made.add_argument("id", metavar="ID", help="the item's id")
        _common(made)
        return made

    return parser


retract_parser = _by_id("retract", "Retract (kill) an item: readers stop showing it, for good.")
hold_parser = _by_id("hold", "Hold an item (editors): it leaves every screen at once, without "
                             "being declared false, until it is released.")
release_parser = _by_id("release", "Release a held item (editors): it comes back in its place.")
pin_parser = _by_id("pin", "Pin an item (editors): readers see it first, above the rest.")


def unpin_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=f"{PROG} unpin", epilog=EXIT_CODES,
                     formatter_class=argparse.RawDescriptionHelpFormatter,
                     description="Unpin the feed's pinned item (editors).")
    _common(parser)
    return parser


def tail_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=f"{PROG} tail", epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Follow a feed live (Server-Sent Events), one line per item, correction, "
                    "retraction, hold or pin; reconnects and resumes where it left off. "
                    "No token needed.")
    parser.add_argument("feed", metavar="FEED")
    parser.add_argument("--since", metavar="CURSOR",
                        help="resume after this cursor (as printed by --json)")
    parser.add_argument("--count", type=_positive, metavar="N",
                        help="exit after N item/update/retract/pin events")
    parser.add_argument("--category", action="append", dest="categories", metavar="C",
                        help="only new items in this category; repeat for several")
    parser.add_argument("--region", action="append", dest="regions", metavar="R",
                        help="only new items for this region; repeat for several")
    parser.add_argument("--max-urgency", type=int, metavar="N",
                        help="only new items at least this urgent (1-9)")
    parser.add_argument("--idle-timeout", type=float, default=60.0, metavar="SECONDS",
                        help="reconnect after this long without a byte (default: 60)")
    _common(parser, feed=False, retries=9,
            what="reconnections in a row that bring nothing before giving up")
    return parser


COMMANDS: dict[str, Callable[[], argparse.ArgumentParser]] = {
    "correct": correct_parser, "retract": retract_parser, "tail": tail_parser,
    "publish": publish_parser, "hold": hold_parser, "release": release_parser,
    "pin": pin_parser, "unpin": unpin_parser,
}


# -- output --------------------------------------------------------------------------------------


def _say(message: str) -> None:
    print(f"{PROG}: {message}", file=sys.stderr, flush=True)


def _out(line: str, stream: TextIO | None = None) -> None:
    print(line, file=stream or sys.stdout, flush=True)


def _item_json(item: Item) -> str:
    return _json.encode(item).decode()


def _where(path: str, args: argparse.Namespace, line: int | None) -> str:
    """``$.regions[1]`` → ``$.regions[1] (--region mars)``."""
    base = path.split("[", 1)[0]
    option = _OPTION.get(base)
    if option is None:
        return path
    if option == "TEXT" and line is not None:
        return f"{path} (line {line})"
    if base == "$.regions" and "[" in path:
        index = path[path.index("[") + 1:-1]
        regions = getattr(args, "regions", None) or []
        if index.isdigit() and int(index) < len(regions):
            return f"{path} ({option} {regions[int(index)]})"
    return f"{path} ({option})"


def report(error: TickerError, args: argparse.Namespace, line: int | None = None) -> int:
    """Print what went wrong on stderr; return the exit code for it."""
    prefix = f"line {line}: " if line is not None else ""
    if isinstance(error, Unauthorized | Forbidden):
        hint = " (check TICKER_TOKEN)" if isinstance(error, Unauthorized) else ""
        _say(f"{prefix}not authorized: {error}{hint}")
        return AUTH
    if isinstance(error, Unavailable | RateLimited):
        _say(f"{prefix}unavailable: {error}")
        return UNAVAILABLE
    if 400 <= error.status < 500:
        _say(f"{prefix}rejected: {error.status} {error.title}"
             + ("" if error.errors or not error.detail else f": {error.detail}"))
        for field in error.errors:
            print(f"  {_where(field.path, args, line)}: {field.message}", file=sys.stderr)
        return REJECTED
    _say(f"{prefix}failed: {error}")
    return FAILED


def _on_retry(args: argparse.Namespace) -> Callable[[RetryInfo], None] | None:
    if args.quiet:
        return None

    def tell(info: RetryInfo) -> None:
        _say(f"{info.reason}; retrying in {info.delay:.1f} s")

    return tell


# -- commands ------------------------------------------------------------------------------------


def _server(args: argparse.Namespace) -> str:
    if not args.server:
        raise Usage("set TICKER_URL (or pass --server URL)")
    server: str = args.server
    parts = urlsplit(server)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise Usage(f"{server!r} is not an http:// or https:// URL (TICKER_URL or --server)")
    return server


def _token() -> str:
    token = os.environ.get("TICKER_TOKEN", "").strip()
    if not token:
        raise Usage("set TICKER_TOKEN to your bearer token "
                    "(make one with 'ticker token create')")
    return token


def _feed(args: argparse.Namespace) -> str:
    if not args.feed:
        raise Usage("give --feed (or set TICKER_FEED)")
    feed: str = args.feed
    return feed


def _client(args: argparse.Namespace, token: str | None) -> Ticker:
    return Ticker(_server(args), token, timeout=args.timeout,
                  retry=RetryPolicy(attempts=args.retries + 1), on_retry=_on_retry(args))


def _lines(stream: TextIO) -> Iterator[tuple[int, str]]:
    for number, raw in enumerate(stream, start=1):
        text = raw.strip()
        if text:
            yield number, text


def run_publish(args: argparse.Namespace) -> int:
    if args.stdin == (args.text is not None):
        raise Usage("give the TEXT, or --stdin to read items one per line")
    feed, token = _feed(args), _token()
    fields: dict[str, Any] = {"source": args.source, "urgency": args.urgency,
                              "category": args.category, "regions": args.regions,
                              "url": args.link, "lang": args.lang,
                              "embargoed_until": args.embargo or None,
                              "expires": args.expires or None, "note": args.note or None}
    with _client(args, token) as ticker:
        if not args.stdin:
            item = ticker.publish(feed, args.text, idempotency_key=args.idempotency_key,
                                  **fields)
            _out(_item_json(item) if args.json else item.id)
            if item.status == "scheduled" and not args.quiet:
                _say(f"{item.id} scheduled: goes live at {item.embargoed_until}")
            return OK
        status = OK
        for number, text in _lines(sys.stdin):
            key = f"{args.idempotency_key}-{number}" if args.idempotency_key else None
            try:
                item = ticker.publish(feed, text, idempotency_key=key, **fields)
            except TickerError as exc:
                code = report(exc, args, number)
                if code != REJECTED:
                    return code  # the rest would fail the same way
                status = REJECTED
                continue
            _out(_item_json(item) if args.json else item.id)
        return status


def run_correct(args: argparse.Namespace) -> int:
    feed, token = _feed(args), _token()
    changes: dict[str, Any] = {}
    if args.text is not None:
        changes["text"] = args.text
    if args.source is not None:
        changes["source"] = args.source or None
    if args.urgency is not None:
        changes["urgency"] = args.urgency
    if args.category is not None:
        changes["category"] = args.category or None
    if args.regions is not None:
        changes["regions"] = [r for r in args.regions if r]
    if args.link is not None:
        changes["url"] = args.link or None
    for name, value in (("embargoed_until", args.embargo), ("expires", args.expires),
                        ("note", args.note)):
        if value is not None:
            changes[name] = value or None
    if not changes:
        raise Usage("give at least one of --text, --source, --urgency, --category, --region, "
                    "--url, --embargo, --expires, --note")
    with _client(args, token) as ticker:
        item = ticker.correct(feed, args.id, **{k: changes.get(k, UNSET) for k in (
            "text", "source", "urgency", "category", "regions", "url", "embargoed_until",
            "expires", "note")})
    _out(_item_json(item) if args.json else f"{item.id} v{item.version}")
    return OK


def _transition(action: Callable[[Ticker, str, str], Item]) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        feed, token = _feed(args), _token()
        with _client(args, token) as ticker:
            item = action(ticker, feed, args.id)
        _out(_item_json(item) if args.json else f"{item.id} {item.status}")
        return OK

    return run


run_retract = _transition(Ticker.retract)
run_hold = _transition(Ticker.hold)
run_release = _transition(Ticker.release)


def run_pin(args: argparse.Namespace) -> int:
    feed, token = _feed(args), _token()
    with _client(args, token) as ticker:
        item = ticker.pin(feed, args.id)
    _out(_item_json(item) if args.json else f"{item.id} pinned")
    return OK


def run_unpin(args: argparse.Namespace) -> int:
    feed, token = _feed(args), _token()
    with _client(args, token) as ticker:
        ticker.unpin(feed)
    _out(_json.encode({"feed": feed, "pinned": None}).decode() if args.json else "unpinned")
    return OK


def event_line(event: StreamEvent) -> str | None:
    """The human line for an event; ``None`` for the stream's control messages."""
    if isinstance(event, ItemEvent | UpdateEvent):
        item = event.item
        source = f"{item.source}: " if item.source else ""
        return f"{event.__struct_config__.tag:<7} {item.id} v{item.version} u{item.urgency} " \
               f"{source}{item.text}"
    if isinstance(event, RetractEvent):
        # a kill keeps the plain line it always had; a hold or an expiry says so
        return f"retract {event.id}" + ("" if event.reason == "retracted" else f" {event.reason}")
    if isinstance(event, PinEvent):
        return f"pin     {event.id or '-'}"
    return None


def run_tail(args: argparse.Namespace) -> int:
    token = os.environ.get("TICKER_TOKEN") or None
    seen = 0
    with _client(args, token) as ticker:
        stream = ticker.events(args.feed, since=args.since, categories=args.categories,
                               regions=args.regions, max_urgency=args.max_urgency,
                               retry=RetryPolicy(attempts=args.retries + 1, backoff=0.5,
                                                 max_backoff=30.0),
                               idle_timeout=args.idle_timeout)
        with contextlib.closing(stream):
            for event in stream:
                if args.json:
                    _out(_json.encode(event).decode())
                else:
                    line = event_line(event)
                    if line is not None:
                        _out(line)
                    elif isinstance(event, Snapshot) and not args.quiet:
                        _say(f"{event.feed}: snapshot of {len(event.items)} items at "
                             f"{event.cursor}; live from here")
                    elif isinstance(event, Subscribed) and event.recovered and not args.quiet:
                        _say(f"{event.feed}: resumed, nothing missed")
                if isinstance(event, ItemEvent | UpdateEvent | RetractEvent | PinEvent):
                    seen += 1
                    if args.count is not None and seen >= args.count:
                        return OK
    return OK


RUNNERS: dict[str, Callable[[argparse.Namespace], int]] = {
    "publish": run_publish, "correct": run_correct, "retract": run_retract, "tail": run_tail,
    "hold": run_hold, "release": run_release, "pin": run_pin, "unpin": run_unpin,
}


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = "publish"
    if argv and argv[0] in COMMANDS:
        command = argv.pop(0)
    parser = COMMANDS[command]()
    try:
        args = parser.parse_args(argv)
        return RUNNERS[command](args)
    except Usage as exc:
        _say(str(exc))
        return USAGE
    except TickerError as exc:
        return report(exc, args)
    except KeyboardInterrupt:
        return INTERRUPTED
    except BrokenPipeError:
        # the reader went away (| head); do not print a traceback on the way out
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return OK


if __name__ == "__main__":
    sys.exit(main())
