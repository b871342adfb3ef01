"""``/api/v1/asyncapi.json``: valid for the AsyncAPI project's own parser, and true to the wire.

Every frame the WebSocket and SSE test clients receive (``tests/integration/wsclient.py``,
``sseclient.py``, ``tests/frames.py``, the fault harness) is checked against its message schema
by ``tests.frame_schemas``; the session below makes sure each message type is seen.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests import frame_schemas
from tests.checkers import TOOLS, tool
from tests.frame_schemas import check_server_frame
from tests.integration.sseclient import open_sse
from tests.integration.wsclient import Publisher, connect, recv, recv_events, subscribe
from tests.servers import Server
from ticker.web.asyncapi import document

CHECKER = Path(__file__).resolve().parents[1] / "js" / "check-asyncapi.mjs"


def served(server: Server) -> dict[str, Any]:
    response = httpx.get(f"{server.url}/api/v1/asyncapi.json", timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    doc: dict[str, Any] = response.json()
    return doc


def test_the_document_passes_the_asyncapi_parser(server: Server, tmp_path: Path) -> None:
    doc = served(server)
    assert doc["asyncapi"] == "3.0.0"
    assert doc == json.loads(json.dumps(document(f"{server.url}/")))  # one generator
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is missing: apt-get install nodejs (scripts/test.sh does)")
    tool(TOOLS / "@asyncapi" / "parser")
    path = tmp_path / "asyncapi.json"
    path.write_text(json.dumps(doc))
    done = subprocess.run([node, str(CHECKER), str(path)], capture_output=True, text=True,
                          timeout=120, check=False)
    report = json.loads(done.stdout)
    serious = [d for d in report["diagnostics"] if d["severity"] in ("error", "warning")]
    assert done.returncode == 0 and report["parsed"], report
    assert serious == [], serious


def test_the_parser_catches_a_broken_document(tmp_path: Path) -> None:
    doc = document("http://127.0.0.1:1/")
    doc["operations"]["sendServerFrames"]["channel"] = {"$ref": "#/channels/nowhere"}
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(doc))
    node = shutil.which("node") or "node"
    done = subprocess.run([node, str(CHECKER), str(path)], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 1


def test_both_directions_of_ws_and_the_sse_stream_are_described(server: Server) -> None:
    doc = served(server)
    ws = doc["channels"]["ws"]
    assert ws["address"] == "/ws"
    assert {"subscribe", "unsubscribe"} <= set(ws["messages"])
    assert {"subscribed", "snapshot", "item", "update", "retract", "ping", "error"} <= set(
        ws["messages"])
    assert doc["operations"]["receiveClientFrames"]["action"] == "receive"
    assert doc["operations"]["sendServerFrames"]["action"] == "send"
    sse = doc["channels"]["sse"]
    assert sse["address"] == "/api/v1/feeds/{feed}/events"
    assert {"snapshot", "item", "update", "retract"} <= set(sse["messages"])
    host = server.url.removeprefix("http://")
    assert doc["servers"]["websocket"] == {"host": host, "pathname": "/", "protocol": "ws"}


def test_a_frame_the_document_does_not_describe_fails_the_check() -> None:
    good = {"type": "subscribed", "feed": "en", "recovered": True}
    check_server_frame(good)
    for bad in ({**good, "extra": 1}, {"type": "subscribed", "feed": "en"},
                {"type": "mystery"}, {**good, "recovered": "yes"}):
        with pytest.raises(AssertionError):
            check_server_frame(bad)


async def test_every_message_of_a_session_validates(server: Server) -> None:
    before = frame_schemas.checked.copy()
    pub = Publisher(server.url)
    try:
        async with await connect(server.ws_url) as ws:
            await subscribe(ws, "en")
            await subscribe(ws, "ar", flt={"max_urgency": 3})
            item = await pub.publish("Dam breached.", source="Civil Defence", urgency=1,
                                     category="environment", regions=["europe"],
                                     url="https://news.example/dam")
            await pub.client.patch(f"/api/v1/feeds/en/items/{item['id']}", json={"urgency": 2})
            await pub.client.delete(f"/api/v1/feeds/en/items/{item['id']}")
            kinds = [e["type"] for e in await recv_events(ws, 3)]
            assert kinds == ["item", "update", "retract"]
            await ws.send(json.dumps({"type": "subscribe", "feed": "nope"}))
            assert (await recv(ws))["type"] == "error"
            await ws.send(json.dumps({"type": "unsubscribe", "feed": "ar"}))
            assert (await recv(ws))["type"] == "unsubscribed"
        async with open_sse(server.url, "en") as stream:
            while (await stream.next()).event != "snapshot":
                pass
    finally:
        await pub.aclose()
    seen = frame_schemas.checked - before
    assert {"subscribed", "snapshot", "item", "update", "retract", "error",
            "unsubscribed"} <= set(seen)
