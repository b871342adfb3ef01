"""``/client.js`` in Chromium: pages of one origin share one WebSocket per ticker server.

The connections are counted at the server (``ticker_connections_open`` in ``/metrics``). Each
page here imports the module itself and records every frame it hands over, so "exactly once"
is checked on what an application would see.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page

from tests.browser.ticker_browser import TickerServer, unique
from tests.checkers import TOOLS, tool

JS_TESTS = TOOLS.parent
WAIT = 20.0  # upper bound on any wait here; never an expected duration
OPEN = """async ([feed, transport]) => {
  const { connect } = await import('/client.js');
  window.ticker = connect(undefined, { transport });
  window.got = [];
  window.ticker.subscribe(feed, {}, (f) => window.got.push(f));
}"""


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    ctx = browser.new_context()
    try:
        yield ctx
    finally:
        ctx.close()


def sockets(server: TickerServer, transport: str = "ws") -> int:
    text = server.http.get("/metrics").text
    match = re.search(rf'^ticker_connections_open\{{transport="{transport}"\}} ([0-9.]+)$', text,
                      re.M)
    assert match, text
    return int(float(match.group(1)))


def wait_for(what: str, done: Any) -> None:
    deadline = time.monotonic() + WAIT
    while not done():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def frames(page: Page, kind: str) -> list[dict[str, Any]]:
    got: list[dict[str, Any]] = page.evaluate(f"() => window.got.filter(f => f.type === '{kind}')")
    return got


def item_ids(page: Page) -> list[str]:
    return [f["item"]["id"] for f in frames(page, "item")]


def open_tab(context: BrowserContext, server: TickerServer, feed: str = "en",
             transport: str = "auto") -> Page:
    page = context.new_page()
    page.goto(f"{server.base}/healthz")  # any page of the origin; nothing else on it connects
    page.evaluate(OPEN, [feed, transport])
    wait_for("a snapshot", lambda: frames(page, "snapshot"))
    return page


def test_the_module_and_its_types_are_served(server: TickerServer) -> None:
    module = server.http.get("/client.js", headers={"Origin": "https://partner.example"})
    assert module.status_code == 200
    assert module.headers["content-type"] == "text/javascript; charset=utf-8"
    assert module.headers["access-control-allow-origin"] == "*"
    assert module.headers["x-typescript-types"] == "./client.d.ts"
    types = server.http.get("/client.d.ts")
    assert types.headers["content-type"] == "application/typescript; charset=utf-8"
    assert "export function connect" in types.text
    widget = server.http.get("/widget.js")
    assert 'from "./client.js"' in widget.text  # one script tag still: the widget imports it


def test_the_declarations_type_check_an_application() -> None:
    """tests/js/client-usage.ts uses every frame and option; tsc --strict checks it against
    client.d.ts (so the declarations are valid TypeScript and say what the module does)."""
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is missing: apt-get install nodejs (scripts/test.sh does)")
    tsc = tool(TOOLS / "typescript" / "bin" / "tsc")
    done = subprocess.run([node, str(tsc), "-p", str(JS_TESTS / "tsconfig.json")],
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.browser
def test_three_tabs_share_one_socket_and_hand_over(context: BrowserContext,
                                                   server: TickerServer) -> None:
    before = sockets(server)
    tabs = [open_tab(context, server) for _ in range(3)]
    wait_for("one socket", lambda: sockets(server) == before + 1)
    first = server.publish("en", unique("Polls open"))
    for tab in tabs:
        wait_for("the item in every tab", lambda tab=tab: first["id"] in item_ids(tab))
    leaders = [tab for tab in tabs if tab.evaluate("() => window.ticker.leader")]
    assert len(leaders) == 1
    leaders[0].close(run_before_unload=True)
    rest = [tab for tab in tabs if tab is not leaders[0]]
    second = server.publish("en", unique("Polls close"))  # maybe before a new leader is up
    for tab in rest:
        wait_for("the item after the handover", lambda tab=tab: second["id"] in item_ids(tab))
    wait_for("one socket again", lambda: sockets(server) == before + 1)
    third = server.publish("en", unique("Results"))
    for tab in rest:
        wait_for("the next item", lambda tab=tab: third["id"] in item_ids(tab))
        ids = item_ids(tab)
        assert [i for i in ids if i in (first["id"], second["id"], third["id"])] == [
            first["id"], second["id"], third["id"]]  # each exactly once, in order
    assert sum(tab.evaluate("() => window.ticker.leader") for tab in rest) == 1


@pytest.mark.browser
def test_a_late_tab_gets_its_own_snapshot(context: BrowserContext, server: TickerServer) -> None:
    shown = server.publish("ar", unique("خبر"))
    one = open_tab(context, server, "ar")
    later = open_tab(context, server, "ar")
    snap = frames(later, "snapshot")[-1]
    assert shown["id"] in [i["id"] for i in snap["items"]]
    assert len(frames(one, "snapshot")) == 1  # the first tab was not made to start over


@pytest.mark.browser
def test_over_sse_too_the_tabs_share_one_stream(context: BrowserContext,
                                                server: TickerServer) -> None:
    before = sockets(server, "sse")
    tabs = [open_tab(context, server, "es", "sse") for _ in range(2)]
    wait_for("one stream", lambda: sockets(server, "sse") == before + 1)
    item = server.publish("es", unique("Última hora"))
    for tab in tabs:
        wait_for("the item once", lambda tab=tab: item_ids(tab).count(item["id"]) == 1)


RECORD = """() => {
  window.seen = [];
  document.getElementById('feed-en')
    .addEventListener('ticker-item', (e) => window.seen.push(e.detail.item.id));
}"""


def open_reader(context: BrowserContext, server: TickerServer) -> Page:
    page = context.new_page()
    page.goto(f"{server.base}/")
    page.locator("#feed-en breaking-ticker").wait_for()
    wait_for("the widget live", lambda: page.evaluate(
        "() => document.querySelector('#feed-en breaking-ticker').status") == "live")
    page.evaluate(RECORD)
    return page


def seen(page: Page, item_id: str) -> int:
    count: int = page.evaluate("(id) => window.seen.filter((i) => i === id).length", item_id)
    return count


@pytest.mark.browser
def test_three_reader_pages_hold_one_socket(context: BrowserContext,
                                           server: TickerServer) -> None:
    before = sockets(server)
    tabs = [open_reader(context, server) for _ in range(3)]
    # every tab shows four live widgets (three feeds and the embed preview): one socket in all
    wait_for("one socket", lambda: sockets(server) == before + 1)
    first = server.publish("en", unique("Polls open"))
    for tab in tabs:
        card = tab.locator(f"#feed-en breaking-ticker li[data-id='{first['id']}']")
        card.wait_for()
        wait_for("the item once", lambda tab=tab: seen(tab, first["id"]) == 1)
    (leader,) = [tab for tab in tabs if tab.evaluate(LEADER)]
    leader.close(run_before_unload=True)
    rest = [tab for tab in tabs if tab is not leader]
    second = server.publish("en", unique("Polls close"))
    for tab in rest:
        tab.locator(f"#feed-en breaking-ticker li[data-id='{second['id']}']").wait_for()
    wait_for("one socket again", lambda: sockets(server) == before + 1)
    for tab in rest:
        assert seen(tab, second["id"]) == 1 and seen(tab, first["id"]) == 1


LEADER = """async () => (await import('/client.js')).connect().leader"""
