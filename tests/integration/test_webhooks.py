"""Webhooks against a local receiver that verifies every signature with ``standardwebhooks``.

Every event of the feed's log reaches the endpoint in log order, whatever its type (the tests
compare with the log itself, so event types added later are covered without change); a receiver
that fails for a while, or is down across a ticker restart, loses nothing; a second node takes
the endpoint over when the holder of its lease dies.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from standardwebhooks.webhooks import Webhook

from tests.integration.reach_helpers import Receiver, Request
from tests.servers import REDIS_URL, Server, delete_prefix, free_port, server_env, token

SECRET = "whsec_" + base64.b64encode(os.urandom(32)).decode()


class Partner:
    """The receiving side: verifies every request; answers 500 to the first ``failures``."""

    def __init__(self, port: int = 0, failures: int = 0) -> None:
        self.verifier = Webhook(SECRET)
        self.failures = failures  # answer 500 to this many requests to /hook first
        self.forged: list[Request] = []
        self.receiver = Receiver(self.respond, port)
        self.port = self.receiver.port

    def respond(self, request: Request) -> tuple[int, dict[str, str]]:
        try:
            self.verifier.verify(request.body, request.headers)
        except Exception:
            self.forged.append(request)
            return 400, {}
        if self.failures > 0 and request.path == "/hook":
            self.failures -= 1
            return 500, {}
        return 204, {}

    def close(self) -> None:
        self.receiver.close()


def config_file(tmp_path: Path, port: int, top: str = "") -> Path:
    path = tmp_path / f"ticker-{uuid.uuid4().hex[:6]}.toml"
    path.write_text(f"""{top}
[[webhooks]]
name = "partner"
url = "http://127.0.0.1:{port}/hook"
secret = "{SECRET}"
feeds = ["en"]

