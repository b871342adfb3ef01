"""``ticker check``'s checks as functions of what they are given (the Redis-backed ones are in
tests/integration/test_check.py)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import msgspec
import pytest

from tests.servers import free_port
from ticker.checks import registry
from ticker.checks.broker import (
    ServerFacts,
    check_maxclients,
    check_maxmemory,
    check_persistence,
    check_version,
)
from ticker.checks.clock import check_clock, measure_offset
from ticker.checks.host import check_nofile, check_somaxconn, check_syn_backlog
from ticker.checks.reach import check_push, check_push_key, check_webhooks
from ticker.checks.result import Context, Result, Status, ok
from ticker.checks.settings import check_origins, check_secret, origin_problem
from ticker.config import Settings
from ticker.reach.push.vapid import new_key_pem

STRONG = "Xq3vR8mZ0pL2sT7wK9yB4nC6dF1gH5jA-uE_oI"  # 38 distinct characters


def ctx(**settings: object) -> Context:
    return Context(settings=msgspec.convert(settings, Settings), readers=1000)


@pytest.mark.parametrize(("secret", "broker", "status", "says"), [
    (None, "memory://", Status.WARN, "dies with the process"),
    (None, "redis://h:6379/0", Status.FAIL, "refuses to start"),
    ("short", "memory://", Status.FAIL, "fewer than 32"),
    ("x" * 64, "memory://", Status.WARN, "bits of entropy"),
    ("change-me-to-48-random-bytes-from-secrets-token", "memory://", Status.WARN, "change-me"),
    (STRONG, "redis://h:6379/0", Status.OK, "38 bytes"),
])
def test_secret(secret: str | None, broker: str, status: Status, says: str) -> None:
    result = check_secret(ctx(secret=secret, broker_url=broker))
    assert result.status is status and says in result.message, result


@pytest.mark.parametrize(("origins", "status"), [
    (None, Status.WARN), (["*"], Status.WARN), (["https://news.example.org"], Status.OK),
    (["https://news.example.org", "news.example.org"], Status.FAIL),
    (["https://news.example.org/live"], Status.FAIL)])
def test_allowed_origins(origins: list[str] | None, status: Status) -> None:
    assert check_origins(ctx(allowed_origins=origins)).status is status


def test_origin_problems_say_why() -> None:
    assert origin_problem("https://a.example:8443") is None
    assert "scheme" in (origin_problem("a.example") or "")
    assert "'/'" in (origin_problem("https://a.example/") or "")


def facts(**config: str) -> ServerFacts:
    base = {"maxmemory-policy": "noeviction", "maxmemory": "0", "appendonly": "no",
            "appendfsync": "everysec", "save": "", "maxclients": "10000"}
    return ServerFacts("h:1", config={**base, **config},
                       info={"redis_version": "7.2.4", "connected_clients": 3, "role": "master"})


@pytest.mark.parametrize(("config", "status", "says"), [
    ({"appendonly": "yes", "appendfsync": "always"}, Status.OK, "nothing lost"),
    ({"appendonly": "yes", "appendfsync": "everysec"}, Status.WARN, "~1 s"),
    ({"appendonly": "yes", "appendfsync": "no"}, Status.WARN, "~30 s"),
    ({"save": "3600 1 300 100"}, Status.WARN, "since the last snapshot"),
    ({}, Status.WARN, "new epoch"),
])
def test_persistence_says_what_readers_get(config: dict[str, str], status: Status,
                                           says: str) -> None:
    result = check_persistence(facts(**config))
    assert result.status is status and says in result.message, result


def test_unreadable_config_is_a_warning_not_a_pass() -> None:
    hidden = ServerFacts("h:1", config_error="unknown command 'CONFIG'")
    assert check_persistence(hidden).status is Status.WARN
    assert check_maxmemory(hidden).status is Status.WARN


def test_maxmemory_unbounded_or_nearly_full_warns() -> None:
    assert check_maxmemory(facts()).status is Status.WARN
    full = facts(maxmemory=str(100 * 2**20))
    full.info["used_memory"] = 90 * 2**20
    assert "90%" in check_maxmemory(full).message
    full.info["used_memory"] = 10 * 2**20
    assert check_maxmemory(full).status is Status.OK


@pytest.mark.parametrize(("version", "cluster", "status"), [
    ("7.0.15", True, Status.OK), ("6.2.14", True, Status.FAIL), ("6.2.14", False, Status.OK),
    ("4.0.14", False, Status.FAIL)])
def test_version_features(version: str, cluster: bool, status: Status) -> None:
    server = facts()
    server.info["redis_version"] = version
    result = check_version(server, cluster)
    assert result.status is status, result
    if status is Status.FAIL and cluster:
        assert "SPUBLISH" in result.message


def test_maxclients_against_nodes() -> None:
    assert check_maxclients(facts(maxclients="10000"), nodes=4).status is Status.OK
    tight = check_maxclients(facts(maxclients="200"), nodes=4)
    assert tight.status is Status.WARN and "324" in tight.message
    assert check_maxclients(facts(maxclients="6"), nodes=4).status is Status.FAIL


@pytest.mark.parametrize(("offset", "status"), [
    (0.0, Status.OK), (0.049, Status.OK), (0.051, Status.WARN), (-0.9, Status.WARN),
    (1.001, Status.FAIL), (-30.0, Status.FAIL)])
def test_clock_thresholds(offset: float, status: Status) -> None:
    assert check_clock(offset, 0.001).status is status


def test_measure_offset_takes_the_middle_of_the_shortest_round_trip() -> None:
    ticks = iter([100.0, 100.5, 200.0, 200.002])  # a slow sample, then a fast one
    answers = iter([(100, 0), (199, 990_000)])
    offset, rtt = measure_offset(lambda: next(answers), lambda: next(ticks), samples=2)
    assert rtt == pytest.approx(0.002) and offset == pytest.approx(0.011)


def test_nofile_against_readers() -> None:
    readers = Context(settings=Settings(), readers=10_000, readers_given=True)
    assert check_nofile(readers, limits=(1024, 1024)).status is Status.FAIL
    assert check_nofile(readers, limits=(11_000, 65536)).status is Status.WARN
    result = check_nofile(readers, limits=(65536, 65536))
    assert result.status is Status.OK and "10,000 readers" in result.message


def test_backlogs_read_from_proc(tmp_path: Path) -> None:
    (tmp_path / "sys/net/core").mkdir(parents=True)
    (tmp_path / "sys/net/ipv4").mkdir(parents=True)
    (tmp_path / "sys/net/core/somaxconn").write_text("128\n")
    (tmp_path / "sys/net/ipv4/tcp_max_syn_backlog").write_text("16384\n")
    many = Context(settings=Settings(), readers=50_000, proc=str(tmp_path))
    somaxconn = check_somaxconn(many)
    assert somaxconn.status is Status.WARN and "at 128" in somaxconn.message
    assert "net.core.somaxconn=" in somaxconn.action
    assert check_syn_backlog(many).status is Status.OK
    few = Context(settings=Settings(), readers=100, proc=str(tmp_path))
    assert check_somaxconn(few).status is Status.OK
    missing = Context(settings=Settings(), proc=str(tmp_path / "nowhere"))
    assert check_somaxconn(missing).status is Status.WARN


class Receiver(BaseHTTPRequestHandler):
    """Takes webhook POSTs (and says 200) on one path; anything else 404."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200 if self.path == "/hooks/ticker" else 404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", free_port()), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)
    server.server_close()


SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def test_webhooks_get_the_signed_ping(receiver: str) -> None:
    down = f"http://127.0.0.1:{free_port()}/hook"
    settings = msgspec.convert({"outbound_allow": ["127.0.0.1"], "webhooks": [
        {"name": "cms", "url": f"{receiver}/hooks/ticker", "secret": SECRET, "feeds": ["en"]},
        {"name": "gone", "url": f"{receiver}/elsewhere", "secret": SECRET, "feeds": ["en"]},
        {"name": "down", "url": down, "secret": SECRET, "feeds": ["en"]},
    ]}, Settings)
    results = check_webhooks(Context(settings=settings, timeout=1.0))
    assert [(r.name, r.status) for r in results] == [
        ("webhook.cms", Status.OK), ("webhook.gone", Status.WARN), ("webhook.down", Status.WARN)]
    assert "HTTP 404" in results[1].message and "ticker webhooks test gone" in results[1].action
    refused = msgspec.structs.replace(settings, outbound_allow=[])
    assert check_webhooks(Context(settings=refused, timeout=1.0))[0].status is Status.FAIL


def test_push_services_contact_and_key_file(tmp_path: Path) -> None:
    key = tmp_path / "vapid.pem"
    settings = msgspec.convert({"push_key_file": str(key), "push_contact": "mailto:desk@x.org",
                                "push_services": ["https://fcm.googleapis.com",
                                                  "http://127.0.0.1:9"]}, Settings)
    context = Context(settings=settings)
    services, contact, missing = check_push(context)
    assert services.status is Status.WARN and "http://127.0.0.1:9" in services.message
    assert contact.status is Status.OK
    assert missing.status is Status.OK and "first start makes it" in missing.message
    key.write_bytes(new_key_pem())
    key.chmod(0o644)
    assert check_push_key(context).status is Status.WARN
    key.chmod(0o600)
    assert check_push_key(context).status is Status.OK
    key.write_text("not a key")
    assert check_push_key(context).status is Status.FAIL
    defaults = check_push(ctx())
    assert [r.status for r in defaults] == [Status.OK, Status.WARN, Status.WARN]


def test_registered_checks_run_and_a_crash_is_a_fail(monkeypatch: pytest.MonkeyPatch) -> None:
    def extra(context: Context) -> list[Result]:
        return [ok("extra", "here")]

    def broken(context: Context) -> list[Result]:
        raise RuntimeError("boom")

    monkeypatch.setattr(registry, "CHECKS", [extra, broken])
    registry.register(extra)
    results = registry.run_checks(ctx())
    assert [r.name for r in results] == ["extra", "broken", "extra"]
    assert results[1].status is Status.FAIL and "boom" in results[1].message
    assert not registry.passed(results)
