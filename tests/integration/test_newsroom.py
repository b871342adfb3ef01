"""Corrections, retractions, roles, retry-safe publishing, rate limits, SSE, metrics."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.sseclient import open_sse
from tests.integration.wsclient import Publisher, connect, publish_seen, recv_events, subscribe
from tests.servers import Server, running, token

PROBLEM = "application/problem+json"


def auth(sub: str = "alice", role: str = "editor", feeds: str = "en,ar,es") -> dict[str, str]:
    return {"Authorization": f"Bearer {token(sub, role, feeds)}"}


def problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    return body




async def log_of(client: httpx.AsyncClient, feed: str = "en") -> list[dict[str, Any]]:
    head = (await client.get(f"/api/v1/feeds/{feed}/items")).json()
    epoch = head["cursor"].split(":")[0]
    response = await client.get(f"/api/v1/feeds/{feed}/items", params={"since": f"{epoch}:0"})
    result: list[dict[str, Any]] = response.json()["events"]
    return result


async def test_correction_and_retraction_reach_websocket_and_sse_past_filters(
    server: Server,
) -> None:
    async with httpx.AsyncClient(base_url=server.url, headers=auth()) as client:
        item = (await client.post("/api/v1/feeds/en/items", json={
            "text": "Toll rises to 3", "category": "politics", "urgency": 2})).json()
        # readers of politics saw the item: they get its correction into sports and its
        # retraction although the corrected item no longer passes their filter
        politics_only = {"categories": ["politics"]}
        async with await connect(server.ws_url) as ws, \
                open_sse(server.url, categories="politics") as sse:
            await subscribe(ws, flt=politics_only)
            assert (await sse.next()).event == "subscribed"
            assert (await sse.next()).event == "snapshot"
            fixed = await client.patch(f"/api/v1/feeds/en/items/{item['id']}",
                                       json={"text": "Toll rises to 5", "source": "Civil Defence",
                                             "category": "sports"})
            assert fixed.status_code == 200, fixed.text
            corrected = fixed.json()
            assert corrected["version"] == 2 and corrected["text"] == "Toll rises to 5"
            assert corrected["updated_at"] > corrected["published_at"] or \
                corrected["updated_at"] >= item["updated_at"]
            assert corrected["id"] == item["id"] and corrected["published_at"] == \
                item["published_at"]
            gone = await client.delete(f"/api/v1/feeds/en/items/{item['id']}")
            assert gone.status_code == 200 and gone.json()["status"] == "canceled"
            ws_events = await recv_events(ws, 2)
            sse_events = await sse.events(2)
        assert [e["type"] for e in ws_events] == ["update", "retract"]
        assert ws_events[0]["item"] == corrected
        assert ws_events[1] == {"type": "retract", "cursor": ws_events[1]["cursor"],
                                "feed": "en", "id": item["id"], "reason": "retracted"}
        assert [(e.event, e.id) for e in sse_events] == [
            (e["type"], e["cursor"]) for e in ws_events]
        # the retracted item stays readable by id and leaves the latest list
        again = (await client.get(f"/api/v1/feeds/en/items/{item['id']}")).json()
        assert again["status"] == "canceled"
        latest = (await client.get("/api/v1/feeds/en/items")).json()["items"]
        assert item["id"] not in [i["id"] for i in latest]
        # a correction of a retracted item is a conflict
        problem(await client.patch(f"/api/v1/feeds/en/items/{item['id']}", json={"text": "x"}),
                409)
        problem(await client.delete(f"/api/v1/feeds/en/items/{item['id']}"), 409)


async def test_roles_authors_and_editors(server: Server) -> None:
    async with httpx.AsyncClient(base_url=server.url) as client:
        amal = auth("amal", "correspondent", "en")
        own = (await client.post("/api/v1/feeds/en/items", json={"text": "mine"},
                                 headers=amal)).json()
        other = (await client.post("/api/v1/feeds/en/items", json={"text": "bob's"},
                                   headers=auth("bob", "correspondent", "en"))).json()
        before = await log_of(client)
        problem(await client.patch(f"/api/v1/feeds/en/items/{other['id']}",
                                   json={"text": "hijack"}, headers=amal), 403)
        problem(await client.delete(f"/api/v1/feeds/en/items/{other['id']}", headers=amal), 403)
        problem(await client.post("/api/v1/feeds/ar/items", json={"text": "x"}, headers=amal),
                403)
        problem(await client.patch(f"/api/v1/feeds/en/items/{own['id']}", json={"text": "x"},
                                   headers=auth("eve", "editor", "ar")), 403)
        problem(await client.patch(f"/api/v1/feeds/en/items/{own['id']}", json={"text": "x"}),
                401)
        problem(await client.patch("/api/v1/feeds/en/items/nope", json={"text": "x"},
                                   headers=amal), 404)
        bad = problem(await client.patch(f"/api/v1/feeds/en/items/{own['id']}",
                                         json={"urgency": 0, "url": "data:x", "lang": "fr"},
                                         headers=amal), 422)
        assert sorted(e["path"] for e in bad["errors"]) == ["$.lang", "$.urgency", "$.url"]
        problem(await client.patch(f"/api/v1/feeds/en/items/{own['id']}", json={},
                                   headers=amal), 422)
        assert await log_of(client) == before
        ok = await client.patch(f"/api/v1/feeds/en/items/{own['id']}", json={"urgency": 1},
                                headers=amal)
        assert ok.status_code == 200 and ok.json()["version"] == 2
        editor = auth("ed", "editor", "en")
        ok = await client.delete(f"/api/v1/feeds/en/items/{own['id']}", headers=editor)
        assert ok.status_code == 200


async def test_idempotent_retry_after_a_lost_response(server: Server) -> None:
    async with httpx.AsyncClient(base_url=server.url, headers=auth()) as client:
        key = {"Idempotency-Key": "desk-42-first-try"}
        body = {"text": "Explosion reported near the port", "urgency": 1}
        first = await client.post("/api/v1/feeds/en/items", json=body, headers=key)
        assert first.status_code == 201
        # the response was "lost"; the desk retries with the same key
        retry = await client.post("/api/v1/feeds/en/items", json=body, headers=key)
        assert retry.status_code == 200 and retry.json() == first.json()
        assert retry.headers["location"] == first.headers["location"]
        changed = await client.post("/api/v1/feeds/en/items", json={**body, "urgency": 2},
                                    headers=key)
        assert [e["path"] for e in problem(changed, 422)["errors"]] == ["header.Idempotency-Key"]
        # another token may use the same key for its own item
        other = await client.post("/api/v1/feeds/en/items", json=body,
                                  headers={**key, **auth("bob")})
        assert other.status_code == 201 and other.json()["id"] != first.json()["id"]
        assert len(await log_of(client)) == 2


async def test_twenty_concurrent_requests_with_one_key_publish_once(server: Server) -> None:
    async with httpx.AsyncClient(base_url=server.url, headers=auth()) as client:
        key = {"Idempotency-Key": "storm-1"}

        async def post() -> httpx.Response:
            return await client.post("/api/v1/feeds/en/items", json={"text": "once"},
                                     headers=key)

        responses = await asyncio.gather(*(post() for _ in range(20)))
        assert sorted(r.status_code for r in responses) == [200] * 19 + [201]
        assert len({r.json()["id"] for r in responses}) == 1
        assert len(await log_of(client)) == 1


@pytest.mark.parametrize("broker", ["memory", "redis"])
async def test_rate_limit_is_429_with_retry_after(broker: str) -> None:
    with running(broker, TICKER_PUBLISH_RATE="5/minute") as server:
        async with httpx.AsyncClient(base_url=server.url, headers=auth()) as client:
            statuses = [(await client.post("/api/v1/feeds/en/items", json={"text": f"n{n}"},
                                           headers={"Idempotency-Key": f"k{n}"})).status_code
                        for n in range(5)]
            assert statuses == [201] * 5
            limited = await client.post("/api/v1/feeds/en/items", json={"text": "one more"})
            problem(limited, 429)
            assert 1 <= int(limited.headers["retry-after"]) <= 60
            # a retry of a publish that went through still gets its item, not a 429
            retry = await client.post("/api/v1/feeds/en/items", json={"text": "n0"},
                                      headers={"Idempotency-Key": "k0"})
            assert retry.status_code == 200 and retry.json()["text"] == "n0"
            reused = await client.post("/api/v1/feeds/en/items", json={"text": "other"},
                                       headers={"Idempotency-Key": "k0"})
            problem(reused, 422)
            # another token has its own budget
            other = await client.post("/api/v1/feeds/en/items", json={"text": "bob"},
                                      headers=auth("bob"))
            assert other.status_code == 201
            assert len(await log_of(client)) == 6


async def test_sse_resumes_with_last_event_id_exactly(server: Server) -> None:
    pub = Publisher(server.url)
    await publish_seen(server.ws_url, pub, "first")
    async with open_sse(server.url) as sse:
        assert (await sse.next()).data == {"type": "subscribed", "feed": "en",
                                           "recovered": False}
        snapshot = await sse.next()
        assert snapshot.event == "snapshot" and snapshot.id == snapshot.data["cursor"]
        assert [i["text"] for i in snapshot.data["items"]] == ["first"]
        live = await pub.publish("second")
        (event,) = await sse.events(1)
        assert event.data["item"] == live and event.id == event.data["cursor"]
        last_id = event.id
        assert last_id is not None
    missed = [await pub.publish(f"missed {n}") for n in range(4)]
    async with open_sse(server.url, headers={"Last-Event-ID": last_id}) as sse:
        assert (await sse.next()).data["recovered"] is True
        got = await sse.events(4)
        assert [e.data["item"]["id"] for e in got] == [m["id"] for m in missed]
    async with open_sse(server.url, since=last_id) as sse:
        assert (await sse.next()).data["recovered"] is True
        assert len(await sse.events(4)) == 4
    async with open_sse(server.url, since="gone:1") as sse:
        assert (await sse.next()).data["recovered"] is False
        assert (await sse.next()).event == "snapshot"
    await pub.aclose()


@pytest.mark.parametrize("broker", ["memory"])
async def test_sse_bad_filter_and_feed(server: Server) -> None:
    async with httpx.AsyncClient(base_url=server.url) as client:
        bad = problem(await client.get("/api/v1/feeds/en/events",
                                       params={"regions": "mena,mars", "max_urgency": "x"}), 422)
        assert [e["path"] for e in bad["errors"]] == ["query.max_urgency"]
        bad = problem(await client.get("/api/v1/feeds/en/events",
                                       params={"regions": "mena,mars"}), 422)
        assert [e["path"] for e in bad["errors"]] == ["query.regions[1]"]
        problem(await client.get("/api/v1/feeds/xx/events"), 404)


async def test_metrics_move_after_a_publish(server: Server) -> None:
    def scrape() -> dict[str, float]:
        text = httpx.get(f"{server.url}/metrics").text
        values: dict[str, float] = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
                values[f"{sample.name}{{{labels}}}"] = sample.value
        return values

    pub = Publisher(server.url)
    async with await connect(server.ws_url) as ws:
        await subscribe(ws)
        before = scrape()
        await pub.publish("counted")
        await recv_events(ws, 1)
        await pub.client.post("/api/v1/feeds/en/items", json={"text": ""})
        after = scrape()
    assert after["ticker_events_published_total{feed=en,type=item}"] == \
        before.get("ticker_events_published_total{feed=en,type=item}", 0) + 1
    assert after["ticker_deliveries_total{}"] > before["ticker_deliveries_total{}"]
    assert after["ticker_socket_writes_total{}"] > before["ticker_socket_writes_total{}"]
    assert "ticker_log_reads_total{}" in after and "ticker_gap_events_filled_total{}" in after
    assert after["ticker_connections_open{transport=ws}"] >= 1
    assert after["ticker_requests_rejected_total{status=422}"] >= 1
    assert after["ticker_events_dispatched_total{feed=en}"] >= 1
    await pub.aclose()
