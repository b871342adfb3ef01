"""``ticker-bridge``: post the entries of RSS and Atom feeds into ticker, once each.

Each pass reads every source with a conditional GET (``If-None-Match``/``If-Modified-Since`` from
the last ``200``), parses it with feedparser, and for each entry, oldest first:

- new: map it to an item (``ticker_publishers.mapping``), write it down as ``pending`` in the
  state file, publish it with an Idempotency-Key derived from the ticker feed, the source URL and
  the entry id, then write down the item id;
- already posted, and its title, link or updated date changed: correct the item with the fields
  that now map differently (``PATCH``);
- posted and unchanged, skipped, retracted on ticker: nothing.

A source's validators (ETag, Last-Modified) are kept only once all its entries went through, so
a ``304`` never hides an entry that could not be posted. A source that cannot be fetched or parsed
is reported and skipped, and tried again later with a growing backoff; if ticker itself cannot be
reached the pass stops and the next one waits longer. The first time a source is read only its
newest ``backfill`` entries are posted; the older ones are written down as skipped.

Run it once (``--once``, for cron) or as a service (every ``interval`` seconds until SIGTERM).
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import io
import logging
import os
import random
import signal
import sys
import threading
import time
import tomllib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import feedparser
import httpx
import msgspec

from ticker_publishers.client import Ticker
from ticker_publishers.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    RateLimited,
    TickerError,
    Unauthorized,
    Unavailable,
)
from ticker_publishers.mapping import (
    Rule,
    SourceMapping,
    entry_field,
    entry_id,
    entry_signature,
    to_body,
)
from ticker_publishers.outbound.rules import AddressRules, Refused
from ticker_publishers.outbound.sync import deadline, guarded_client
from ticker_publishers.retry import RetryInfo, RetryPolicy
from ticker_publishers.state import EntryState, SourceState, State, StateError, load, save
from ticker_publishers.wire import PublishBody

PROG = "ticker-bridge"
log = logging.getLogger("ticker_publishers.bridge")

OK = 0
USAGE = 2  # bad arguments or configuration, unusable state file, another bridge holds the lock
PARTLY = 3  # done, but a source could not be read or parsed, or the server refused an entry
AUTH = 4  # the token is missing, invalid or expired (401)
UNAVAILABLE = 5  # ticker could not be reached (after the client's retries) in the last pass

USER_AGENT = "ticker-bridge/0.1"
ACCEPT = ("application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.9, "
          "*/*;q=0.5")
CORRECTABLE = ("text", "source", "urgency", "category", "regions", "url")


class Source(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``[[sources]]``: one RSS or Atom feed and how its entries become items."""

    url: str
    feed: str | None = None  # the ticker feed (default: the top-level ``feed``)
    source: str | None = None  # attribution (default: the feed's own title)
    category: str | None = None
    regions: list[str] = []
    urgency: int | None = None
    lang: str | None = None
    rules: list[Rule] = []
    backfill: int | None = None  # default: the top-level ``backfill``

    def mapping(self) -> SourceMapping:
        return SourceMapping(source=self.source, category=self.category, regions=self.regions,
                             urgency=self.urgency, lang=self.lang, rules=self.rules)


