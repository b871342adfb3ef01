"""Prometheus metrics, defined once per process on a registry of their own.

Nothing here runs per delivery: deliveries are counted by the fan-out in plain integers and read
when ``/metrics`` is scraped.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.events = Counter("ticker_events_published", "Events published through this node",
                              ["feed", "type"], registry=r)
        self.dispatched = Counter("ticker_events_dispatched", "Events dispatched to readers",
                                  ["feed"], registry=r)
        self.connections = Gauge("ticker_connections_open", "Open reader connections",
                                 ["transport"], registry=r)
        self.cuts = Counter("ticker_slow_reader_disconnects",
                            "Readers closed for falling behind (1013)", ["transport"],
                            registry=r)
        self.rejections = Counter("ticker_requests_rejected", "Requests rejected, by status",
                                  ["status"], registry=r)
        self.reconnects = Gauge("ticker_broker_reconnects", "Broker live-connection reconnects",
                                registry=r)
        self.latency = Histogram("ticker_publish_to_dispatch_seconds",
                                 "From the broker's stamp to this node's dispatch",
                                 buckets=LATENCY_BUCKETS, registry=r)
        self.deliveries = Gauge("ticker_deliveries", "Frames written to readers", registry=r)
        self.writes = Gauge("ticker_socket_writes",
                            "Socket writes to readers (deliveries / writes = frames per write)",
                            registry=r)
        self.log_reads = Gauge("ticker_log_reads",
                               "Broker log reads for gaps and resumes older than the ring",
                               registry=r)
        self.gap_events = Gauge("ticker_gap_events_filled",
                                "Events dispatched from the log after a gap or a reconnect",
                                registry=r)

    def bind(self, sources: dict[str, Callable[[], float]]) -> None:
        """Gauges read from plain counters when scraped (nothing runs per delivery)."""
        for name, source in sources.items():
            gauge: Gauge = getattr(self, name)
            gauge.set_function(source)

    def connection_opened(self, transport: str) -> None:
        self.connections.labels(transport).inc()

    def connection_closed(self, transport: str) -> None:
        self.connections.labels(transport).dec()

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

    def start_at_zero(self, feeds: list[str]) -> None:
        """Create the labelled series at 0 before anything happens: ``rate()`` and
        ``increase()`` see nothing of a series' first value, so 40 readers cut at once would
        otherwise never show in the slow-reader alert."""
        for transport in ("ws", "sse"):
            self.cuts.labels(transport)
            self.connections.labels(transport)
        for feed in feeds:
            self.dispatched.labels(feed)
            for kind in ("item", "update", "retract"):
                self.events.labels(feed, kind)
