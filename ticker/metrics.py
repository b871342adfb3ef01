"""Prometheus metrics, defined once per process on a registry of their own.

Nothing here runs per delivery: deliveries, socket writes, log reads, gap fills and broker
reconnects are counted in plain integers by the parts that do them, and read as counters
(``…_total``) by a collector when ``/metrics`` is scraped.

Every labelled series exists from start-up: each configured feed's published and dispatched
counts, each transport's connections and cuts, the usual rejection statuses — all at ``0``, so
``rate()`` and alerts work before the first event (a series that appears only on its first
increment has no earlier sample to compare with).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
EVENT_TYPES = ("item", "update", "retract", "pin")
TRANSPORTS = ("ws", "sse")
# Rejections that operators alert on; others appear on their first occurrence.
USUAL_REJECTIONS = (400, 401, 403, 404, 409, 413, 415, 422, 429, 431, 503)

# The counts kept as plain integers: key for ``Metrics.bind`` → (name without ``_total``, help).
PLAIN_COUNTERS: dict[str, tuple[str, str]] = {
    "deliveries": ("ticker_deliveries", "Frames written to readers"),
    "writes": ("ticker_socket_writes",
               "Socket writes to readers (deliveries / writes = frames per write)"),
    "reconnects": ("ticker_broker_reconnects", "Broker live-connection reconnects"),
    "log_reads": ("ticker_log_reads", "Broker log reads for gaps and resumes older than the ring"),
    "resumes_too_large": ("ticker_resumes_too_large",
                          "Resumes answered with a snapshot (recovered: false) because the missed "
                          "events would fill more than half the reader's outbox"),
    "gap_events": ("ticker_gap_events_filled",
                   "Events dispatched from the log after a gap or a reconnect"),
    "scheduled_fired": ("ticker_scheduled_transitions_fired",
                        "Embargoes and expiries this node fired (its scheduler won the claim)"),
}


class PlainCounters(Collector):
    """Counters read from plain integers at scrape time."""

    def __init__(self) -> None:
        self.sources: dict[str, Callable[[], float]] = {}

    def collect(self) -> Iterator[Metric]:
        for key, (name, documentation) in PLAIN_COUNTERS.items():
            source = self.sources.get(key)
            yield CounterMetricFamily(name, documentation,
                                      value=float(source()) if source is not None else 0.0)

    def describe(self) -> Iterator[Metric]:
        for name, documentation in PLAIN_COUNTERS.values():
            yield CounterMetricFamily(name, documentation)


class Metrics:
    def __init__(self, feeds: Sequence[str] = (), transports: Iterable[str] = TRANSPORTS) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.events = Counter("ticker_events_published", "Events published through this node",
                              ["feed", "type"], registry=r)
        self.dispatched = Counter("ticker_events_dispatched", "Events dispatched to readers",
                                  ["feed"], registry=r)
        self.connections = Gauge("ticker_connections_open", "Open reader connections",
                                 ["transport"], registry=r)
        self._connection_children: dict[str, Gauge] = {}
        self.cuts = Counter("ticker_slow_reader_disconnects",
                            "Readers closed for falling behind (1013)", ["transport"],
                            registry=r)
        self.rejections = Counter("ticker_requests_rejected", "Requests rejected, by status",
                                  ["status"], registry=r)
        self.latency = Histogram("ticker_publish_to_dispatch_seconds",
                                 "From the broker's stamp to this node's dispatch",
                                 buckets=LATENCY_BUCKETS, registry=r)
        self.plain = PlainCounters()
        r.register(self.plain)
        for feed in feeds:
            self.dispatched.labels(feed)
            for kind in EVENT_TYPES:
                self.events.labels(feed, kind)
        for transport in transports:
            self.connections.labels(transport)
            self.cuts.labels(transport)
        for status in USUAL_REJECTIONS:
            self.rejections.labels(str(status))

    def bind(self, sources: dict[str, Callable[[], float]]) -> None:
        """Where the plain counters are read from (keys of ``PLAIN_COUNTERS``)."""
        unknown = set(sources) - set(PLAIN_COUNTERS)
        if unknown:
            raise ValueError(f"no such plain counters: {sorted(unknown)}")
        self.plain.sources.update(sources)

    def connection_opened(self, transport: str) -> None:
        self._connections(transport).inc()

    def connection_closed(self, transport: str) -> None:
        self._connections(transport).dec()

    def _connections(self, transport: str) -> Gauge:
        # labels() builds a key per call; a reconnect storm calls this thousands of times
        child = self._connection_children.get(transport)
        if child is None:
            child = self._connection_children[transport] = self.connections.labels(transport)
        return child

    def slow_reader_cut(self, transport: str) -> None:
        self.cuts.labels(transport).inc()

    def rejected(self, status: int) -> None:
        self.rejections.labels(str(status)).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)

    def bind_health(self, broker_up: Callable[[], bool], ready: Callable[[], bool]) -> None:
        """Liveness of the broker link and readiness as gauges read at scrape time, so alert
        rules see what ``/readyz`` answers without probing it."""
        up = Gauge("ticker_broker_up", "1 while the broker's live connection is up",
                   registry=self.registry)
        up.set_function(lambda: float(broker_up()))
        is_ready = Gauge("ticker_ready", "1 while /readyz would answer 200 (broker up, feeds "
                         "loaded)", registry=self.registry)
        is_ready.set_function(lambda: float(ready() and broker_up()))