class Config(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The TOML file (see docs/publishers.md); every key optional except the sources."""

    server: str | None = None  # default: $TICKER_URL
    token_env: str = "TICKER_TOKEN"  # the environment variable holding the token
    feed: str | None = None  # the default ticker feed for sources that name none
    state: str = "ticker-bridge-state.json"  # relative paths: to the config file's directory
    interval: float = 300.0  # seconds between passes
    max_backoff: float = 3600.0  # the longest wait after repeated errors
    text_limit: int = 400  # the server's text limit
    backfill: int = 10  # entries posted from a source read for the first time (the newest)
    keep_days: float = 30.0  # forget entries gone from their source for this long
    timeout: float = 20.0  # per HTTP request: one overall deadline (redirects and body too)
    allow_networks: list[str] = []  # private addresses sources may be on (default: public only)
    max_bytes: int = 5 * 1024 * 1024  # the largest feed document read
    retries: int = 4  # the client's retries when posting
    rules: list[Rule] = []
    sources: list[Source] = []


class ConfigError(Exception):
    pass


class SourceError(Exception):
    """This source cannot be read, parsed or posted to now; the others go on."""


class Fatal(Exception):
    """Nothing can work until someone fixes it (the token)."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def load_config(path: Path | None, overrides: dict[str, Any]) -> tuple[Config, Path]:
    """The configuration, and the directory relative paths in it are relative to."""
    raw: dict[str, Any] = {}
    base = Path.cwd()
    if path is not None:
        try:
            with path.open("rb") as fh:
                raw = tomllib.load(fh)
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"{path}: {exc}") from None
        base = path.resolve().parent
    extra_sources = overrides.pop("sources", [])
    raw.update({k: v for k, v in overrides.items() if v is not None})
    raw["sources"] = [*raw.get("sources", []), *extra_sources]
    try:
        config = msgspec.convert(raw, Config)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"{path or 'configuration'}: {exc}") from None
    if not config.sources:
        raise ConfigError("no sources: add [[sources]] to the config file, or give feed URLs")
    for number, source in enumerate(config.sources, start=1):
        if not (source.feed or config.feed):
            raise ConfigError(f"sources[{number}] ({source.url}): no ticker feed; set 'feed'")
        if not source.url.lower().startswith(("http://", "https://")):
            raise ConfigError(f"sources[{number}]: {source.url!r} is not an http(s) URL")
    try:
        AddressRules(config.allow_networks)
    except ValueError as exc:
        raise ConfigError(f"allow_networks: {exc}") from None
    if config.interval <= 0 or config.text_limit < 2 or config.backfill < 0:
        raise ConfigError("interval must be > 0, text_limit ≥ 2 and backfill ≥ 0")
    return config, base


def idempotency_key(feed: str, source_url: str, entry: str) -> str:
    """The same entry of the same source into the same feed always gets the same key."""
    digest = hashlib.sha256(f"{feed}\n{source_url}\n{entry}".encode()).hexdigest()
    return f"rss-{digest[:48]}"


@dataclass
class Fetched:
    parsed: Any  # feedparser.FeedParserDict
    etag: str | None
    last_modified: str | None


def parse(body: bytes, content_type: str, location: str) -> Any:
    """Parse a feed document; raise ``SourceError`` unless it is a usable RSS or Atom feed.

    feedparser is given a stream, never bytes: given bytes it first tries them as a file name.
    A document that is not well-formed is skipped whole rather than half-read; only feedparser's
    harmless complaints (an encoding override, a non-XML content type) are let through.
    """
    parsed = feedparser.parse(io.BytesIO(body), response_headers={
        "content-type": content_type or "application/xml", "content-location": location})
    problem = parsed.get("bozo_exception")
    if parsed.get("bozo") and not isinstance(
            problem, feedparser.exceptions.ThingsNobodyCaresAboutButMe):
        raise SourceError(f"malformed feed: {type(problem).__name__}: {problem}")
    if not parsed.get("version"):
        raise SourceError("not an RSS or Atom feed")
    return parsed


def fetch(http: httpx.Client, url: str, known: SourceState | None,
          max_bytes: int, seconds: float) -> Fetched | None:
    """GET the source, conditionally; ``None`` when it has not changed (``304``).

    ``http`` is a guarded client (``ticker_publishers.outbound.sync``): every hop of a redirect
    connects only to a public address (or one in ``allow_networks``), and ``seconds`` bounds the
    whole fetch — a source trickling a byte every few seconds cannot stall the pass."""
    headers = {"Accept": ACCEPT}
    if known is not None and known.etag:
        headers["If-None-Match"] = known.etag
    if known is not None and known.last_modified:
        headers["If-Modified-Since"] = known.last_modified
    try:
        with deadline(seconds), http.stream("GET", url, headers=headers) as response:
            if response.status_code == 304:
                return None
            if response.status_code != 200:
                raise SourceError(f"HTTP {response.status_code} {response.reason_phrase}")
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > max_bytes:
                    raise SourceError(f"larger than {max_bytes} bytes")
                chunks.append(chunk)
            # relative guids resolve against the configured URL, not wherever a redirect led:
            # an entry's identity must not change when the publisher moves the feed
            parsed = parse(b"".join(chunks), response.headers.get("content-type", ""), url)
            return Fetched(parsed, response.headers.get("etag"),
                           response.headers.get("last-modified"))
    except Refused as exc:
        raise SourceError(f"refused: {exc}") from None
    except httpx.HTTPError as exc:
        raise SourceError(f"{type(exc).__name__}: {exc or 'no details'}") from None


def oldest_first(entries: Sequence[Any]) -> list[Any]:
    """By date when every entry has one; otherwise reversed document order (newest first is
    the norm in feeds)."""
    dated = [(entry_field(e, "published_parsed") or entry_field(e, "updated_parsed"), i, e)
             for i, e in enumerate(entries)]
    if dated and all(d is not None for d, _, _ in dated):
        return [e for _, _, e in sorted(dated, key=lambda t: (tuple(t[0]), -t[1]))]
    return list(reversed(entries))


