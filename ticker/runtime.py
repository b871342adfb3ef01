"""The running service's parts, built once by the composition root (``ticker.app``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ticker.auth import Verifier
from ticker.brokers.base import Broker
from ticker.config import FeedConfig, Settings
from ticker.desk import DeskHub
from ticker.errors import NotFound
from ticker.hub import Hub
from ticker.metrics import Metrics
from ticker.newsroom import Newsroom
from ticker.presence import Presence
from ticker.ratelimit import RateLimiter
from ticker.reach.service import Reach
from ticker.relay import Relay
from ticker.revocation import DenyList, MemoryDenyList
from ticker.scheduler import Scheduler
from ticker.session import Sessions
from ticker.transports.fanout import Fanout


@dataclass
class Runtime:
    settings: Settings
    broker: Broker
    hub: Hub
    fanout: Fanout
    relay: Relay
    newsroom: Newsroom
    verifier: Verifier
    metrics: Metrics
    limiter: RateLimiter
    sessions: Sessions  # every reader connection, whatever its transport
    scheduler: Scheduler
    sse_streams: set[Any] = field(default_factory=set)  # open SSE streams (to end on drain)
    draining: bool = False  # shutdown has begun
    reach: Reach | None = None  # Web Push and webhooks (ticker.reach)
    deny_list: DenyList = field(default_factory=MemoryDenyList)  # revoked tokens (jti)
    presence: Presence | None = None  # readers per feed across nodes (None: not counted)
    desk: DeskHub = field(default_factory=DeskHub)  # open desk streams (private notices)
    desk_wire: Any = None  # Redis: the desk channels' listener (ticker.desk.DeskWire)

    def local_readers(self) -> dict[str, int]:
        """This node's subscribers per feed (the hub's own bookkeeping; no I/O)."""
        return {feed: len(subs) for feed, subs in self.hub.subscribers.items()}

    def readers(self) -> dict[str, int]:
        """Readers per feed across every live node."""
        return self.local_readers() if self.presence is None else self.presence.totals()

    def feed(self, name: str) -> FeedConfig:
        """The configured feed ``name``, or ``404``."""
        feed = self.settings.feed(name)
        if feed is None:
            raise NotFound(f"no feed {name!r}")
        return feed

    def begin_drain(self) -> None:
        """Shutdown has begun: end every SSE stream (browsers reconnect elsewhere with
        ``Last-Event-ID``); WebSockets get 1012 from uvicorn's connection shutdown."""
        if self.draining:
            return
        self.draining = True
        for stream in list(self.sse_streams):
            stream.end()
