"""Requests an attacker would send, and a broker that fails: each gets its 4xx or a 503 that
gives nothing away, never a 500.

Every case runs on both engines; the broker-failure cases use a private redis-server.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from tests.servers import RedisServer, Server, free_port, running, token

PROBLEM = "application/problem+json"


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    return body


def paths(body: dict[str, Any]) -> list[str]:
    return [e["path"] for e in body["errors"]]


@pytest.fixture
def client(server: Server) -> httpx.Client:
    return httpx.Client(base_url=server.url, timeout=10,
                        headers={"Authorization": f"Bearer {token()}"})


@pytest.mark.parametrize("query", [
    "limit=%C2%B2",  # "²": str.isdigit() says yes, int() says no
    "limit=" + "9" * 5000,  # more digits than int() converts
    "limit=%EF%BC%95",  # a full-width "5"
    "limit=5%0A",
    "limit=-1",
    "since=abc:1&limit=%C2%B2",
    "since=abc:%C2%B2",
    "since=abc%0A:1",
])
def test_bad_query_values_on_the_read_api_are_422(client: httpx.Client, query: str) -> None:
    body = problem(client.get(f"/api/v1/feeds/en/items?{query}"), 422)
    assert paths(body)[0] in ("query.limit", "query.since")


@pytest.mark.parametrize("query", ["max_urgency=%C2%B2", "max_urgency=" + "1" * 5000,
                                   "max_urgency=0", "max_urgency=1%0A"])
def test_bad_query_values_on_the_event_stream_are_422(client: httpx.Client, query: str) -> None:
    body = problem(client.get(f"/api/v1/feeds/en/events?{query}"), 422)
    assert paths(body) == ["query.max_urgency"]


def test_deeply_nested_json_is_400(client: httpx.Client) -> None:
    item = client.post("/api/v1/feeds/en/items", json={"text": "nested"}).json()
    headers = {"content-type": "application/json"}
    for depth in (3000, 8000):  # within the 16 KiB body limit: the nesting is what is refused
        deep = b"[" * depth + b"]" * depth
        for body in (deep, b'{"text": "x", "regions": ' + deep + b"}"):
            problem(client.post("/api/v1/feeds/en/items", content=body, headers=headers), 400)
            problem(client.patch(f"/api/v1/feeds/en/items/{item['id']}", content=body,
                                 headers=headers), 400)


def test_moderately_nested_values_are_422_naming_the_field(client: httpx.Client) -> None:
    deep = "[" * 500 + "]" * 500
    body = f'{{"text": {deep}, "regions": [{deep}], "lang": {deep}}}'.encode()
    got = problem(client.post("/api/v1/feeds/en/items", content=body,
                              headers={"content-type": "application/json"}), 422)
    assert sorted(paths(got)) == ["$.lang", "$.regions[0]", "$.text"]


@pytest.mark.parametrize("lang", ["en\n", "en-GB\n", "\nen", "en\r"])
def test_a_language_tag_with_a_line_break_is_refused(client: httpx.Client, lang: str) -> None:
    body = problem(client.post("/api/v1/feeds/en/items", json={"text": "x", "lang": lang}), 422)
    assert paths(body) == ["$.lang"]


@pytest.mark.parametrize("broker", ["memory", "redis"])
def test_a_burst_of_corrections_and_retractions_is_rate_limited(broker: str) -> None:
    with running(broker, TICKER_PUBLISH_RATE="4/minute") as server, \
            httpx.Client(base_url=server.url, timeout=10,
                         headers={"Authorization": f"Bearer {token()}"}) as client:
        item = client.post("/api/v1/feeds/en/items", json={"text": "v1"}).json()
        url = f"/api/v1/feeds/en/items/{item['id']}"
        statuses = [client.patch(url, json={"text": f"v{n}"}).status_code for n in range(2, 5)]
        assert statuses == [200, 200, 200]
        limited = client.patch(url, json={"text": "one too many"})
        problem(limited, 429)
        assert 1 <= int(limited.headers["retry-after"]) <= 60
        problem(client.delete(url), 429)
        assert client.get(url).json()["version"] == 4  # the refused changes changed nothing
        other = httpx.Client(base_url=server.url, timeout=10,
                             headers={"Authorization": f"Bearer {token('bob')}"})
        assert other.delete(url).status_code == 200  # an editor with its own budget


def test_the_embed_page_of_an_unknown_feed_is_404(server: Server) -> None:
    assert httpx.get(f"{server.url}/embed/en").status_code == 200
    for feed in ("nope", "en%0A", "EN"):
        assert httpx.get(f"{server.url}/embed/{feed}").status_code == 404, feed


# --- a broker that fails ----------------------------------------------------------------------


def assert_says_nothing_of_redis(body: dict[str, Any], redis_server: RedisServer) -> None:
    text = str(body).lower()
    for secret in ("127.0.0.1", str(redis_server.port), "redis", "error", "connect"):
        assert secret not in text, (secret, body)
    assert body["detail"].startswith("broker unavailable")


@pytest.mark.parametrize("broker", ["redis"])
def test_redis_down_is_503_that_names_no_host(tmp_path: Path, broker: str) -> None:
    redis_server = RedisServer(free_port(), tmp_path / "redis").start()
    try:
        with running("redis", REDIS_URL=redis_server.url) as server, \
                httpx.Client(base_url=server.url, timeout=10,
                             headers={"Authorization": f"Bearer {token()}"}) as client:
            item = client.post("/api/v1/feeds/en/items", json={"text": "before"}).json()
            redis_server.stop()
            for response in (
                client.post("/api/v1/feeds/en/items", json={"text": "during"}),
                client.patch(f"/api/v1/feeds/en/items/{item['id']}", json={"text": "x"}),
                client.delete(f"/api/v1/feeds/en/items/{item['id']}"),
                client.get(f"/api/v1/feeds/en/items/{item['id']}"),
                client.get("/api/v1/feeds/en/items"),
                client.get("/api/v1/feeds/en/items", params={"since": "abc:0"}),
                client.get("/feeds/en.atom"),
                client.get("/feeds/en.json"),
                client.get("/readyz"),
            ):
                body = problem(response, 503)
                assert int(response.headers["retry-after"]) >= 1
                assert_says_nothing_of_redis(body, redis_server)
            assert f"{redis_server.port}" in server.logs()  # operators get the details
    finally:
        redis_server.stop()


@pytest.mark.parametrize("broker", ["redis"])
def test_a_read_only_replica_after_failover_is_503(tmp_path: Path, broker: str) -> None:
    """A primary demoted to a replica refuses writes with READONLY: both the rate limiter's
    script and the publish script must answer 503, not 500."""
    redis_server = RedisServer(free_port(), tmp_path / "redis").start()
    try:
        with running("redis", REDIS_URL=redis_server.url) as server, \
                httpx.Client(base_url=server.url, timeout=10,
                             headers={"Authorization": f"Bearer {token()}"}) as client:
            item = client.post("/api/v1/feeds/en/items", json={"text": "before"}).json()
            with redis_server.client() as admin:
                admin.replicaof("127.0.0.1", free_port())  # a primary nobody runs
                with pytest.raises(redis.ReadOnlyError):
                    admin.set("probe", "1")
            for response in (
                client.post("/api/v1/feeds/en/items", json={"text": "during"}),
                client.patch(f"/api/v1/feeds/en/items/{item['id']}", json={"text": "x"}),
            ):
                body = problem(response, 503)
                assert_says_nothing_of_redis(body, redis_server)
            assert client.get(f"/api/v1/feeds/en/items/{item['id']}").status_code == 200
            with redis_server.client() as admin:
                admin.replicaof("NO", "ONE")  # promoted again: writes work
            assert client.post("/api/v1/feeds/en/items",
                               json={"text": "after"}).status_code == 201
    finally:
        redis_server.stop()


@pytest.mark.parametrize("broker", ["memory", "redis"])
def test_a_retry_whose_item_is_no_longer_kept_is_409(broker: str, tmp_path: Path) -> None:
    config = tmp_path / "ticker.toml"
    config.write_text("history = 1\n[limits]\nlatest_max = 1\nitem_retention = 1\n")
    with running(broker, TICKER_CONFIG=str(config)) as server, \
            httpx.Client(base_url=server.url, timeout=10,
                         headers={"Authorization": f"Bearer {token()}"}) as client:
        key = {"Idempotency-Key": "early"}
        first = client.post("/api/v1/feeds/en/items", json={"text": "early"}, headers=key)
        assert first.status_code == 201
        for n in range(2):
            assert client.post("/api/v1/feeds/en/items", json={"text": f"n{n}"}).status_code == 201
        problem(client.get(f"/api/v1/feeds/en/items/{first.json()['id']}"), 404)
        problem(client.post("/api/v1/feeds/en/items", json={"text": "early"}, headers=key), 409)
        events = client.get("/api/v1/feeds/en/items").json()
        assert [i["text"] for i in events["items"]] == ["n1"]  # nothing new was published