[[webhooks]]
name = "kills-only"
url = "http://127.0.0.1:{port}/kills"
secret = "{SECRET}"
feeds = ["en", "ar"]
events = ["retract"]
""")
    return path


def hook_env(config: Path) -> dict[str, str]:
    return {"TICKER_CONFIG": str(config), "TICKER_OUTBOUND_ALLOW": "127.0.0.1"}


def publish(server: Server, text: str, feed: str = "en") -> dict[str, Any]:
    response = httpx.post(f"{server.url}/api/v1/feeds/{feed}/items",
                          json={"text": text, "urgency": 3},
                          headers={"Authorization": f"Bearer {token()}"})
    assert response.status_code == 201, response.text
    item: dict[str, Any] = response.json()
    return item


def change(server: Server, method: str, item: dict[str, Any], **fields: Any) -> None:
    response = httpx.request(method, f"{server.url}/api/v1/feeds/{item['feed']}/items/"
                             f"{item['id']}", json=fields or None,
                             headers={"Authorization": f"Bearer {token()}"})
    assert response.status_code == 200, response.text


def log_events(server: Server, feed: str = "en") -> list[dict[str, Any]]:
    cursor = httpx.get(f"{server.url}/api/v1/feeds/{feed}/items").json()["cursor"]
    since = cursor.split(":")[0] + ":0"
    events: list[dict[str, Any]] = httpx.get(f"{server.url}/api/v1/feeds/{feed}/items",
                                             params={"since": since}).json()["events"]
    return events


def delivered(partner: Partner, path: str = "/hook") -> list[dict[str, Any]]:
    """The events the endpoint acknowledged, in order, each once (a retried event repeats its
    ``webhook-id`` and body, which is checked)."""
    bodies: dict[str, bytes] = {}
    order: list[str] = []
    for request in partner.receiver.taken():
        if request.path != path or request in partner.forged:
            continue
        msg_id = request.headers["webhook-id"]
        if msg_id in bodies:
            assert bodies[msg_id] == request.body, "a retry changed the body"
            continue
        bodies[msg_id] = request.body
        order.append(msg_id)
    return [json.loads(bodies[m]) for m in order]


def wait_delivered(partner: Partner, count: int, path: str = "/hook") -> list[dict[str, Any]]:
    partner.receiver.wait_for(lambda _: len(delivered(partner, path)) >= count)
    return delivered(partner, path)


@pytest.fixture
def partner() -> Iterator[Partner]:
    received = Partner(failures=3)
    yield received
    received.close()


@pytest.fixture
def prefix() -> Iterator[str]:
    name = f"test:{uuid.uuid4().hex[:12]}:"
    yield name
    delete_prefix(REDIS_URL, name)


def test_every_event_arrives_signed_in_order_through_failures(
        broker: str, partner: Partner, tmp_path: Path, prefix: str) -> None:
    env = server_env(broker, prefix=prefix, **hook_env(config_file(tmp_path, partner.port)))
    server = Server(free_port(), env).start()
    try:
        first = publish(server, "First")
        second = publish(server, "Second")
        change(server, "PATCH", first, text="First, corrected")
        change(server, "DELETE", second)
        publish(server, "Third")
        other = publish(server, "Arabic line", feed="ar")
        change(server, "DELETE", other)
        expected = log_events(server)
        assert [e["type"] for e in expected] == ["item", "item", "update", "retract", "item"]
        got = wait_delivered(partner, len(expected))
        assert got == expected
        assert partner.forged == []
        ids = [r.headers["webhook-id"] for r in partner.receiver.taken() if r.path == "/hook"]
        assert len(ids) == len(expected) + 3  # the three 500s were retried with the same id
        kills = wait_delivered(partner, 2, "/kills")
        assert [(k["feed"], k["id"]) for k in kills] == [("en", second["id"]),
                                                          ("ar", other["id"])]
        metrics = httpx.get(f"{server.url}/metrics").text
        assert 'ticker_webhook_retries_total{endpoint="partner"} 3.0' in metrics
        assert 'ticker_webhook_parked{endpoint="partner"} 0.0' in metrics
    finally:
        server.stop()


def test_a_restart_while_the_receiver_is_down_loses_nothing(tmp_path: Path,
                                                            prefix: str) -> None:
    port = free_port()  # nothing listens there yet: the receiver is down
    env = server_env("redis", prefix=prefix, **hook_env(config_file(tmp_path, port)))
    server = Server(free_port(), env).start()
    partner: Partner | None = None
    try:
        before = [publish(server, f"While down {n}") for n in range(3)]
        server.stop()
        server = Server(free_port(), env).start()
        after = publish(server, "After the restart")
        partner = Partner(port=port)
        got = wait_delivered(partner, 4)
        assert [e["item"]["id"] for e in got] == [i["id"] for i in [*before, after]]
        assert got == log_events(server)
    finally:
        server.stop()
        if partner is not None:
            partner.close()


def test_another_node_takes_the_endpoint_over_when_the_holder_dies(
        partner: Partner, tmp_path: Path, prefix: str) -> None:
    env = server_env("redis", prefix=prefix, **hook_env(config_file(tmp_path, partner.port)))
    nodes = [Server(free_port(), env).start() for _ in range(2)]
    try:
        publish(nodes[0], "Before")
        wait_delivered(partner, 1)
        with redis.Redis.from_url(REDIS_URL) as client:
            holder = client.get(f"{prefix}{{reach:webhook:partner}}:lease")
        assert holder is not None
        pid = int(holder.decode().split(":")[1])
        dying = next(n for n in nodes if n.process is not None and n.process.pid == pid)
        survivor = next(n for n in nodes if n is not dying)
        dying.stop(signal.SIGKILL)
        after = [publish(survivor, f"After {n}") for n in range(3)]
        got = wait_delivered(partner, 4)
        assert [e["item"]["id"] for e in got[1:]] == [i["id"] for i in after]
        assert got == log_events(survivor)
    finally:
        for node in nodes:
            node.stop()


def metric(server: Server, line: str) -> bool:
    return line in httpx.get(f"{server.url}/metrics").text.splitlines()


def test_an_endpoint_is_parked_and_resumes_when_it_answers(tmp_path: Path) -> None:
    down = True

    class Flaky(Partner):
        def respond(self, request: Request) -> tuple[int, dict[str, str]]:
            return (503, {}) if down else super().respond(request)

    partner = Flaky()
    config = config_file(tmp_path, partner.port, top="webhook_park_after = 2")
    server = Server(free_port(), {**server_env("memory"), **hook_env(config)},
                    log_level="info").start()
    try:
        item = publish(server, "Into the void")
        parked = 'ticker_webhook_parked{endpoint="partner"} '
        partner.receiver.wait_for(lambda _: metric(server, parked + "1.0"))
        assert "webhook partner: parked after 2 failed attempts" in server.logs()
        assert metric(server, 'ticker_webhook_lag_events{endpoint="partner"} 1.0')
        down = False
        got = wait_delivered(partner, 1)
        assert got[0]["item"]["id"] == item["id"]
        partner.receiver.wait_for(lambda _: metric(server, parked + "0.0"))
        assert "webhook partner: answering again; resumed" in server.logs()
    finally:
        server.stop()
        partner.close()


def test_webhooks_test_sends_a_signed_ping(partner: Partner, tmp_path: Path) -> None:
    partner.failures = 0
    env = {**os.environ, **hook_env(config_file(tmp_path, partner.port))}
    ticker = [sys.executable, "-m", "ticker", "webhooks", "test"]
    done = subprocess.run([*ticker, "partner"], env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert "partner" in done.stdout and "delivered" in done.stdout
    ping = partner.receiver.taken()[-1]
    assert json.loads(ping.body)["type"] == "ping" and partner.forged == []
    unknown = subprocess.run([*ticker, "nobody"], env=env, capture_output=True, text=True,
                             timeout=60)
    assert unknown.returncode == 2 and "partner" in unknown.stderr
