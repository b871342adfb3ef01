"""Every metric the alert rules and the Grafana dashboard use is one a running ticker exposes,
and promtool parses every dashboard expression."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import httpx
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.promql import (
    alert_rules,
    as_promql,
    dashboard_exprs,
    dashboard_variable_queries,
    metric_names,
    promtool,
)
from tests.servers import RedisServer, Server, free_port, server_env

SUFFIXES = {"counter": ("_total", "_created"), "gauge": ("",),
            "histogram": ("_bucket", "_count", "_sum", "_created"), "summary": ("_count", "_sum")}
FROM_PROMETHEUS = {"up"}  # series Prometheus makes itself for every target


def exposed(server: Server) -> set[str]:
    """Every series name /metrics offers, including those of labelled metrics with no children
    yet (a counter of webhook deliveries before the first delivery)."""
    text = httpx.get(f"{server.url}/metrics", timeout=5).text
    names: set[str] = set()
    for family in text_string_to_metric_families(text):
        names.update(family.name + suffix for suffix in SUFFIXES.get(family.type, ("",)))
        names.update(sample.name for sample in family.samples)
    return names


def test_every_metric_in_rules_and_dashboard_is_exposed(server: Server) -> None:
    offered = exposed(server) | FROM_PROMETHEUS
    used = {"rule " + rule["alert"]: metric_names(rule["expr"]) for rule in alert_rules()}
    for title, expr in dashboard_exprs():
        used.setdefault(f"panel {title!r}", set()).update(metric_names(expr))
    used.update({f"variable {q!r}": metric_names(q) for q in dashboard_variable_queries()})
    assert all(used.values()), [where for where, names in used.items() if not names]
    missing = {where: sorted(names - offered) for where, names in used.items()
               if names - offered}
    assert not missing, f"not exposed by /metrics: {missing}"


def test_promtool_parses_every_dashboard_expression(tmp_path: Path) -> None:
    exprs = dashboard_exprs()
    rules = {"groups": [{"name": "dashboard", "rules": [
        {"record": f"dashboard:expr_{index}", "expr": as_promql(expr)}
        for index, (_, expr) in enumerate(exprs)]}]}
    path = tmp_path / "dashboard-rules.yml"
    path.write_text(yaml.safe_dump(rules))
    done = promtool("check", "rules", str(path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(exprs)} rules found" in done.stdout


def samples(server: Server) -> dict[str, float]:
    text = httpx.get(f"{server.url}/metrics", timeout=5).text
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
            found[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return found


def test_health_gauges_and_series_that_start_at_zero(server: Server) -> None:
    """rate() and increase() cannot see a series' first value: the counters alerts use exist at
    0 before the first event."""
    now = samples(server)
    assert now["ticker_broker_up"] == 1 and now["ticker_ready"] == 1
    for transport in ("ws", "sse"):
        assert now[f"ticker_slow_reader_disconnects_total{{transport={transport}}}"] == 0
    assert now["ticker_events_dispatched_total{feed=en}"] == 0


def test_broker_up_and_ready_follow_redis(tmp_path: Path) -> None:
    redis_server = RedisServer(free_port(), tmp_path / "redis").start()
    node = Server(free_port(), server_env("redis", REDIS_URL=redis_server.url)).start()
    try:
        redis_server.stop()
        down = wait_for(node, lambda s: s["ticker_broker_up"] == 0 and s["ticker_ready"] == 0)
        assert down["ticker_broker_up"] == 0
        redis_server.start()
        wait_for(node, lambda s: s["ticker_broker_up"] == 1 and s["ticker_ready"] == 1)
    finally:
        node.stop()
        redis_server.stop()


def wait_for(node: Server, done: Callable[[dict[str, float]], bool],
             limit: float = 30.0) -> dict[str, float]:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        now = samples(node)
        if done(now):
            return now
        time.sleep(0.2)
    raise AssertionError(f"metrics did not get there in {limit} s: {samples(node)}")
