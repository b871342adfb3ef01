"""Scheduled transitions across processes on one Redis: once, at their time, after restarts.

Two nodes and a ``--workers 2`` server share one Redis: four scheduler loops race for every
due entry, and exactly one ``item`` event (embargo) and one ``retract`` event (expiry) reach the
log. An embargo whose time passes while the only node is stopped goes live at the next start.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.integration.test_workers import wait_for_workers
from tests.integration.wsclient import connect, recv, subscribe
from tests.servers import REDIS_URL, Server, delete_prefix, free_port, server_env, token

WAIT = 30.0  # upper bound on any wait here; never an expected duration


def at(seconds: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()


def ms(timestamp: str) -> float:
    return datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp() * 1000


@pytest.fixture
def prefix() -> Iterator[str]:
    name = f"test:{uuid.uuid4().hex[:12]}:"
    yield name
    delete_prefix(REDIS_URL, name)


def desk(server: Server) -> httpx.Client:
    return httpx.Client(base_url=server.url, timeout=10,
                        headers={"Authorization": f"Bearer {token()}"})


def log_events(server: Server) -> list[dict[str, Any]]:
    """Every event in the ``en`` log."""
    with httpx.Client(base_url=server.url, timeout=10) as client:
        epoch = client.get("/api/v1/feeds/en/items").json()["cursor"].split(":")[0]
        events: list[dict[str, Any]] = client.get(
            "/api/v1/feeds/en/items", params={"since": f"{epoch}:0"}).json()["events"]
        return events


async def next_of(ws: Any, kind: str) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT
    while loop.time() < deadline:
        frame = await recv(ws, max(0.1, deadline - loop.time()))
        if frame["type"] == kind:
            return frame
    raise AssertionError(f"no {kind} event within {WAIT} s")


async def test_two_nodes_and_two_workers_fire_each_transition_once(prefix: str) -> None:
    env = server_env("redis", prefix=prefix)
    one, two = Server(free_port(), env).start(), Server(free_port(), env).start()
    workers = Server(free_port(), env, log_level="info", args=["--workers", "2"])
    try:
        workers.start()
        wait_for_workers(workers)
        with desk(one) as client:
            response = client.post("/api/v1/feeds/en/items", json={
                "text": "verdict at its minute", "embargoed_until": at(2.0),
                "expires": at(3.5)})
            assert response.status_code == 202, response.text
            scheduled = response.json()
        async with await connect(two.ws_url) as on_two, await connect(workers.ws_url) as on_w:
            await subscribe(on_two)
            await subscribe(on_w)
            went = [await next_of(ws, "item") for ws in (on_two, on_w)]
            gone = [await next_of(ws, "retract") for ws in (on_two, on_w)]
        assert {e["item"]["id"] for e in went} == {scheduled["id"]}
        assert went[0] == went[1] and gone[0] == gone[1]
        assert ms(went[0]["item"]["published_at"]) >= ms(scheduled["embargoed_until"])
        assert (gone[0]["id"], gone[0]["reason"]) == (scheduled["id"], "expired")
        await asyncio.sleep(1.0)  # two more rounds of every scheduler: a duplicate would show
        with desk(one) as client:
            assert client.post("/api/v1/feeds/en/items",
                               json={"text": "marker"}).status_code == 201
        events = log_events(two)
        assert [e["type"] for e in events] == ["item", "retract", "item"]
        lateness = ms(went[0]["item"]["published_at"]) - ms(scheduled["embargoed_until"])
        print(f"embargo went live {lateness:.0f} ms after its time")  # for the report
    finally:
        workers.stop()
        one.stop()
        two.stop()


def test_an_embargo_that_passed_while_the_node_was_down_goes_live_at_start(
        prefix: str) -> None:
    env = server_env("redis", prefix=prefix)
    node = Server(free_port(), env).start()
    try:
        with desk(node) as client:
            response = client.post("/api/v1/feeds/en/items", json={
                "text": "written in advance", "embargoed_until": at(1.5)})
            assert response.status_code == 202, response.text
            scheduled = response.json()
        node.stop()
        time.sleep(2.5)  # the embargo passes while no node runs
        with desk(node.start()) as client:
            deadline = time.monotonic() + WAIT
            while time.monotonic() < deadline:
                read = client.get(f"/api/v1/feeds/en/items/{scheduled['id']}").json()
                if read["status"] == "usable":
                    break
                time.sleep(0.05)
            assert read["status"] == "usable"
        assert ms(read["published_at"]) > ms(scheduled["embargoed_until"])
        events = log_events(node)
        assert [(e["type"], e["item"]["id"]) for e in events] == [("item", scheduled["id"])]
    finally:
        node.stop()
