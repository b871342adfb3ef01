"""Web Push against a local push service on loopback (listed in TICKER_PUSH_SERVICES).

The test plays the browser: it makes its own P-256 key and auth secret, subscribes, and decrypts
what the push service receives with ``http_ece`` (an implementation independent of ticker's);
the VAPID JWT is checked with ``cryptography`` against ``/api/v1/push/key``.
"""

from __future__ import annotations

import base64
import json
import os
import re
import uuid
from collections.abc import Iterator
from typing import Any

import http_ece
import httpx
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from tests.integration.reach_helpers import Receiver, Request
from tests.servers import REDIS_URL, Server, delete_prefix, free_port, running, server_env, token

TOPIC = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Browser:
    """A subscriber: its own keys and an endpoint path on the push service."""

    def __init__(self, service: Receiver, name: str) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.auth = os.urandom(16)
        self.path = f"/push/{name}-{uuid.uuid4().hex[:8]}"
        self.endpoint = service.origin + self.path
        self.service = service

    def subscription(self) -> dict[str, Any]:
        point = self.key.public_key().public_bytes(serialization.Encoding.X962,
                                                   serialization.PublicFormat.UncompressedPoint)
        return {"endpoint": self.endpoint, "expirationTime": None,
                "keys": {"p256dh": b64url(point), "auth": b64url(self.auth)}}

    def subscribe(self, server: Server, **filters: Any) -> None:
        response = httpx.post(f"{server.url}/api/v1/push/subscriptions",
                              json={"subscription": self.subscription(), **filters})
        assert response.status_code == 201, response.text

    def received(self) -> list[Request]:
        return [r for r in self.service.taken() if r.path == self.path]

    def messages(self) -> list[dict[str, Any]]:
        return [self.decrypt(r.body) for r in self.received()]

    def decrypt(self, body: bytes) -> dict[str, Any]:
        plain = http_ece.decrypt(body, private_key=self.key, auth_secret=self.auth,
                                 version="aes128gcm")
        message: dict[str, Any] = json.loads(plain)
        return message


def verify_vapid(request: Request, public_key: str, audience: str) -> dict[str, Any]:
    """The JWT's claims, after checking its ES256 signature against ``public_key``."""
    match = re.fullmatch(r"vapid t=([^,]+), k=(\S+)", request.headers["authorization"])
    assert match, request.headers["authorization"]
    jwt_text, key = match.groups()
    assert key == public_key
    head, claims, signature = jwt_text.split(".")
    assert json.loads(b64url_decode(head)) == {"alg": "ES256", "typ": "JWT"}
    raw = b64url_decode(signature)
    verifier = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b64url_decode(key))
    verifier.verify(encode_dss_signature(int.from_bytes(raw[:32]), int.from_bytes(raw[32:])),
                    f"{head}.{claims}".encode(), ec.ECDSA(hashes.SHA256()))
    decoded: dict[str, Any] = json.loads(b64url_decode(claims))
    assert decoded["aud"] == audience
    assert decoded["sub"].startswith(("mailto:", "https:"))
    return decoded


def push_env(service: Receiver) -> dict[str, str]:
    return {"TICKER_PUSH_SERVICES": service.origin, "TICKER_OUTBOUND_ALLOW": "127.0.0.1"}


def publish(server: Server, **fields: Any) -> dict[str, Any]:
    response = httpx.post(f"{server.url}/api/v1/feeds/{fields.pop('feed', 'en')}/items",
                          json=fields, headers={"Authorization": f"Bearer {token()}"})
    assert response.status_code == 201, response.text
    item: dict[str, Any] = response.json()
    return item


def edit(server: Server, method: str, item: dict[str, Any], **fields: Any) -> dict[str, Any]:
    response = httpx.request(method, f"{server.url}/api/v1/feeds/en/items/{item['id']}",
                             json=fields or None,
                             headers={"Authorization": f"Bearer {token()}"})
    assert response.status_code == 200, response.text
    changed: dict[str, Any] = response.json()
    return changed


@pytest.fixture
def service() -> Iterator[Receiver]:
    with Receiver() as receiver:
        yield receiver


