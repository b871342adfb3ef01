"""``/metrics`` as Prometheus reads it: counters named ``…_total``, every series there from
start-up, and counts that move with what happened."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.servers import Server, token

FEEDS = ("en", "ar", "es")
EVENT_TYPES = ("item", "update", "retract")
PLAIN_COUNTERS = ("ticker_deliveries", "ticker_socket_writes", "ticker_broker_reconnects",
                  "ticker_log_reads", "ticker_gap_events_filled", "ticker_resumes_too_large")


def scrape(server: Server) -> tuple[dict[str, str], dict[tuple[str, frozenset[tuple[str, str]]],
                                                          float]]:
    """Family name → type, and (sample name, labels) → value."""
    response = httpx.get(f"{server.url}/metrics", timeout=10)
    assert response.status_code == 200
    types: dict[str, str] = {}
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
    for family in text_string_to_metric_families(response.text):
        types[family.name] = family.type
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return types, samples


def labels(**values: str) -> frozenset[tuple[str, str]]:
    return frozenset(values.items())


def test_every_series_is_at_zero_from_start_up(server: Server) -> None:
    types, samples = scrape(server)
    for name in PLAIN_COUNTERS:
        assert types[name] == "counter", name
        assert samples[(f"{name}_total", labels())] >= 0, name
    for name in ("ticker_deliveries", "ticker_socket_writes", "ticker_broker_reconnects"):
        # (the Redis engine reads each feed's log once it has subscribed: log reads may be > 0)
        assert samples[(f"{name}_total", labels())] == 0, name
    for feed in FEEDS:
        assert samples[("ticker_events_dispatched_total", labels(feed=feed))] == 0
        for kind in EVENT_TYPES:
            assert samples[("ticker_events_published_total", labels(feed=feed, type=kind))] == 0
    for transport in ("ws", "sse"):
        assert samples[("ticker_connections_open", labels(transport=transport))] == 0
        assert samples[("ticker_slow_reader_disconnects_total",
                        labels(transport=transport))] == 0
    assert types["ticker_events_published"] == "counter"
    assert types["ticker_connections_open"] == "gauge"
    assert samples[("ticker_requests_rejected_total", labels(status="503"))] == 0


def test_three_publishes_grow_the_publish_counter_by_three(server: Server) -> None:
    key = ("ticker_events_published_total", labels(feed="ar", type="item"))
    _, before = scrape(server)
    with httpx.Client(base_url=server.url, timeout=10,
                      headers={"Authorization": f"Bearer {token()}"}) as client:
        for n in range(3):
            assert client.post("/api/v1/feeds/ar/items",
                               json={"text": f"خبر {n}"}).status_code == 201
    _, after = scrape(server)
    assert after[key] == before[key] + 3
    other = ("ticker_events_published_total", labels(feed="en", type="item"))
    assert after[other] == before[other]
