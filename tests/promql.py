"""Helpers for the tests of the Prometheus rules and the Grafana dashboard: promtool, and the
PromQL expressions each file holds."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
RULES = ROOT / "deploy" / "prometheus" / "ticker-rules.yml"
RULE_TESTS = ROOT / "deploy" / "prometheus" / "ticker-rules.test.yml"
DASHBOARD = ROOT / "deploy" / "grafana" / "ticker.json"
METRIC = re.compile(r"\bticker_[a-z0-9_]+|\bup(?=\{)")  # ticker's series, and Prometheus' up
GRAFANA_VARIABLES = {"$__rate_interval": "1m", "$__interval": "1m", "$__range": "1h",
                     "$instance": ".*"}


def promtool(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run promtool (Debian's ``prometheus`` package; scripts/test.sh installs it)."""
    path = shutil.which("promtool")
    assert path is not None, "promtool is not installed: apt-get install prometheus"
    return subprocess.run([path, *args], capture_output=True, text=True, timeout=60, cwd=cwd)


def alert_rules() -> list[dict[str, Any]]:
    document = yaml.safe_load(RULES.read_text())
    return [rule for group in document["groups"] for rule in group["rules"]]


def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return loaded


def dashboard_exprs() -> list[tuple[str, str]]:
    """(panel title, expression) for every query target of every panel."""
    return [(panel["title"], target["expr"]) for panel in dashboard()["panels"]
            for target in panel.get("targets", [])]


def dashboard_variable_queries() -> list[str]:
    return [str(variable.get("definition", "")) for variable in
            dashboard()["templating"]["list"] if variable["type"] == "query"]


def as_promql(expr: str) -> str:
    """A dashboard expression with Grafana's variables replaced, as Prometheus would get it."""
    for name in sorted(GRAFANA_VARIABLES, key=len, reverse=True):
        expr = expr.replace(name, GRAFANA_VARIABLES[name])
    return expr


def metric_names(expr: str) -> set[str]:
    return set(METRIC.findall(expr))