def test_a_flash_is_pushed_encrypted_signed_and_replaced_by_its_correction(
        broker: str, service: Receiver) -> None:
    with running(broker, **push_env(service)) as server:
        key = httpx.get(f"{server.url}/api/v1/push/key").json()["public_key"]
        assert len(b64url_decode(key)) == 65 and b64url_decode(key)[0] == 4
        flash = Browser(service, "flash")  # max_urgency defaults to 2
        flash.subscribe(server, feed="en")
        sports = Browser(service, "sports")
        sports.subscribe(server, feed="en", max_urgency=4, categories=["sports"])
        routine = publish(server, text="Routine line", urgency=4)
        item = publish(server, text="Flash: quake", urgency=1, category="politics",
                       source="Agency", url="https://example.com/q")
        first = service.wait_for(lambda seen: len(flash.received()) >= 1)
        assert routine["id"] not in str([flash.messages()])  # in log order: the flash came 2nd
        assert flash.messages() == [{"type": "item", "item": item}]
        request = flash.received()[0]
        assert request.method == "POST"
        assert request.headers["content-encoding"] == "aes128gcm"
        assert int(request.headers["ttl"]) > 0
        assert request.headers["urgency"] == "high"
        topic = request.headers["topic"]
        assert TOPIC.match(topic)
        claims = verify_vapid(request, key, service.origin)
        assert claims["exp"] > 0

        corrected = edit(server, "PATCH", item, text="Flash: strong quake")
        service.wait_for(lambda seen: len(flash.received()) >= 2)
        assert flash.messages()[1] == {"type": "update", "item": corrected}
        assert flash.received()[1].headers["topic"] == topic

        edit(server, "DELETE", item)
        service.wait_for(lambda seen: len(flash.received()) >= 3)
        assert flash.messages()[2] == {"type": "retract", "feed": "en", "id": item["id"],
                                       "reason": "retracted"}
        assert flash.received()[2].headers["topic"] == topic

        sport = publish(server, text="Final score", urgency=3, category="sports")
        service.wait_for(lambda seen: len(sports.received()) >= 1)
        assert sports.messages() == [{"type": "item", "item": sport}]
        assert sports.received()[0].headers["urgency"] == "normal"
        assert len(flash.received()) == 3  # urgency 3 is past the default max_urgency 2
        assert len(first) >= 1


def test_410_prunes_the_subscription_and_delete_unsubscribes(broker: str) -> None:
    gone_paths: set[str] = set()

    def respond(request: Request) -> tuple[int, dict[str, str]]:
        return (410, {}) if request.path in gone_paths else (201, {})

    with Receiver(respond) as service, running(broker, **push_env(service)) as server:
        gone, alive, leaving = (Browser(service, n) for n in ("gone", "alive", "leaving"))
        gone_paths.add(gone.path)
        for browser in (gone, alive, leaving):
            browser.subscribe(server, feed="en")
        publish(server, text="First flash", urgency=1)
        service.wait_for(lambda seen: len(gone.received()) == 1
                         and len(alive.received()) == 1 and len(leaving.received()) == 1)
        response = httpx.request("DELETE", f"{server.url}/api/v1/push/subscriptions",
                                 json={"endpoint": leaving.endpoint})
        assert response.status_code == 204
        publish(server, text="Second flash", urgency=1)
        service.wait_for(lambda seen: len(alive.received()) == 2)
        publish(server, text="Third flash", urgency=2)
        service.wait_for(lambda seen: len(alive.received()) == 3)
        assert len(gone.received()) == 1 and len(leaving.received()) == 1
        metrics = httpx.get(f"{server.url}/metrics").text
        assert 'ticker_push_pruned_total{feed="en"} 1.0' in metrics
        assert 'ticker_push_sent_total{feed="en"} 4.0' in metrics  # 2 + 1 + 1


def test_two_nodes_on_one_redis_push_each_event_once(service: Receiver) -> None:
    prefix = f"test:{uuid.uuid4().hex[:12]}:"
    env = server_env("redis", prefix=prefix, **push_env(service))
    nodes = [Server(free_port(), env).start() for _ in range(2)]
    try:
        browsers = [Browser(service, f"b{i}") for i in range(3)]
        for index, browser in enumerate(browsers):
            browser.subscribe(nodes[index % 2], feed="en")
        keys = {httpx.get(f"{n.url}/api/v1/push/key").json()["public_key"] for n in nodes}
        assert len(keys) == 1  # one VAPID key for the node set
        texts = [f"Flash {n}" for n in range(4)]
        for index, text in enumerate(texts):
            publish(nodes[index % 2], text=text, urgency=1)
        service.wait_for(lambda seen: all(len(b.received()) >= 4 for b in browsers))
        marker = publish(nodes[0], text="Marker", urgency=1)  # sent after all of the above
        service.wait_for(lambda seen: all(
            any(m["item"]["id"] == marker["id"] for m in b.messages()) for b in browsers))
        for browser in browsers:
            got = [m["item"]["text"] for m in browser.messages()]
            assert got == [*texts, "Marker"], got
            assert len({r.headers["topic"] for r in browser.received()}) == 5
    finally:
        for node in nodes:
            node.stop()
        delete_prefix(REDIS_URL, prefix)


