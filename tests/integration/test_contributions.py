"""Contributors and the approval queue (issue 13), on both engines through a real server.

A contributor's publish is ``202 submitted`` and invisible everywhere public (WebSocket, SSE,
Atom, JSON Feed, the latest list, anonymous reads) until an editor approves it; then it appears
once, as an ordinary ``item``. A rejected one never appears. The desk's private stream carries
the whole story and is closed to anyone without a token for the feed.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.integration.sseclient import SseEvent, SseReader, open_sse
from tests.integration.wsclient import connect, recv_events, subscribe
from tests.servers import Server, running, token

EDITOR, STRINGER, OTHER = token("erin", "editor"), token("carla", "contributor", "en"), token(
    "omar", "contributor", "en")


def auth(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


@contextlib.asynccontextmanager
async def desk_stream(base_url: str, value: str, feed: str = "en") -> AsyncIterator[SseReader]:
    async with httpx.AsyncClient(base_url=base_url, timeout=httpx.Timeout(10, read=30)) as client:
        async with client.stream("GET", f"/api/v1/feeds/{feed}/desk/events",
                                 headers=auth(value)) as response:
            assert response.status_code == 200, await response.aread()
            assert response.headers["content-type"].startswith("text/event-stream")
            yield SseReader(response.aiter_lines())


async def next_of(reader: SseReader, name: str) -> SseEvent:
    """The next event called ``name`` (readers counts and the like in between are skipped)."""
    for _ in range(50):
        event = await reader.next()
        if event.event == name:
            return event
    raise AssertionError(f"no {name} event")


async def submit(client: httpx.AsyncClient, text: str, value: str = STRINGER,
                 **extra: Any) -> dict[str, Any]:
    response = await client.post("/api/v1/feeds/en/items", json={"text": text, **extra},
                                 headers=auth(value))
    assert response.status_code == 202, response.text
    item: dict[str, Any] = response.json()
    assert item["status"] == "submitted", item
    return item


async def public_texts(client: httpx.AsyncClient) -> str:
    """Everything a member of the public can read about feed en, as one string."""
    parts = [(await client.get("/api/v1/feeds/en/items")).text,
             (await client.get("/feeds/en.atom")).text,
             (await client.get("/feeds/en.json")).text]
    return "\n".join(parts)


async def test_a_submission_is_invisible_until_approved_then_appears_once(
        server: Server) -> None:
    secret = f"stringer line {uuid.uuid4().hex[:8]}"
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client, \
            await connect(server.ws_url) as ws, open_sse(server.url) as sse, \
            desk_stream(server.url, EDITOR) as desk:
        await subscribe(ws)
        assert (await next_of(sse, "snapshot")).data["items"] == []
        assert (await next_of(desk, "queue")).data == {"feed": "en", "items": []}
        item = await submit(client, secret, note="call the mayor's office")
        assert item["note"] == "call the mayor's office"
        notice = await next_of(desk, "desk")
        assert (notice.data["action"], notice.data["by"], notice.data["id"]) == (
            "submitted", "carla", item["id"])
        assert notice.data["item"]["note"] == "call the mayor's office"
        # nothing public: anonymous read, latest list, feeds
        assert (await client.get(f"/api/v1/feeds/en/items/{item['id']}")).status_code == 404
        assert secret not in await public_texts(client)
        # a marker published after it is the first thing readers see: the submission never came
        marker = (await client.post("/api/v1/feeds/en/items", json={"text": "marker"},
                                    headers=auth(EDITOR))).json()
        assert [e["item"]["id"] for e in await recv_events(ws, 1)] == [marker["id"]]
        assert [e.data["item"]["id"] for e in await sse.events(1)] == [marker["id"]]
        queue = (await client.get("/api/v1/feeds/en/queue", headers=auth(OTHER))).json()
        assert [(i["id"], i["note"]) for i in queue["items"]] == [
            (item["id"], "call the mayor's office")]
        # approval: live once, as an item, authored by the contributor
        approved = await client.post(f"/api/v1/feeds/en/items/{item['id']}/approve",
                                     headers=auth(EDITOR))
        assert approved.status_code == 200, approved.text
        assert (approved.json()["status"], approved.json()["author"]) == ("usable", "carla")
        (live,) = await recv_events(ws, 1)
        assert live["type"] == "item" and live["item"]["id"] == item["id"]
        assert "note" not in live["item"]
        (on_sse,) = await sse.events(1)
        assert on_sse.event == "item" and on_sse.data["item"]["id"] == item["id"]
        assert (await next_of(desk, "desk")).data["action"] == "published"  # the marker
        assert (await next_of(desk, "desk")).data["action"] == "approved"
        public = await client.get(f"/api/v1/feeds/en/items/{item['id']}")
        assert public.status_code == 200 and "note" not in public.json()
        assert secret in await public_texts(client)
        again = await client.post("/api/v1/feeds/en/items/{}/approve".format(item["id"]),
                                  headers=auth(EDITOR))
        assert again.status_code == 409
        end = (await client.post("/api/v1/feeds/en/items", json={"text": "end marker"},
                                 headers=auth(EDITOR))).json()
        assert [e["item"]["id"] for e in await recv_events(ws, 1)] == [end["id"]]  # once
        assert (await client.get("/api/v1/feeds/en/queue", headers=auth(EDITOR))).json() == {
            "items": []}
        history = (await client.get(f"/api/v1/feeds/en/items/{item['id']}/history",
                                    headers=auth(STRINGER))).json()
        assert history["id"] == item["id"]
        assert [(h["action"], h["by"], h["version"]) for h in history["history"]] == [
            ("submitted", "carla", 1), ("approved", "erin", 1)]


async def test_a_rejected_submission_never_appears(server: Server) -> None:
    secret = f"doubtful {uuid.uuid4().hex[:8]}"
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client, \
            await connect(server.ws_url) as ws, desk_stream(server.url, EDITOR) as desk:
        await subscribe(ws)
        item = await submit(client, secret)
        rejected = await client.post(f"/api/v1/feeds/en/items/{item['id']}/reject",
                                     headers=auth(EDITOR))
        assert rejected.status_code == 200 and rejected.json()["status"] == "canceled"
        assert [(await next_of(desk, "desk")).data["action"] for _ in range(2)] == [
            "submitted", "rejected"]
        marker = (await client.post("/api/v1/feeds/en/items", json={"text": "marker"},
                                    headers=auth(EDITOR))).json()
        assert [e["item"]["id"] for e in await recv_events(ws, 1)] == [marker["id"]]
        assert secret not in await public_texts(client)
        anonymous = await client.get(f"/api/v1/feeds/en/items/{item['id']}")
        assert anonymous.status_code == 200 and "text" not in anonymous.json()  # a tombstone
        assert (await client.post(f"/api/v1/feeds/en/items/{item['id']}/approve",
                                  headers=auth(EDITOR))).status_code == 409
        assert secret not in await public_texts(client)


async def test_a_contributor_may_only_touch_its_own_items_while_they_wait(
        server: Server) -> None:
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        mine = await submit(client, "first draft")
        path = f"/api/v1/feeds/en/items/{mine['id']}"
        fixed = await client.patch(path, json={"text": "second draft"}, headers=auth(STRINGER))
        assert fixed.status_code == 200 and fixed.json()["text"] == "second draft"
        assert fixed.json()["status"] == "submitted" and fixed.json()["version"] == 2
        # another contributor: 403 for every change; an editor's powers: 403
        for method, url, body in (("PATCH", path, {"text": "x"}), ("DELETE", path, None)):
            response = await client.request(method, url, json=body, headers=auth(OTHER))
            assert response.status_code == 403, (method, response.text)
        for action in ("approve", "reject"):
            assert (await client.post(f"{path}/{action}",
                                      headers=auth(STRINGER))).status_code == 403
        live = (await client.post("/api/v1/feeds/en/items", json={"text": "staff line"},
                                  headers=auth(EDITOR))).json()
        live_path = f"/api/v1/feeds/en/items/{live['id']}"
        for method, url, body in (("POST", f"{live_path}/hold", None),
                                  ("PUT", "/api/v1/feeds/en/pin", {"id": live["id"]}),
                                  ("DELETE", "/api/v1/feeds/en/pin", None),
                                  ("PATCH", live_path, {"text": "x"}),
                                  ("DELETE", live_path, None)):
            response = await client.request(method, url, json=body, headers=auth(STRINGER))
            assert response.status_code == 403, (method, url, response.text)
        # approved: no longer the contributor's to change
        assert (await client.post(f"{path}/approve", headers=auth(EDITOR))).status_code == 200
        late = await client.patch(path, json={"text": "third draft"}, headers=auth(STRINGER))
        assert late.status_code == 403
        assert (await client.delete(path, headers=auth(STRINGER))).status_code == 403
        # a withdrawal while waiting
        other = await submit(client, "to withdraw")
        gone = await client.delete(f"/api/v1/feeds/en/items/{other['id']}",
                                   headers=auth(STRINGER))
        assert gone.status_code == 200 and gone.json()["status"] == "canceled"
        history = (await client.get(f"{path}/history", headers=auth(EDITOR))).json()["history"]
        assert [(h["action"], h["by"], h["version"]) for h in history] == [
            ("submitted", "carla", 1), ("corrected", "carla", 2), ("approved", "erin", 2)]
        withdrawn = (await client.get(f"/api/v1/feeds/en/items/{other['id']}/history",
                                      headers=auth(EDITOR))).json()["history"]
        assert [h["action"] for h in withdrawn] == ["submitted", "retracted"]


async def test_history_of_every_action_in_order(server: Server) -> None:
    correspondent = token("amal", "correspondent")
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        item = (await client.post("/api/v1/feeds/en/items", json={"text": "quake"},
                                  headers=auth(correspondent))).json()
        path = f"/api/v1/feeds/en/items/{item['id']}"
        steps = [("PATCH", path, {"text": "quake, 6.1"}, correspondent),
                 ("PUT", "/api/v1/feeds/en/pin", {"id": item["id"]}, EDITOR),
                 ("DELETE", "/api/v1/feeds/en/pin", None, EDITOR),
                 ("POST", f"{path}/hold", None, EDITOR),
                 ("POST", f"{path}/release", None, EDITOR),
                 ("DELETE", path, None, EDITOR)]
        for method, url, body, value in steps:
            response = await client.request(method, url, json=body, headers=auth(value))
            assert response.status_code == 200, (method, url, response.text)
        history = await client.get(f"{path}/history", headers=auth(EDITOR))
        assert [(h["action"], h["by"], h["version"]) for h in history.json()["history"]] == [
            ("published", "amal", 1), ("corrected", "amal", 2), ("pinned", "erin", 2),
            ("unpinned", "erin", 2), ("held", "erin", 2), ("released", "erin", 2),
            ("retracted", "erin", 2)]
        ats = [h["at"] for h in history.json()["history"]]
        assert ats == sorted(ats)
        assert (await client.get(f"{path}/history")).status_code == 401
        assert (await client.get("/api/v1/feeds/en/items/nope/history",
                                 headers=auth(EDITOR))).status_code == 404
        assert (await client.get(f"/api/v1/feeds/ar/items/{item['id']}/history",
                                 headers=auth(STRINGER))).status_code == 403


async def test_the_desk_stream_is_private(server: Server) -> None:
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        url = "/api/v1/feeds/en/desk/events"
        assert (await client.get(url)).status_code == 401
        assert (await client.get(url, headers=auth("not.a.token"))).status_code == 401
        arabic_only = token("rana", "editor", "ar")
        assert (await client.get(url, headers=auth(arabic_only))).status_code == 403
        assert (await client.get("/api/v1/feeds/en/queue")).status_code == 401
        assert (await client.get("/api/v1/feeds/en/queue",
                                 headers=auth(arabic_only))).status_code == 403
        # a revoked token's open stream ends
        doomed = token("dora", "editor", "en")
        async with desk_stream(server.url, doomed) as desk:
            await next_of(desk, "queue")
            revoked = await client.post("/api/v1/tokens/revoke", json={"token": doomed},
                                        headers=auth(EDITOR))
            assert revoked.status_code == 200
            end = await next_of(desk, "end")
            assert "revoked" in end.data["reason"]


async def test_scheduled_approval_and_the_desk_sees_it(server: Server) -> None:
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client, \
            desk_stream(server.url, EDITOR) as desk:
        await next_of(desk, "queue")
        item = await submit(client, "verdict at noon", embargoed_until="2099-01-01T12:00:00Z")
        approved = await client.post(f"/api/v1/feeds/en/items/{item['id']}/approve",
                                     headers=auth(EDITOR))
        assert approved.status_code == 200 and approved.json()["status"] == "scheduled"
        actions = [(await next_of(desk, "desk")).data for _ in range(2)]
        assert [(a["action"], a["item"]["status"]) for a in actions] == [
            ("submitted", "submitted"), ("approved", "scheduled")]
        queue = (await client.get("/api/v1/feeds/en/queue", headers=auth(EDITOR))).json()
        assert [(i["id"], i["status"]) for i in queue["items"]] == [(item["id"], "scheduled")]
        assert (await client.get(f"/api/v1/feeds/en/items/{item['id']}")).status_code == 404


@pytest.mark.parametrize("broker", ["memory", "redis"])
async def test_idempotency_and_rate_limits_apply_to_submissions(broker: str) -> None:
    with running(broker, TICKER_PUBLISH_RATE="2/minute") as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
            headers = {**auth(STRINGER), "Idempotency-Key": "k-1"}
            first = await client.post("/api/v1/feeds/en/items", json={"text": "one"},
                                      headers=headers)
            again = await client.post("/api/v1/feeds/en/items", json={"text": "one"},
                                      headers=headers)
            assert (first.status_code, again.status_code) == (202, 200)
            assert first.json()["id"] == again.json()["id"]
            other = await client.post("/api/v1/feeds/en/items", json={"text": "two"},
                                      headers={**headers, "Idempotency-Key": "k-1"})
            assert other.status_code == 422
            assert (await client.post("/api/v1/feeds/en/items", json={"text": "three"},
                                      headers=auth(STRINGER))).status_code == 202
            limited = await client.post("/api/v1/feeds/en/items", json={"text": "four"},
                                        headers=auth(STRINGER))
            assert limited.status_code == 429 and "Retry-After" in limited.headers
            queue = (await client.get("/api/v1/feeds/en/queue", headers=auth(EDITOR))).json()
            assert [i["text"] for i in queue["items"]] == ["one", "three"]  # oldest first
