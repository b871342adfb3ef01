"""The widget survives a server restart: it reconnects, resumes and shows every item once.

The embedded broker keeps its log in memory, so a restarted server has a new epoch: the widget's
old cursor is answered with ``recovered: false`` and a fresh snapshot, which must replace what the
widget shows (nothing duplicated, nothing from the old log kept as if it were current).
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.ticker_browser import TickerServer, unique

pytestmark = pytest.mark.browser


def test_widget_resumes_after_the_server_restarts(page: Page, server: TickerServer) -> None:
    before = unique("Before the restart")
    server.publish("en", before)
    page.goto(f"{server.base}/embed/en")
    host = page.locator("breaking-ticker")
    dot = host.locator(".dot")
    expect(dot).to_have_attribute("data-state", "live")
    expect(host.locator("li", has_text=before)).to_have_count(1)
    old_cursor = host.evaluate("h => h.cursor")
    assert old_cursor

    server.stop()
    expect(dot).not_to_have_attribute("data-state", "live")
    server.start()  # same port, empty log, new epoch
    server._token = None  # a new process, but the same secret: tokens stay valid
    during = [unique(f"Published while the widget was away {n}") for n in range(3)]
    for text in during:
        server.publish("en", text)

    expect(dot).to_have_attribute("data-state", "live", timeout=30_000)
    for text in during:
        expect(host.locator("li", has_text=text)).to_have_count(1)
    # the restarted log no longer has the old item: the snapshot replaced the list
    expect(host.locator("li", has_text=before)).to_have_count(0)
    assert host.evaluate("h => h.cursor") != old_cursor

    after = unique("Published after the reconnect")
    server.publish("en", after)
    expect(host.locator("li", has_text=after)).to_have_count(1)
    for text in during:
        expect(host.locator("li", has_text=text)).to_have_count(1)
    ids = host.evaluate("h => [...h.shadowRoot.querySelectorAll('li[data-id]')]"
                        ".map(li => li.dataset.id)")
    assert len(ids) == len(set(ids)) == 4


def test_widget_resumes_without_loss_after_its_connection_drops(
    page: Page, server: TickerServer
) -> None:
    page.goto(f"{server.base}/embed/en")
    host = page.locator("breaking-ticker")
    dot = host.locator(".dot")
    expect(dot).to_have_attribute("data-state", "live")
    page.context.set_offline(True)
    page.evaluate("() => window.dispatchEvent(new Event('offline'))")
    expect(dot).to_have_attribute("data-state", "offline")
    missed = [unique(f"Missed while offline {n}") for n in range(3)]
    for text in missed:
        server.publish("en", text)
    page.context.set_offline(False)
    for text in missed:
        expect(host.locator("li", has_text=text)).to_have_count(1)
    expect(dot).to_have_attribute("data-state", "live")