def test_endpoints_outside_the_allowed_push_services_are_refused(service: Receiver) -> None:
    other = Receiver()
    try:
        env = {"TICKER_PUSH_SERVICES": f"{service.origin},https://*.push.example",
               "TICKER_OUTBOUND_ALLOW": "127.0.0.1"}
        with running("memory", **env) as server:
            browser = Browser(service, "x")
            cases = {
                "another host": "https://evil.example/push/1",
                "the apex of a wildcard": "https://push.example/push/1",
                "http outside the list": "http://a.push.example/push/1",
                "another port": f"{other.origin}/push/1",
                "credentials": f"http://user:pw@127.0.0.1:{service.port}/push/1",
                "not a URL": "javascript:alert(1)",
            }
            for case, endpoint in cases.items():
                body = {"subscription": {**browser.subscription(), "endpoint": endpoint},
                        "feed": "en"}
                response = httpx.post(f"{server.url}/api/v1/push/subscriptions", json=body)
                assert response.status_code == 422, case
                assert [e["path"] for e in response.json()["errors"]] == [
                    "$.subscription.endpoint"], case
            bad = {"subscription": {"endpoint": browser.endpoint,
                                    "keys": {"p256dh": "AAAA", "auth": "short"}},
                   "feed": "nope", "max_urgency": 0, "categories": ["sports"], "extra": 1}
            response = httpx.post(f"{server.url}/api/v1/push/subscriptions", json=bad)
            assert response.status_code == 422
            assert {e["path"] for e in response.json()["errors"]} == {
                "$.extra", "$.subscription.keys.p256dh", "$.subscription.keys.auth", "$.feed",
                "$.max_urgency"}
            publish(server, text="Flash nobody subscribed to", urgency=1)
        assert other.taken() == []
    finally:
        other.close()


def test_a_push_service_name_that_resolves_to_loopback_is_refused(service: Receiver) -> None:
    """``localhost`` is on the list, but it resolves (/etc/hosts) to a loopback address that
    TICKER_OUTBOUND_ALLOW does not list: refused when subscribing."""
    env = {"TICKER_PUSH_SERVICES": f"http://localhost:{service.port}"}
    with running("memory", **env) as server:
        browser = Browser(service, "dns")
        body = {"subscription": {**browser.subscription(),
                                 "endpoint": f"http://localhost:{service.port}{browser.path}"},
                "feed": "en"}
        response = httpx.post(f"{server.url}/api/v1/push/subscriptions", json=body)
        assert response.status_code == 422, response.text
        assert "not a public address" in response.json()["errors"][0]["message"]


def test_429_and_5xx_are_retried_with_backoff_and_bounded() -> None:
    answers: dict[str, list[int]] = {}

    def respond(request: Request) -> tuple[int, dict[str, str]]:
        script = answers.get(request.path, [])
        status = script.pop(0) if script else 201
        return status, ({"retry-after": "1"} if status == 429 else {})

    with Receiver(respond) as service, running("memory", **push_env(service)) as server:
        busy, broken = Browser(service, "busy"), Browser(service, "broken")
        answers[busy.path] = [429, 503]
        answers[broken.path] = [500] * 10
        busy.subscribe(server, feed="en")
        broken.subscribe(server, feed="en")
        item = publish(server, text="Flash through a busy service", urgency=1)
        service.wait_for(lambda seen: len(busy.received()) == 3 and len(broken.received()) == 4)
        assert [m["item"]["id"] for m in busy.messages()] == [item["id"]] * 3
        metrics = httpx.get(f"{server.url}/metrics").text
        assert 'ticker_push_sent_total{feed="en"} 1.0' in metrics
        assert 'ticker_push_failed_total{feed="en",reason="server"} 1.0' in metrics
        second = publish(server, text="Next flash", urgency=1)  # broken is still subscribed
        service.wait_for(lambda seen: len(broken.received()) == 5)
        assert broken.messages()[-1]["item"]["id"] == second["id"]
