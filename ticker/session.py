"""Reader sessions: what every live transport shares, whatever turns bytes into calls.

A :class:`Session` is one reader connection — a WebSocket or an SSE stream — as the service sees
it: an outbox in the hub, its subscriptions, and its place in the per-address count. It
subscribes (finding the feed, checking the filter and the subscription limit, resuming from a
cursor or reading the log for an older one), unsubscribes, queues control frames and closes.
:class:`Sessions` admits them: the origin allow-list and the per-address connection limit, the
same rules for every transport, and drives their liveness checks from the fan-out's tick.

Transports (``transports/websocket.py``, ``transports/sse.py``) only turn bytes into these calls
and the outbox's frames into bytes; like centrifuge's ``Client``, nothing here knows a socket.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from typing import NamedTuple, Protocol

from ticker import codec
from ticker.config import Settings
from ticker.cursor import Cursor
from ticker.hub import Hub, NeedLog, Outbox
from ticker.hub.outbox import Format, Writer
from ticker.metrics import Metrics
from ticker.model import ErrorFrame, FieldError, Filter, Unsubscribed
from ticker.validation import check_filter

log = logging.getLogger("ticker.session")


class Owner(Writer, Protocol):
    """The transport's side of a session: writes, closes when cut, checks its own liveness."""

    def tick(self, now: float) -> None:
        """Called on every fan-out tick (``now``: the loop's clock) to check deadlines."""


class Refused(NamedTuple):
    """Why a subscribe was refused: a protocol error code, a message, and the failing fields."""

    code: str  # "unknown_feed" | "invalid_filter" | "too_many_subscriptions"
    message: str
    errors: list[FieldError]


class Sessions:
    """Every reader session of this node."""

    def __init__(self, settings: Settings, hub: Hub, recover: Callable[[Outbox, NeedLog], None],
                 schedule: Callable[[], None], metrics: Metrics) -> None:
        self.settings = settings
        self.hub = hub
        self.recover = recover  # reads the log for a resume older than the ring
        self.schedule = schedule  # flush soon: frames were queued
        self.metrics = metrics
        self.per_address: Counter[str] = Counter()  # open sessions per client address
        self.live: set[Session] = set()
        origins = settings.allowed_origins
        self.origins = frozenset(origins) if origins else None

    def origin_allowed(self, origin: str | None) -> bool:
        """Without an allow-list every origin is; a request without ``Origin`` is not from a
        browser page, so there is no page to protect."""
        return self.origins is None or origin is None or origin in self.origins

    def open(self, owner: Owner, fmt: Format, transport: str, address: str) -> Session | None:
        """A new session, or ``None`` when ``address`` already has ``connections_per_ip``."""
        limit = self.settings.limits.connections_per_ip
        if limit and self.per_address[address] >= limit:
            return None
        self.per_address[address] += 1
        session = Session(self, owner, fmt, transport, address)
        self.live.add(session)
        self.hub.connect(session.outbox)
        self.metrics.connection_opened(transport)
        return session

    def tick(self, now: float) -> None:
        """Let every session's transport check its deadlines (pongs, writes)."""
        for session in list(self.live):
            try:
                session.owner.tick(now)
            except Exception:  # one broken connection must not stop the others' checks
                log.exception("liveness check failed for a %s reader", session.transport)

    def _closed(self, session: Session) -> None:
        self.live.discard(session)
        address = session.address
        self.per_address[address] -= 1
        if self.per_address[address] <= 0:
            del self.per_address[address]
        self.metrics.connection_closed(session.transport)


class Session:
    """One reader connection; see the module."""

    __slots__ = ("address", "closed", "outbox", "owner", "sessions", "transport")

    def __init__(self, sessions: Sessions, owner: Owner, fmt: Format, transport: str,
                 address: str) -> None:
        self.sessions = sessions
        self.transport = transport  # "ws" | "sse", for metrics and logs
        self.address = address
        self.owner = owner
        self.outbox = Outbox(owner, sessions.settings.limits.outbox_max_bytes, fmt)
        self.closed = False

    def subscribe(self, feed_id: str, flt: Filter | None, since: str | None,
                  path: str) -> Refused | None:
        """Subscribe (or subscribe again) to ``feed_id``; ``path`` names the filter's fields
        in errors (``$.filter``, ``query``). A ``since`` that is not a cursor is treated as
        unknown: the reader gets a snapshot, never a stuck connection."""
        if self.closed:
            return None
        sessions = self.sessions
        feed = sessions.settings.feed(feed_id)
        if feed is None:
            return Refused("unknown_feed", f"no feed {feed_id!r}", [])
        problems = check_filter(flt, feed, path)
        if problems:
            message = "; ".join(f"{p.path}: {p.message}" for p in problems)
            return Refused("invalid_filter", message, problems)
        outbox = self.outbox
        limit = sessions.settings.limits.subscriptions_per_connection
        if feed.id not in outbox.subs and len(outbox.subs) >= limit:
            return Refused("too_many_subscriptions",
                           f"at most {limit} subscriptions per connection", [])
        need = sessions.hub.subscribe(outbox, feed.id, flt or Filter(), _cursor(since))
        if need is not None:
            sessions.recover(outbox, need)
        sessions.schedule()
        return None

    def unsubscribe(self, feed_id: str) -> bool:
        """Stop a subscription and acknowledge it; ``False`` if there was none."""
        if self.closed or not self.sessions.hub.unsubscribe(self.outbox, feed_id):
            return False
        self.send("unsubscribed", codec.encode(Unsubscribed(feed=feed_id)))
        return True

    def error(self, code: str, message: str) -> None:
        """Queue an ``error`` frame."""
        self.send("error", codec.encode(ErrorFrame(code=code, message=message)))

    def send(self, kind: str, data: bytes) -> None:
        """Queue a control frame (JSON ``data``) after what is already pending."""
        if not self.closed:
            self.sessions.hub.send_json(self.outbox, kind, data)
            self.sessions.schedule()

    def send_raw(self, frame: bytes) -> None:
        """Queue bytes already framed for this transport (a WebSocket pong or ping); they
        count against the outbox like any frame, so a reader that never reads is cut."""
        if not self.closed:
            self.sessions.hub.send_raw(self.outbox, frame)
            self.sessions.schedule()

    def close(self) -> None:
        """The reader is gone (or going): leave the hub, free the outbox and the address slot.
        Idempotent."""
        if self.closed:
            return
        self.closed = True
        self.sessions.hub.disconnect(self.outbox)
        self.sessions._closed(self)


def _cursor(text: str | None) -> Cursor | None:
    if text is None:
        return None
    try:
        return Cursor.parse(text)
    except ValueError:
        return None