@dataclass
class PassReport:
    """What one pass did."""

    read: int = 0  # sources fetched and parsed
    not_modified: int = 0  # sources that answered 304
    deferred: int = 0  # sources still backing off after errors
    failed: list[str] = field(default_factory=list)  # sources that could not be read or posted
    posted: int = 0
    corrected: int = 0
    rejected: int = 0  # entries or corrections the server refused
    skipped: int = 0  # old entries not posted on a first read
    unavailable: bool = False  # ticker could not be reached; the pass stopped

    def summary(self) -> str:
        text = (f"{self.read} read, {self.not_modified} not modified, {len(self.failed)} failed"
                + (f", {self.deferred} deferred" if self.deferred else "")
                + f"; {self.posted} posted, {self.corrected} corrected, {self.rejected} rejected")
        if self.skipped:
            text += f", {self.skipped} old entries skipped"
        if self.unavailable:
            text += "; ticker unavailable, pass stopped"
        return text


class Bridge:
    """The state and the logic of the passes; ``run`` loops them."""

    def __init__(self, config: Config, ticker: Ticker, http: httpx.Client, state_path: Path,
                 clock: Any = time.time) -> None:
        self.config = config
        self.ticker = ticker
        self.http = http
        self.state_path = state_path
        self.clock = clock
        self.state: State = load(state_path)
        self.failures: dict[str, int] = {}  # consecutive failed passes per source URL
        self.not_before: dict[str, float] = {}  # monotonic time a failing source is due again
        self._rng = random.Random()

    # -- passes -----------------------------------------------------------------------------------

    def run_pass(self) -> PassReport:
        report = PassReport()
        for source in self.config.sources:
            if time.monotonic() < self.not_before.get(source.url, 0.0):
                report.deferred += 1
                continue
            try:
                self.poll(source, report)
            except SourceError as exc:
                log.warning("%s: %s; skipped", source.url, exc)
                report.failed.append(source.url)
                self._back_off(source.url)
            except (Unavailable, RateLimited) as exc:
                log.error("ticker unavailable: %s", exc)
                report.unavailable = True
                break
            else:
                self.failures.pop(source.url, None)
                self.not_before.pop(source.url, None)
        self.save()
        return report

    def _back_off(self, url: str) -> None:
        count = self.failures[url] = self.failures.get(url, 0) + 1
        wait = min(self.config.max_backoff, self.config.interval * 2 ** min(count - 1, 30))
        self.not_before[url] = time.monotonic() + wait * self._rng.uniform(0.9, 1.0)

    def poll(self, source: Source, report: PassReport) -> None:
        known = self.state.sources.get(source.url)
        first_read = known is None
        # an entry left pending (a crash, an outage) must be seen again: no conditional GET
        unsure = known is not None and any(e.status == "pending" for e in known.entries.values())
        fetched = fetch(self.http, source.url, None if unsure else known, self.config.max_bytes,
                        self.config.timeout)
        if fetched is None:
            log.debug("%s: not modified", source.url)
            report.not_modified += 1
            return
        report.read += 1
        sstate = self.state.sources.setdefault(source.url, SourceState())
        entries = oldest_first(fetched.parsed.entries)
        backfill = source.backfill if source.backfill is not None else self.config.backfill
        channel = str(fetched.parsed.feed.get("title") or "")
        present: set[str] = set()
        for index, entry in enumerate(entries):
            backlog = first_read and index < len(entries) - backfill
            present.add(self.handle(source, sstate, entry, backlog, channel, report))
        self._forget(sstate, present)
        sstate.etag, sstate.last_modified = fetched.etag, fetched.last_modified
        self.save()

    def _forget(self, sstate: SourceState, present: set[str]) -> None:
        horizon = self.clock() - self.config.keep_days * 86400
        for key in [k for k, e in sstate.entries.items()
                    if k not in present and e.seen < horizon and e.status != "pending"]:
            del sstate.entries[key]

    # -- entries ----------------------------------------------------------------------------------

    def handle(self, source: Source, sstate: SourceState, entry: Any, backlog: bool,
               channel: str, report: PassReport) -> str:
        """Post or correct one entry as needed; return its id."""
        ident = entry_id(entry)
        signature = entry_signature(entry)
        now = self.clock()
        feed = source.feed or self.config.feed or ""
        body = to_body(entry, source.mapping(), self.config.rules,
                       text_limit=self.config.text_limit, channel_title=channel)
        record = sstate.entries.get(ident)
        if record is None:
            if body is None:
                log.info("%s: entry %s has no title; not posted", source.url, ident)
                return ident
            record = EntryState(key=idempotency_key(feed, source.url, ident), feed=feed,
                                status="skipped" if backlog else "pending", body=body,
                                signature=signature, seen=now)
            sstate.entries[ident] = record
            self.save()  # written down before it is posted: a crash cannot post it twice
            if backlog:
                report.skipped += 1
                return ident
            self.post(record, report)
            return ident
        record.seen = now
        if record.status == "pending":
            self.post(record, report)  # the body written down, under the same key
        if body is None or record.signature == signature:
            return ident
        if record.status == "rejected":
            record.status, record.body, record.signature = "pending", body, signature
            self.save()
            self.post(record, report)
        elif record.status == "posted" and record.refused != signature:
            self.correct(record, body, signature, report)
        return ident

    def post(self, record: EntryState, report: PassReport) -> None:
        body = record.body
        try:
            item = self.ticker.publish(
                record.feed, body.text, source=body.source, urgency=body.urgency,
                category=body.category, regions=body.regions, url=body.url, lang=body.lang,
                idempotency_key=record.key)
        except Unauthorized as exc:
            raise Fatal(f"ticker refused the token: {exc}", AUTH) from None
        except (Forbidden, NotFound) as exc:
            raise SourceError(f"ticker refused feed {record.feed!r}: {exc}") from None
        except InvalidInput as exc:
            if any(e.path == "header.Idempotency-Key" for e in exc.errors):
                # posted before with other content (the state file was lost or replaced)
                record.status, record.note = "posted", "posted earlier; item id unknown"
                log.warning("entry %s was posted before with other content; not corrected",
                            record.key)
            else:
                record.status, record.note = "rejected", str(exc)
                report.rejected += 1
                log.warning("rejected: %s: %s", body.text[:80], exc)
            self.save()
            return
        except Conflict as exc:
            record.status, record.note = "rejected", str(exc)
            report.rejected += 1
            self.save()
            return
        record.status, record.item, record.note = "posted", item.id, None
        self.save()
        report.posted += 1
        log.info("posted %s to %s: %s", item.id, item.feed, item.text)

    def correct(self, record: EntryState, body: PublishBody, signature: str,
                report: PassReport) -> None:
        changes = {name: getattr(body, name) for name in CORRECTABLE
                   if getattr(body, name) != getattr(record.body, name)}
        if record.item is None or not changes:
            record.signature = signature  # nothing ticker shows has changed
            self.save()
            return
        try:
            item = self.ticker.correct(record.feed, record.item, **changes)
        except Unauthorized as exc:
            raise Fatal(f"ticker refused the token: {exc}", AUTH) from None
        except Forbidden as exc:
            raise SourceError(f"ticker refused the correction of {record.item}: {exc}") from None
        except Conflict:
            record.status, record.note = "retracted", "retracted on ticker; not corrected"
            log.info("%s was retracted on ticker; its entry changed but is left alone",
                     record.item)
        except NotFound:
            record.status, record.note = "lost", "the item is gone from the server"
            log.warning("%s is gone from the server; its entry changed but is not reposted",
                        record.item)
        except InvalidInput as exc:
            record.refused, record.note = signature, f"correction refused: {exc}"
            report.rejected += 1
            log.warning("correction of %s rejected: %s", record.item, exc)
        else:
            record.body, record.signature, record.refused, record.note = body, signature, None, None
            report.corrected += 1
            log.info("corrected %s (v%d): %s", item.id, item.version, ", ".join(changes))
        self.save()

    def save(self) -> None:
        save(self.state_path, self.state)


