"""``ticker check`` against real Redis servers: a misconfigured one fails and names the setting,
a correctly configured one passes, ``--json`` is one document, and the clock check sees an
injected offset."""

from __future__ import annotations

import json
import re
import secrets
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.test_cli import ticker
from tests.servers import LocalCluster, RedisServer, Server, free_port, server_env
from ticker.checks.registry import run_checks
from ticker.checks.result import Context, Result, Status
from ticker.config import load_settings

STRONG = secrets.token_urlsafe(48)
ORIGINS = "https://news.example.org"


@pytest.fixture
def redis_at(tmp_path: Path) -> Iterator[Any]:
    made: list[RedisServer] = []

    def start(*extra: str, appendonly: bool = False) -> RedisServer:
        server = RedisServer(free_port(), tmp_path / f"redis-{len(made)}",
                             appendonly=appendonly, extra_args=list(extra)).start()
        made.append(server)
        return server

    yield start
    for server in made:
        server.stop()


def env_for(url: str) -> dict[str, str]:
    return {"REDIS_URL": url, "TICKER_SECRET": STRONG, "TICKER_ALLOWED_ORIGINS": ORIGINS}


def by_name(document: dict[str, Any]) -> dict[str, dict[str, str]]:
    return {check["name"]: check for check in document["checks"]}


def test_an_evicting_redis_fails_and_names_the_setting(redis_at: Any) -> None:
    server = redis_at("--maxmemory-policy", "allkeys-lru")
    done = ticker("check", "--readers", "10", env=env_for(server.url))
    assert done.returncode == 1, done.stdout
    line = next(ln for ln in done.stdout.splitlines() if "redis.maxmemory-policy" in ln)
    assert line.startswith("FAIL") and "'allkeys-lru'" in line
    assert "maxmemory-policy noeviction" in done.stdout  # what to do
    assert done.stdout.rstrip().endswith("OK") and "1 FAIL" in done.stdout


def test_a_redis_set_up_for_ticker_passes_and_json_parses(redis_at: Any) -> None:
    server = redis_at("--maxmemory-policy", "noeviction", "--maxmemory", "64mb",
                      appendonly=True)  # RedisServer sets appendfsync always
    done = ticker("check", "--json", "--readers", "10", env=env_for(server.url))
    assert done.returncode == 0, done.stdout
    document = json.loads(done.stdout)
    checks = by_name(document)
    assert document["ok"] is True and document["counts"]["FAIL"] == 0
    for name in ("secret", "allowed-origins", "broker", "redis.maxmemory-policy",
                 "redis.maxmemory", "redis.persistence", "redis.version", "redis.maxclients",
                 "clock", "host.nofile"):
        assert checks[name]["status"] == "OK", checks[name]
    assert "appendfsync always" in checks["redis.persistence"]["message"]
    assert set(checks["secret"]) == {"name", "status", "message", "action"}
    assert checks["push.key"]["status"] == "OK" and "first node" in checks["push.key"]["message"]


def test_the_vapid_key_a_node_made_is_found_in_redis(redis_at: Any) -> None:
    redis_server = redis_at()
    env = server_env("redis", REDIS_URL=redis_server.url)
    node = Server(free_port(), env).start()
    try:
        done = ticker("check", "--json", "--readers", "10",
                      env={**env_for(redis_server.url),
                           "TICKER_REDIS_PREFIX": env["TICKER_REDIS_PREFIX"]})
        key = by_name(json.loads(done.stdout))["push.key"]
        assert key["status"] == "OK" and "is in Redis" in key["message"], key
    finally:
        node.stop()


def test_partial_persistence_is_a_warning_that_says_what_readers_get(redis_at: Any) -> None:
    server = redis_at("--appendfsync", "everysec", appendonly=True)
    done = ticker("check", "--json", "--readers", "10", env=env_for(server.url))
    assert done.returncode == 0, done.stdout
    persistence = by_name(json.loads(done.stdout))["redis.persistence"]
    assert persistence["status"] == "WARN"
    assert "everysec" in persistence["message"] and "recovered:false" in persistence["message"]
    assert "appendfsync always" in persistence["action"]


def test_unreachable_redis_and_a_short_secret_fail() -> None:
    env = {"REDIS_URL": f"redis://127.0.0.1:{free_port()}/0", "TICKER_SECRET": "short"}
    done = ticker("check", "--json", "--readers", "10", env=env)
    assert done.returncode == 1
    checks = by_name(json.loads(done.stdout))
    assert checks["broker"]["status"] == "FAIL" and "cannot reach Redis" in checks["broker"][
        "message"]
    assert checks["secret"]["status"] == "FAIL" and "32" in checks["secret"]["message"]
    assert "redis.maxmemory-policy" not in checks  # nothing to ask


def test_embedded_broker_passes_with_warnings_for_production() -> None:
    done = ticker("check", "--readers", "10")
    assert done.returncode == 0, done.stdout
    assert any(ln.startswith("WARN") and "allowed-origins" in ln
               for ln in done.stdout.splitlines())
    assert "embedded broker" in done.stdout


def test_a_bad_configuration_is_one_fail_line() -> None:
    done = ticker("check", env={"TICKER_HISTORY": "lots"})
    assert done.returncode == 1
    assert done.stdout.startswith("FAIL") and "TICKER_HISTORY" in done.stdout
    done = ticker("check", "--readers", "0")
    assert done.returncode == 2 and "--readers" in done.stderr


@pytest.mark.parametrize(("offset", "status"), [
    (0.0, Status.OK), (0.2, Status.WARN), (-0.2, Status.WARN), (2.5, Status.FAIL),
    (-2.5, Status.FAIL)])
def test_clock_offset_against_redis_time(redis_at: Any, offset: float, status: Status) -> None:
    server = redis_at()
    settings = load_settings(env=env_for(server.url))
    ctx = Context(settings=settings, readers=10, now=lambda: time.time() + offset)
    clock: Result = next(r for r in run_checks(ctx) if r.name == "clock")
    assert clock.status is status, clock
    measured = re.search(r"is ([\d.]+) ms (ahead of|behind)", clock.message)
    assert measured is not None, clock.message
    assert abs(float(measured.group(1)) - abs(offset) * 1000) < 50  # loopback: well under
    if offset:
        assert measured.group(2) == ("ahead of" if offset > 0 else "behind")


def test_redis_cluster_every_node_is_checked() -> None:
    cluster = LocalCluster(Path(tempfile.mkdtemp(prefix="ticker-check-cluster-")), masters=3,
                           replicas=0).start()
    try:
        done = ticker("check", "--json", "--readers", "10", env=env_for(cluster.url))
        assert done.returncode == 0, done.stdout
        checks = by_name(json.loads(done.stdout))
        assert "3 primaries" in checks["broker"]["message"]
        for port in cluster.ports:
            version = checks[f"redis.version@127.0.0.1:{port}"]
            assert version["status"] == "OK" and "sharded pub/sub" in version["message"]
            assert checks[f"redis.maxmemory-policy@127.0.0.1:{port}"]["status"] == "OK"
        cluster.command(cluster.ports[1], "CONFIG", "SET", "maxmemory-policy", "volatile-lru")
        done = ticker("check", "--readers", "10", env=env_for(cluster.url))
        assert done.returncode == 1
        assert f"redis.maxmemory-policy@127.0.0.1:{cluster.ports[1]}" in done.stdout
    finally:
        cluster.stop()
