"""The push client side in Chromium: the "Get flash alerts" controls, and the service worker
turning pushed messages into notifications — shown with source and text, replaced (same tag) by a
correction, closed by a retraction. Push messages are delivered to the service worker through the
DevTools protocol (``ServiceWorker.deliverPushMessage``): the browser's own push service is not
reachable from here, the worker's code path is the same."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, CDPSession, Page, expect

from tests.browser.ticker_browser import TickerServer

WAIT = 15.0  # upper bound on any wait here; never an expected duration
NOTIFICATIONS = """async () => (await navigator.serviceWorker.ready).getNotifications()
  .then((ns) => ns.map((n) => ({title: n.title, body: n.body, tag: n.tag, url: n.data.url})))"""


@pytest.fixture
def context(browser: Browser, server: TickerServer) -> Iterator[BrowserContext]:
    ctx = browser.new_context(viewport={"width": 1280, "height": 720}, locale="en-GB")
    ctx.grant_permissions(["notifications"], origin=server.base)
    try:
        yield ctx
    finally:
        ctx.close()


def test_reader_page_and_widget_offer_flash_alerts(page: Page, server: TickerServer) -> None:
    page.goto(server.base + "/")
    expect(page.locator("#feed-en button.push")).to_have_text("Get flash alerts")
    expect(page.locator("#feed-ar button.push")).to_have_text("تلقي التنبيهات العاجلة")
    page.evaluate("""() => {
      const t = document.createElement("breaking-ticker");
      t.id = "with-push"; t.setAttribute("feed", "en"); t.setAttribute("push", "");
      document.body.append(t);
      const u = document.createElement("breaking-ticker");
      u.id = "without"; u.setAttribute("feed", "en");
      document.body.append(u);
    }""")
    expect(page.locator("#with-push").locator("button.push")).to_have_count(1)
    expect(page.locator("#without").locator(".push")).to_have_count(0)


def registration_id(cdp: CDPSession, page: Page, server: TickerServer) -> str:
    found: list[str] = []

    def seen(event: dict[str, Any]) -> None:
        for reg in event.get("registrations", []):
            if reg["scopeURL"].startswith(server.base) and not reg.get("isDeleted"):
                found.append(reg["registrationId"])

    cdp.on("ServiceWorker.workerRegistrationUpdated", seen)
    cdp.send("ServiceWorker.enable")
    page.evaluate("""async () => {
      await navigator.serviceWorker.register('/push-sw.js');
      const reg = await navigator.serviceWorker.ready;
      for (let i = 0; i < 300 && reg.active.state !== 'activated'; i++) {
        await new Promise((done) => setTimeout(done, 50));
      }
    }""")
    deadline = time.monotonic() + WAIT
    while not found and time.monotonic() < deadline:
        page.wait_for_timeout(50)
    assert found, "the service worker did not register"
    return found[-1]


class PushEvents:
    """The worker's push events as DevTools records them ("Push event completed" once the
    event's ``waitUntil`` promise has settled, i.e. the alert is shown or closed).

    The test reads the notifications only when every push it sent has completed: Chromium's
    ``getNotifications()`` deletes from its database each stored notification that the platform
    does not report as displayed yet (unless created after the read began), so a read that falls
    between a notification's write and its display drops it for good — polling while an alert
    is being shown made this test lose one now and then."""

    def __init__(self, cdp: CDPSession) -> None:
        self.completed: list[str] = []
        self.sent = 0
        cdp.on("BackgroundService.backgroundServiceEventReceived", self._seen)
        cdp.send("BackgroundService.startObserving", {"service": "pushMessaging"})
        cdp.send("BackgroundService.setRecording",
                 {"shouldRecord": True, "service": "pushMessaging"})

    def _seen(self, event: dict[str, Any]) -> None:
        record = event["backgroundServiceEvent"]
        if record["eventName"] == "Push event completed":
            self.completed.append(";".join(m["value"] for m in record["eventMetadata"]))

    def settled(self, page: Page) -> list[dict[str, Any]]:
        """The notifications shown once every push sent so far has completed."""
        deadline = time.monotonic() + WAIT
        while len(self.completed) < self.sent and time.monotonic() < deadline:
            page.wait_for_timeout(50)
        assert len(self.completed) >= self.sent, f"pushes completed: {self.completed}"
        assert set(self.completed) <= {"Success"}, self.completed
        shown: list[dict[str, Any]] = page.evaluate(NOTIFICATIONS)
        return shown


def test_service_worker_shows_replaces_and_closes_alerts(context: BrowserContext,
                                                         server: TickerServer) -> None:
    page = context.new_page()
    page.goto(server.base + "/")
    cdp = context.new_cdp_session(page)
    events = PushEvents(cdp)
    rid = registration_id(cdp, page, server)

    def push(message: dict[str, Any]) -> None:
        cdp.send("ServiceWorker.deliverPushMessage", {
            "origin": server.base, "registrationId": rid, "data": json.dumps(message)})
        events.sent += 1

    item = {"id": "0000000000100000001", "feed": "en", "text": "Quake hits the coast",
            "source": "Agency", "urgency": 1, "regions": [], "lang": "en", "version": 1,
            "status": "usable", "author": "desk", "published_at": "2026-01-01T00:00:00.000Z",
            "updated_at": "2026-01-01T00:00:00.000Z"}
    push({"type": "item", "item": item})
    assert events.settled(page) == [{"title": "Agency", "body": "Quake hits the coast",
                                     "tag": "ticker-en-0000000000100000001",
                                     "url": f"{server.base}/live/en"}]
    push({"type": "update", "item": {**item, "text": "Strong quake hits the coast",
                                     "url": "https://example.com/quake", "version": 2}})
    assert events.settled(page) == [{"title": "Agency", "body": "Strong quake hits the coast",
                                     "tag": "ticker-en-0000000000100000001",
                                     "url": "https://example.com/quake"}]
    other = {**item, "id": "0000000000200000002", "source": None, "text": "Second alert"}
    push({"type": "item", "item": other})
    assert len(events.settled(page)) == 2
    push({"type": "retract", "feed": "en", "id": item["id"], "reason": "retracted"})
    assert events.settled(page) == [{"title": "Breaking news", "body": "Second alert",
                                     "tag": "ticker-en-0000000000200000002",
                                     "url": f"{server.base}/live/en"}]
    # back to back, without waiting in between: the worker handles them one at a time, in
    # order, so the retraction finds the alert it closes
    third = {**item, "id": "0000000000300000003", "text": "Third alert"}
    fourth = {**item, "id": "0000000000400000004", "text": "Fourth alert"}
    push({"type": "item", "item": third})
    push({"type": "retract", "feed": "en", "id": third["id"], "reason": "killed"})
    push({"type": "item", "item": fourth})
    assert sorted(n["body"] for n in events.settled(page)) == ["Fourth alert", "Second alert"]
