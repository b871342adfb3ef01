"""Push and webhook metrics, registered on the app's registry (``Metrics.registry``).

Per-feed and per-endpoint series exist at 0 from start-up, so ``rate()`` and alerts work before
the first event. The gauges are per node: the node holding an endpoint's lease reports its lag
and parked state, the others 0 — take ``max by (endpoint)`` across nodes.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

PUSH_FAILURES = ("refused", "network", "rejected", "gone", "throttled", "server")
WEBHOOK_OUTCOMES = ("delivered", "failed", "network", "refused")


class ReachMetrics:
    def __init__(self, registry: CollectorRegistry, feeds: list[str],
                 endpoints: list[str]) -> None:
        r = registry
        self.push_sent = Counter("ticker_push_sent", "Pushes accepted by a push service",
                                 ["feed"], registry=r)
        self.push_failed = Counter("ticker_push_failed",
                                   "Pushes that failed (after their retries), by reason",
                                   ["feed", "reason"], registry=r)
        self.push_pruned = Counter("ticker_push_pruned",
                                   "Subscriptions removed because the push service said 404/410",
                                   ["feed"], registry=r)
        self.webhook_deliveries = Counter("ticker_webhook_deliveries",
                                          "Webhook delivery attempts, by outcome",
                                          ["endpoint", "outcome"], registry=r)
        self.webhook_retries = Counter("ticker_webhook_retries",
                                       "Webhook deliveries attempted again after a failure",
                                       ["endpoint"], registry=r)
        self.webhook_lag = Gauge("ticker_webhook_lag_events",
                                 "Events of the endpoint's feeds not yet delivered (lease holder)",
                                 ["endpoint"], registry=r)
        self.webhook_parked = Gauge("ticker_webhook_parked",
                                    "1 while the endpoint has failed past the retry bound",
                                    ["endpoint"], registry=r)
        for feed in feeds:
            self.push_sent.labels(feed)
            self.push_pruned.labels(feed)
            for reason in PUSH_FAILURES:
                self.push_failed.labels(feed, reason)
        for endpoint in endpoints:
            for outcome in WEBHOOK_OUTCOMES:
                self.webhook_deliveries.labels(endpoint, outcome)
            self.webhook_retries.labels(endpoint)
            self.webhook_lag.labels(endpoint).set(0)
            self.webhook_parked.labels(endpoint).set(0)
