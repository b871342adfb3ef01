"""The desk's approval queue in Chromium, against a real server: a contributor's submission
shows up live (highlighted, the badge counting it), approving it puts it on the reader page's
widget, the item's history is shown, and the feed's reader count is live.

The documentation's picture of the queue (docs/images/desk-queue.png) is taken by
``scripts/screenshots.py``; the one taken here (``TICKER_SCREENSHOT_DIR``, default a temporary
directory) shows the queue as this test left it.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.test_browser_desk import open_desk
from tests.browser.ticker_browser import TickerServer, unique

pytestmark = pytest.mark.browser


def test_a_submission_arrives_live_and_approving_it_reaches_the_widget(
        page: Page, browser: Browser, server: TickerServer, tmp_path: Path) -> None:
    stringer = server.token(sub="carla", role="contributor", feeds="en")
    open_desk(page, server)
    badge = page.locator("#approval-count")
    expect(page.locator("#readers")).to_contain_text(re.compile(r"\d+ readers? on this feed now"))
    start = int(badge.inner_text())

    reader_context = browser.new_context(viewport={"width": 1280, "height": 720})
    reader = reader_context.new_page()
    try:
        reader.goto(server.base + "/")
        widget = reader.locator("#feed-en breaking-ticker")
        expect(widget.locator(".dot")).to_have_attribute("data-state", "live")
        # the reader page's subscription is counted on the desk, live
        expect(page.locator("#readers")).not_to_have_text("")

        text = unique("Ferry service to the islands suspended")
        submitted = server.http.post("/api/v1/feeds/en/items", json={
            "text": text, "source": "Port authority", "note": "confirmed by phone"},
            headers={"Authorization": f"Bearer {stringer}"})
        assert submitted.status_code == 202, submitted.text
        row = page.locator("#approvals li", has_text=text)
        expect(row).to_have_count(1)  # live: no reload
        expect(row).to_have_class(re.compile(r"\bfresh\b"))  # the silent cue
        expect(badge).to_have_text(str(start + 1))
        expect(row.locator(".note")).to_contain_text("confirmed by phone")
        expect(row.locator("button.correct")).to_have_text("Edit")
        expect(widget.locator("li", has_text=text)).to_have_count(0)  # not public

        second = unique("Bridge reopened after inspection")
        server.http.post("/api/v1/feeds/en/items", json={"text": second},
                         headers={"Authorization": f"Bearer {stringer}"})
        expect(badge).to_have_text(str(start + 2))
        shots = Path(os.environ.get("TICKER_SCREENSHOT_DIR") or tmp_path)
        shot = shots / "desk-queue.png"
        page.locator("#approval-card").screenshot(path=str(shot))
        assert shot.stat().st_size > 0

        row.locator("button.approve").click()
        expect(widget.locator("li", has_text=text)).to_have_count(1)  # on the air
        expect(page.locator("#approvals li", has_text=text)).to_have_count(0)
        expect(badge).to_have_text(str(start + 1))

        page.locator("#approvals li", has_text=second).locator("button.reject").click()
        expect(page.locator("#approvals li", has_text=second)).to_have_count(0)
        expect(badge).to_have_text(str(start))

        page.check("#all-authors")
        history = page.locator("#recent li", has_text=text).locator("details.history")
        history.locator("summary").click()
        expect(history.locator("li")).to_have_count(2)
        expect(history.locator("li").nth(0)).to_contain_text("submitted by carla")
        expect(history.locator("li").nth(1)).to_contain_text("approved by desk")
        expect(widget.locator("li", has_text=second)).to_have_count(0)
    finally:
        reader_context.close()


def test_a_contributor_sees_the_queue_without_the_editor_buttons(
        page: Page, server: TickerServer) -> None:
    open_desk(page, server, server.token(sub="desk", role="contributor"))
    text = unique("Power cut across the north of the city")
    page.fill("#text", text)
    page.click("#publish")
    expect(page.locator("#post-status")).to_contain_text("Submitted")
    row = page.locator("#approvals li", has_text=text)
    expect(row).to_have_count(1)
    expect(row.locator("button.correct")).to_be_visible()
    expect(row.locator("button.approve, button.reject")).to_have_count(0)
    expect(page.locator("#queue li", has_text=text)).to_have_count(0)  # listed once
