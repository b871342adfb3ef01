"""The editorial lifecycle over HTTP, WebSocket, SSE, Atom and JSON Feed, on both engines.

Hold and release seen in order live and on resume; a kill that leaves no readable text in any
public output; notes that never leak; tombstones and desk-only reads; pinning; an embargo and an
expiry firing by themselves; a killed scheduled item that never goes live; 409 for every
illegal transition.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.integration.sseclient import open_sse
from tests.integration.wsclient import connect, recv, recv_events, subscribe
from tests.servers import Server, token

WAIT = 15.0  # upper bound on any wait here; never an expected duration


def at(seconds: float) -> str:
    """An RFC 3339 time ``seconds`` from now."""
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()


def ms(timestamp: str) -> float:
    return datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp() * 1000


@pytest.fixture
async def desk(server: Server) -> Any:
    async with httpx.AsyncClient(base_url=server.url, timeout=10, headers={
            "Authorization": f"Bearer {token()}"}) as client:
        yield client


@pytest.fixture
async def anon(server: Server) -> Any:
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        yield client


async def post(desk: httpx.AsyncClient, path: str, status: int = 200, **kwargs: Any) -> Any:
    response = await desk.request(kwargs.pop("method", "POST"), path, **kwargs)
    assert response.status_code == status, response.text
    return response.json()


async def publish(desk: httpx.AsyncClient, text: str, status: int = 201, **fields: Any) -> Any:
    return await post(desk, "/api/v1/feeds/en/items", status, json={"text": text, **fields})


def item_path(item: dict[str, Any]) -> str:
    return f"/api/v1/feeds/en/items/{item['id']}"


async def public_outputs(server: Server, anon: httpx.AsyncClient) -> dict[str, str]:
    """Every public output a newly arriving reader sees, as text."""
    outputs: dict[str, str] = {}
    async with await connect(server.ws_url) as ws:
        outputs["ws snapshot"] = json.dumps(await subscribe(ws))
    async with open_sse(server.url) as sse:
        outputs["sse snapshot"] = json.dumps([(await sse.next()).data, (await sse.next()).data])
    outputs["atom"] = (await anon.get("/feeds/en.atom")).text
    outputs["json feed"] = (await anon.get("/feeds/en.json")).text
    outputs["latest list"] = (await anon.get("/api/v1/feeds/en/items")).text
    return outputs


async def test_hold_then_release_in_order_live_and_on_resume(
        server: Server, desk: httpx.AsyncClient) -> None:
    older = await publish(desk, "older line")
    item = await publish(desk, "doubtful flash")
    newer = await publish(desk, "newer line")
    async with await connect(server.ws_url) as live:
        [_, snapshot] = await subscribe(live)
        before = snapshot["cursor"]
        held = await post(desk, item_path(item) + "/hold")
        assert (held["status"], held["version"]) == ("withheld", 1)
        released = await post(desk, item_path(item) + "/release")
        assert (released["status"], released["version"]) == ("usable", 1)
        events = await recv_events(live, 2)
    assert [(e["type"], e.get("reason")) for e in events] == [("retract", "withheld"),
                                                              ("item", None)]
    assert events[0]["id"] == item["id"] and events[1]["item"]["id"] == item["id"]
    assert events[1]["item"]["published_at"] == item["published_at"]
    async with await connect(server.ws_url) as resumed:
        [subscribed] = await subscribe(resumed, since=before)
        assert subscribed["recovered"] is True
        assert await recv_events(resumed, 2) == events
    async with open_sse(server.url, headers={"Last-Event-ID": before}) as sse:
        assert (await sse.next()).data["recovered"] is True
        assert [e.data for e in await sse.events(2)] == events
    async with await connect(server.ws_url) as fresh:
        [_, snapshot] = await subscribe(fresh)
    ids = [i["id"] for i in snapshot["items"]]
    assert ids[-3:] == [older["id"], item["id"], newer["id"]]  # back in its place by time


async def test_a_kill_leaves_no_readable_text_in_any_public_output(
        server: Server, desk: httpx.AsyncClient, anon: httpx.AsyncClient) -> None:
    secret = f"killed-{uuid.uuid4().hex}"
    killed = await publish(desk, secret, source=f"src-{secret}", url=f"https://x.org/{secret}")
    await publish(desk, "a line that stays")
    await post(desk, "/api/v1/feeds/en/pin", method="PUT", json={"id": killed["id"]})
    assert secret in (await public_outputs(server, anon))["latest list"]
    async with await connect(server.ws_url) as live:
        await subscribe(live)
        gone = await post(desk, item_path(killed), method="DELETE")
        assert gone["status"] == "canceled"
        events = await recv_events(live, 2)
    assert [(e["type"], e.get("reason"), e.get("id")) for e in events] == [
        ("retract", "retracted", killed["id"]), ("pin", None, None)]
    outputs = await public_outputs(server, anon)
    read = await anon.get(item_path(killed))
    assert read.status_code == 200
    outputs["read by id"] = read.text
    assert set(read.json()) == {"id", "feed", "status", "version", "updated_at"}
    assert read.json()["status"] == "canceled"
    for name, text in outputs.items():
        assert secret not in text, f"the killed text is in the {name}"
    assert "a line that stays" in outputs["atom"]
    assert f'ticker/en/{killed["id"]}" when="{gone["updated_at"]}"' in outputs["atom"]


async def test_notes_never_leak_into_a_public_output(
        server: Server, desk: httpx.AsyncClient, anon: httpx.AsyncClient) -> None:
    note = f"note-{uuid.uuid4().hex}"
    async with await connect(server.ws_url) as live, open_sse(server.url) as sse:
        await subscribe(live)
        await sse.next()
        await sse.next()
        item = await publish(desk, "with a private note", note=note)
        assert item["note"] == note
        patched = await post(desk, item_path(item), method="PATCH",
                             json={"text": "corrected", "note": note + "-2"})
        assert patched["note"] == note + "-2" and patched["version"] == 2
        await post(desk, "/api/v1/feeds/en/pin", method="PUT", json={"id": item["id"]})
        frames = [json.dumps(e) for e in await recv_events(live, 3)]
        frames += [json.dumps(e.data) for e in await sse.events(3)]
    outputs = await public_outputs(server, anon)
    outputs["live frames"] = "\n".join(frames)
    outputs["anonymous read"] = (await anon.get(item_path(item))).text
    epoch = json.loads(outputs["latest list"])["cursor"].split(":")[0]
    outputs["events since"] = (await anon.get("/api/v1/feeds/en/items",
                                              params={"since": f"{epoch}:0"})).text
    other_feed = token(feeds="ar")
    outputs["read with another feed's token"] = (await anon.get(
        item_path(item), headers={"Authorization": f"Bearer {other_feed}"})).text
    assert "corrected" in outputs["anonymous read"]
    for name, text in outputs.items():
        assert note not in text and '"note"' not in text, f"the note is in the {name}"
    own = (await desk.get(item_path(item))).json()
    assert own["note"] == note + "-2" and own["pinned"] is True
    only_note = await post(desk, item_path(item), method="PATCH", json={"note": None})
    assert "note" not in only_note and only_note["version"] == 2  # a note alone is no correction


async def test_reads_by_id_tombstones_and_desk_only_items(
        server: Server, desk: httpx.AsyncClient, anon: httpx.AsyncClient) -> None:
    item = await publish(desk, "held for checking", source="A source")
    held = await post(desk, item_path(item) + "/hold")
    tomb = (await anon.get(item_path(item))).json()
    assert tomb == {k: held[k] for k in ("id", "feed", "status", "version", "updated_at")}
    assert (await desk.get(item_path(item))).json()["text"] == "held for checking"
    scheduled = await publish(desk, "verdict at noon", 202, embargoed_until=at(3600),
                              note="do not leak")
    assert scheduled["status"] == "scheduled"
    assert (await anon.get(item_path(scheduled))).status_code == 404
    read = await desk.get(item_path(scheduled))
    assert read.status_code == 200 and read.json()["status"] == "scheduled"
    latest = (await anon.get("/api/v1/feeds/en/items")).json()["items"]
    assert scheduled["id"] not in [i["id"] for i in latest]
    bad = await anon.get(item_path(item), headers={"Authorization": "Bearer nonsense"})
    assert bad.status_code == 401


async def test_illegal_transitions_are_409_and_roles_are_checked(
        server: Server, desk: httpx.AsyncClient) -> None:
    item = await publish(desk, "a usable item")
    path = item_path(item)
    assert (await desk.post(path + "/release")).status_code == 409
    assert (await desk.patch(path, json={"embargoed_until": at(60)})).status_code == 409
    await post(desk, path + "/hold")
    for method, suffix, body in (("POST", "/hold", None), ("PUT", "pin", {"id": item["id"]})):
        target = "/api/v1/feeds/en/pin" if suffix == "pin" else path + suffix
        response = await desk.request(method, target, json=body)
        assert response.status_code == 409, response.text
        assert response.headers["content-type"] == "application/problem+json"
    await post(desk, path, method="DELETE")
    for method, target in (("POST", path + "/release"), ("POST", path + "/hold"),
                           ("DELETE", path), ("PATCH", path)):
        response = await desk.request(method, target, json={"text": "x"} if method == "PATCH"
                                      else None)
        assert response.status_code == 409, (method, target, response.text)
    reporter = {"Authorization": f"Bearer {token('bob', 'correspondent')}"}
    own = (await desk.post("/api/v1/feeds/en/items", json={"text": "bob's"},
                           headers=reporter)).json()
    for method, target, body in (("POST", item_path(own) + "/hold", None),
                                 ("PUT", "/api/v1/feeds/en/pin", {"id": own["id"]}),
                                 ("DELETE", "/api/v1/feeds/en/pin", None)):
        response = await desk.request(method, target, json=body, headers=reporter)
        assert response.status_code == 403, response.text
    bad = await desk.post("/api/v1/feeds/en/items", json={
        "text": "x", "expires": "yesterday", "embargoed_until": "2026-01-01",
        "note": "n" * 501})
    assert bad.status_code == 422
    assert [e["path"] for e in bad.json()["errors"]] == ["$.embargoed_until", "$.expires",
                                                         "$.note"]
    past = await desk.post("/api/v1/feeds/en/items", json={"text": "x", "expires": at(-5)})
    assert past.status_code == 422 and past.json()["errors"][0]["path"] == "$.expires"


async def test_pin_and_unpin_reach_every_reader(
        server: Server, desk: httpx.AsyncClient, anon: httpx.AsyncClient) -> None:
    item = await publish(desk, "what we know so far", category="politics")
    async with await connect(server.ws_url) as live, await connect(server.ws_url) as sports:
        [_, snapshot] = await subscribe(live)
        if item["id"] not in [shown["id"] for shown in snapshot["items"]]:
            # the 201 came before the node heard the item from its broker (Redis pub/sub is
            # asynchronous): the snapshot is of the feed before it, and the item follows live
            [late] = await recv_events(live, 1)
            assert (late["type"], late["id"]) == ("item", item["id"])
        await subscribe(sports, flt={"categories": ["sports"]})
        state = await post(desk, "/api/v1/feeds/en/pin", method="PUT", json={"id": item["id"]})
        assert state["pinned"]["id"] == item["id"] and state["pinned"]["pinned"] is True
        [event] = await recv_events(live, 1)
        assert (event["type"], event["id"], event["item"]["text"]) == (
            "pin", item["id"], "what we know so far")
        assert await recv_events(sports, 1) == [event]  # the desk's pin is for every reader
        async with await connect(server.ws_url) as fresh:
            [_, snapshot] = await subscribe(fresh)
            assert snapshot["pinned"]["id"] == item["id"]
        async with open_sse(server.url) as sse:
            await sse.next()
            assert (await sse.next()).data["pinned"]["id"] == item["id"]
        assert (await anon.get("/api/v1/feeds/en/items")).json()["pinned"]["id"] == item["id"]
        corrected = await post(desk, item_path(item), method="PATCH", json={"text": "update 2"})
        assert corrected["pinned"] is True
        [update] = await recv_events(live, 1)
        async with await connect(server.ws_url) as fresh:
            [_, snapshot] = await subscribe(fresh)
            assert snapshot["pinned"]["text"] == "update 2" and update["type"] == "update"
        assert (await post(desk, "/api/v1/feeds/en/pin", method="DELETE")) == {
            "feed": "en", "pinned": None}
        [event] = await recv_events(live, 1)
        assert (event["type"], event["id"]) == ("pin", None)
    async with await connect(server.ws_url) as fresh:
        [_, snapshot] = await subscribe(fresh)
        assert snapshot["pinned"] is None


async def wait_for_event(ws: Any, kind: str) -> dict[str, Any]:
    """The next event of type ``kind`` (others skipped), within ``WAIT``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT
    while loop.time() < deadline:
        frame = await recv(ws, max(0.1, deadline - loop.time()))
        if frame["type"] == kind:
            return frame
    raise AssertionError(f"no {kind} event within {WAIT} s")