def run(bridge: Bridge, *, passes: int | None, stop: threading.Event) -> int:
    """Run passes until ``passes`` are done (``None``: until ``stop``); the exit code."""
    config = bridge.config
    done = 0
    partly = False
    outages = 0  # passes in a row stopped because ticker was unavailable
    while True:
        report = bridge.run_pass()
        done += 1
        log.info("pass %d: %s", done, report.summary())
        partly = partly or bool(report.failed) or report.rejected > 0
        outages = outages + 1 if report.unavailable else 0
        if (passes is not None and done >= passes) or stop.is_set():
            break
        wait = config.interval
        if outages:
            wait = min(config.max_backoff, config.interval * 2 ** min(outages, 30))
        if stop.wait(wait * random.uniform(0.9, 1.1)):
            break
    if outages:
        return UNAVAILABLE
    return PARTLY if partly else OK


@contextlib.contextmanager
def locked(state_path: Path) -> Iterator[None]:
    """One bridge per state file."""
    lock_path = state_path.with_name(state_path.name + ".lock")
    with lock_path.open("a") as fh:
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ConfigError(f"another ticker-bridge is using {state_path}") from None
        yield


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


def arguments() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Post the entries of RSS/Atom feeds into ticker, each once; changed entries "
                    "become corrections. The token comes from $TICKER_TOKEN (or the variable the "
                    "config names in token_env).",
        epilog=f"""exit codes:
  {OK}  done (or stopped by SIGTERM/SIGINT)
  {USAGE}  bad arguments or configuration, unusable state file, state file in use
  {PARTLY}  done, but a source could not be read or parsed, or ticker refused an entry
  {AUTH}  ticker refused the token (401)
  {UNAVAILABLE}  ticker could not be reached in the last pass
""")
    parser.add_argument("urls", nargs="*", metavar="FEED_URL",
                        help="sources to read, besides those in --config")
    parser.add_argument("--config", type=Path, help="a TOML file (see docs/publishers.md)")
    parser.add_argument("--server", help="the ticker server (default: config, then $TICKER_URL)")
    parser.add_argument("--feed", help="the ticker feed for sources that name none")
    parser.add_argument("--source", dest="attribution", metavar="NAME",
                        help="attribution for the FEED_URL sources")
    parser.add_argument("--state", help="the state file (default: ticker-bridge-state.json)")
    parser.add_argument("--once", action="store_true", help="one pass, then exit")
    parser.add_argument("--passes", type=_positive, metavar="N", help="N passes, then exit")
    parser.add_argument("--interval", type=float, metavar="SECONDS",
                        help="between passes (default: 300)")
    parser.add_argument("--allow-network", dest="allow_networks", action="append",
                        metavar="CIDR", help="a private network sources may be on (repeatable; "
                        "default: public addresses only)")
    parser.add_argument("--backfill", type=int, metavar="N",
                        help="entries posted from a source read for the first time (default: 10)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log every request")
    parser.add_argument("-q", "--quiet", action="store_true", help="log only problems")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = arguments().parse_args(argv)
    level = logging.DEBUG if args.verbose else logging.WARNING if args.quiet else logging.INFO
    logging.basicConfig(level=level, stream=sys.stderr,
                        format=f"{PROG}: %(levelname)s %(message)s")
    if not args.verbose:
        logging.getLogger("httpx").setLevel(logging.WARNING)
    overrides: dict[str, Any] = {
        "server": args.server, "feed": args.feed, "state": args.state,
        "interval": args.interval, "backfill": args.backfill,
        "allow_networks": args.allow_networks,
        "sources": [{"url": url, "source": args.attribution} for url in args.urls],
    }
    try:
        config, base = load_config(args.config, overrides)
        server = config.server or os.environ.get("TICKER_URL")
        if not server:
            raise ConfigError("no server: set TICKER_URL, 'server' in the config, or --server")
        if not server.lower().startswith(("http://", "https://")):
            raise ConfigError(f"server: {server!r} is not an http:// or https:// URL")
        token = os.environ.get(config.token_env, "").strip()
        if not token:
            raise ConfigError(f"set {config.token_env} to a ticker token")
        state_path = base / config.state if args.state is None else Path(args.state)
        passes = 1 if args.once else args.passes
        stop = threading.Event()
        previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())

        def retrying(info: RetryInfo) -> None:
            log.warning("%s; retrying in %.1f s", info.reason, info.delay)

        with locked(state_path), \
                Ticker(server, token, timeout=config.timeout, on_retry=retrying,
                       retry=RetryPolicy(attempts=config.retries + 1)) as ticker, \
                guarded_client(AddressRules(config.allow_networks), timeout=config.timeout,
                               headers={"User-Agent": USER_AGENT}) as http:
            try:
                return run(Bridge(config, ticker, http, state_path), passes=passes, stop=stop)
            finally:
                signal.signal(signal.SIGTERM, previous)
    except (ConfigError, StateError) as exc:
        log.error("%s", exc)
        return USAGE
    except Fatal as exc:
        log.error("%s", exc)
        return exc.code
    except TickerError as exc:
        log.error("%s", exc)
        return 1
    except KeyboardInterrupt:
        return OK


if __name__ == "__main__":
    sys.exit(main())
