"""Every metric the alert rules and the Grafana dashboard use is one a running ticker exposes,
and promtool parses every dashboard expression."""

from __future__ import annotations

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
from tests.servers import Server

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
    used.update({f"panel {title!r}": metric_names(expr) for title, expr in dashboard_exprs()})
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