async def test_an_embargo_goes_live_once_at_its_time_and_an_expiry_leaves(
        server: Server, desk: httpx.AsyncClient, anon: httpx.AsyncClient) -> None:
    async with await connect(server.ws_url) as live:
        await subscribe(live)
        scheduled = await publish(desk, "the verdict", 202, embargoed_until=at(1.5),
                                  expires=at(3.0))
        killed = await publish(desk, "never to be seen", 202, embargoed_until=at(1.0))
        await post(desk, item_path(killed), method="DELETE")
        went = await wait_for_event(live, "item")
        assert went["item"]["id"] == scheduled["id"] and went["item"]["status"] == "usable"
        assert scheduled["embargoed_until"] == went["item"]["embargoed_until"]
        assert ms(went["item"]["published_at"]) >= ms(scheduled["embargoed_until"])  # not early
        gone = await wait_for_event(live, "retract")
        assert (gone["id"], gone["reason"]) == (scheduled["id"], "expired")
        marker = await publish(desk, "marker")
        rest = await recv_events(live, 1)
        assert rest[0]["item"]["id"] == marker["id"]  # nothing else came in between
    read = (await anon.get(item_path(scheduled))).json()
    assert read["status"] == "usable" and read["text"] == "the verdict"  # readable by id
    latest = [i["id"] for i in (await anon.get("/api/v1/feeds/en/items")).json()["items"]]
    assert scheduled["id"] not in latest and killed["id"] not in latest
    assert (await anon.get(item_path(killed))).json()["status"] == "canceled"
    epoch = (await anon.get("/api/v1/feeds/en/items")).json()["cursor"].split(":")[0]
    events = (await anon.get("/api/v1/feeds/en/items", params={"since": f"{epoch}:0"})).json()
    item_events = [e for e in events["events"] if e["type"] == "item"]
    assert [e["item"]["id"] for e in item_events].count(scheduled["id"]) == 1
    assert killed["id"] not in json.dumps(item_events)
