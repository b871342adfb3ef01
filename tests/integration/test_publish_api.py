"""The HTTP API: publishing, reading, and every bad input the contract names.

After all the bad requests, the feed's log holds exactly what it held before.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.servers import RedisServer, Server, free_port, running, token

PROBLEM = "application/problem+json"


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    assert body["status"] == status and body["type"] and body["title"]
    return body


def paths(body: dict[str, Any]) -> list[str]:
    return [e["path"] for e in body["errors"]]


@pytest.fixture
def client(server: Server) -> httpx.Client:
    return httpx.Client(base_url=server.url, timeout=10,
                        headers={"Authorization": f"Bearer {token()}"})


def log_of(client: httpx.Client, feed: str = "en") -> Any:
    response = client.get(f"/api/v1/feeds/{feed}/items", params={"since": cursor0(client, feed)})
    assert response.status_code == 200
    return response.json()["events"]


def cursor0(client: httpx.Client, feed: str) -> str:
    epoch = client.get(f"/api/v1/feeds/{feed}/items").json()["cursor"].split(":")[0]
    return f"{epoch}:0"


def test_publish_returns_201_with_location_and_the_item(client: httpx.Client) -> None:
    response = client.post("/api/v1/feeds/ar/items", json={
        "text": "  وزارة الصحة اللبنانية: استشهاد شخص  ", "source": "Al Mayadeen",
        "urgency": 2, "category": "health", "regions": ["mena", "mena"],
        "url": "https://example.com/story",
    })
    assert response.status_code == 201, response.text
    item = response.json()
    assert response.headers["location"] == f"/api/v1/feeds/ar/items/{item['id']}"
    assert item["text"] == "وزارة الصحة اللبنانية: استشهاد شخص"
    assert item["lang"] == "ar" and item["author"] == "alice" and item["version"] == 1
    assert item["status"] == "usable" and item["regions"] == ["mena"]
    assert item["published_at"] == item["updated_at"] and item["published_at"].endswith("Z")
    assert client.get(response.headers["location"]).json() == item


def test_text_is_nfc_normalised(client: httpx.Client) -> None:
    decomposed = "Cafe\u0301 bombing"  # e + combining acute
    item = client.post("/api/v1/feeds/en/items", json={"text": decomposed}).json()
    assert item["text"] == "Caf\u00e9 bombing"


def test_latest_items_newest_last_and_events_since(client: httpx.Client) -> None:
    ids = [client.post("/api/v1/feeds/es/items", json={"text": f"Noticia {n}"}).json()["id"]
           for n in range(4)]
    latest = client.get("/api/v1/feeds/es/items", params={"limit": 3}).json()
    assert [i["id"] for i in latest["items"]] == ids[1:]
    events = client.get("/api/v1/feeds/es/items", params={"since": cursor0(client, "es")}).json()
    assert events["recovered"] is True
    assert [e["item"]["id"] for e in events["events"]] == ids
    assert events["cursor"] == latest["cursor"]


def test_feeds_listing(client: httpx.Client) -> None:
    feeds = client.get("/api/v1/feeds").json()
    assert [(f["id"], f["lang"], f["direction"]) for f in feeds] == [
        ("en", "en", "ltr"), ("ar", "ar", "rtl"), ("es", "es", "ltr")]
    assert "mena" in feeds[0]["regions"] and "politics" in feeds[0]["categories"]


def test_every_bad_input_is_refused_and_nothing_is_half_done(server: Server,
                                                              client: httpx.Client) -> None:
    client.post("/api/v1/feeds/en/items", json={"text": "the only item"})
    before = log_of(client)
    url = "/api/v1/feeds/en/items"
    anon = httpx.Client(base_url=server.url, timeout=10)

    problem(client.post(url, content=b"{oops", headers={"content-type": "application/json"}),
            400)
    problem(anon.post(url, json={"text": "x"}), 401)
    problem(anon.post(url, json={"text": "x"}, headers={"Authorization": "Bearer nope"}), 401)
    problem(anon.post(url, json={"text": "x"},
                      headers={"Authorization": f"Bearer {token(ttl='1s')}x"}), 401)
    problem(anon.post(url, json={"text": "x"},
                      headers={"Authorization": f"Bearer {token(feeds='ar')}"}), 403)
    problem(client.post("/api/v1/feeds/xx/items", json={"text": "x"}), 404)
    problem(client.get("/api/v1/feeds/en/items/doesnotexist"), 404)
    problem(client.get("/api/v1/nothing-here"), 404)
    problem(client.post(url, content=b'{"text": "' + b"x" * 17000 + b'"}',
                        headers={"content-type": "application/json"}), 413)
    problem(client.post(url, content=b"text=x",
                        headers={"content-type": "application/x-www-form-urlencoded"}), 415)

    body = problem(client.post(url, json={
        "text": "   ", "source": "s" * 121, "urgency": 0, "category": "gossip",
        "regions": ["mena", "mars", 7], "url": "javascript:alert(1)", "lang": "not a tag",
        "colour": "red",
    }), 422)
    assert sorted(paths(body)) == sorted([
        "$.text", "$.source", "$.urgency", "$.category", "$.regions[1]", "$.regions[2]",
        "$.url", "$.lang", "$.colour"])
    for message in (e["message"] for e in body["errors"]):
        assert message

    cases: list[tuple[dict[str, Any], str]] = [
        ({}, "$.text"),
        ({"text": "x" * 401}, "$.text"),
        ({"text": "line\nbreak"}, "$.text"),
        ({"text": "bidi \u202e override"}, "$.text"),
        ({"text": "zero\u200bwidth"}, "$.text"),
        ({"text": 42}, "$.text"),
        ({"text": "ok", "urgency": 10}, "$.urgency"),
        ({"text": "ok", "urgency": "1"}, "$.urgency"),
        ({"text": "ok", "regions": ["europe"] * 9}, "$.regions"),
        ({"text": "ok", "regions": "europe"}, "$.regions"),
        ({"text": "ok", "url": "ftp://example.com/x"}, "$.url"),
        ({"text": "ok", "url": "https://"}, "$.url"),
        ({"text": "ok", "url": "https://example.com/" + "a" * 2048}, "$.url"),
    ]
    for payload, path in cases:
        assert paths(problem(client.post(url, json=payload), 422)) == [path], payload
    assert paths(problem(client.post(url, json=["text"]), 422)) == ["$"]
    assert log_of(client) == before


def test_arabic_with_joiners_and_marks_is_accepted(client: httpx.Client) -> None:
    text = "عاجل\u200c: \u200fمصدر\u200d"
    response = client.post("/api/v1/feeds/ar/items", json={"text": text})
    assert response.status_code == 201, response.text


def test_health_and_readiness(server: Server) -> None:
    assert httpx.get(f"{server.url}/healthz").json() == {"status": "ok"}
    assert httpx.get(f"{server.url}/readyz").status_code == 200


@pytest.mark.parametrize("broker", ["redis"])
def test_publish_with_redis_down_is_503_and_leaves_nothing(tmp_path: Any, broker: str) -> None:
    redis_server = RedisServer(free_port(), tmp_path / "redis").start()
    try:
        with running("redis", REDIS_URL=redis_server.url) as server:
            client = httpx.Client(base_url=server.url, timeout=10,
                                  headers={"Authorization": f"Bearer {token()}"})
            client.post("/api/v1/feeds/en/items", json={"text": "before the outage"})
            before = log_of(client)
            redis_server.stop()
            response = client.post("/api/v1/feeds/en/items", json={"text": "during"})
            problem(response, 503)
            assert int(response.headers["retry-after"]) >= 1
            problem(client.get(f"{server.url}/readyz"), 503)
            redis_server.start()
            # Redis came back empty: the log restarted, and with it the epoch
            after = log_of(client)
            assert after == [] and before
    finally:
        redis_server.stop()
