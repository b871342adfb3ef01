"""``/live/{feed}`` in Chromium: readable with JavaScript off, taken over in place by the live
widget with it, no serious axe-core violation; and an embed iframe that sizes itself."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.ticker_browser import TickerServer, free_port, unique
from tests.checkers import AXE_JS, tool

pytestmark = pytest.mark.browser


@pytest.fixture
def no_js_page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(java_script_enabled=False)
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture
def axe_page(browser: Browser) -> Iterator[Page]:
    """A page whose CSP lets the test inject axe-core (the page's own CSP forbids inline
    scripts, as it should)."""
    context = browser.new_context(bypass_csp=True, viewport={"width": 1280, "height": 720})
    try:
        yield context.new_page()
    finally:
        context.close()


def serious_violations(page: Page) -> list[dict[str, Any]]:
    page.add_script_tag(path=str(tool(AXE_JS)))
    result: dict[str, Any] = page.evaluate("() => axe.run(document)")
    return [{"id": v["id"], "impact": v["impact"], "nodes": [n["html"] for n in v["nodes"]]}
            for v in result["violations"] if v["impact"] in ("serious", "critical")]


def test_latest_items_show_with_javascript_off(no_js_page: Page, server: TickerServer) -> None:
    older = server.publish("en", unique("Bridge closed"), source="Police")
    newer = server.publish("en", unique("Toll rises"), urgency=2, url="https://news.example/t")
    no_js_page.goto(f"{server.base}/live/en")
    articles = no_js_page.locator("ol > li > article")
    expect(articles.first).to_contain_text(newer["text"])
    expect(no_js_page.locator(f"article[data-id='{older['id']}']")).to_contain_text(
        f"Police: {older['text']}")
    expect(articles.first.locator("time")).to_have_attribute("datetime", newer["published_at"])
    expect(articles.first.get_by_role("link")).to_have_attribute("href", "https://news.example/t")


def test_the_widget_takes_over_in_place_and_stays_live(page: Page,
                                                       server: TickerServer) -> None:
    shown = server.publish("en", unique("Polls open"))
    page.goto(f"{server.base}/live/en")
    ticker = page.locator("breaking-ticker")
    expect(ticker).to_have_js_property("status", "live")
    # the same item, now in the widget's own (shadow) list
    expect(ticker.locator(f"li[data-id='{shown['id']}']")).to_contain_text(shown["text"])
    later = server.publish("en", unique("Polls close"))
    expect(ticker.locator(".track li").first).to_contain_text(later["text"])
    server.retract("en", shown["id"])
    expect(ticker.locator(f"li[data-id='{shown['id']}']")).to_have_count(0)


@pytest.mark.parametrize("feed", ["en", "ar"])
def test_no_serious_accessibility_violation(axe_page: Page, server: TickerServer,
                                            feed: str) -> None:
    server.publish(feed, unique("Item"), source="Agency", url="https://news.example/x")
    axe_page.goto(f"{server.base}/live/{feed}")
    expect(axe_page.locator("breaking-ticker")).to_have_js_property("status", "live")
    assert serious_violations(axe_page) == []


@pytest.fixture
def partner_site() -> Iterator[PartnerSite]:
    site = PartnerSite()
    try:
        yield site
    finally:
        site.close()


class PartnerSite:
    """A host page on its own origin (another port on loopback), served by a real HTTP server:
    a page that Playwright fulfilled itself would count as public and be refused loopback."""

    def __init__(self) -> None:
        self.html = b""
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(site.html)))
                self.end_headers()
                self.wfile.write(site.html)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=10)


def test_an_embed_iframe_takes_the_height_its_ticker_reports(
        page: Page, server: TickerServer, partner_site: PartnerSite) -> None:
    for n in range(4):
        server.publish("es", unique(f"Línea {n}"))
    partner_site.html = (
        "<!doctype html><title>host</title>"
        f'<iframe id="t" src="{server.base}/embed/es?mode=list" title="ticker" '
        'style="width:600px;height:48px;border:0"></iframe>'
        f'<script src="{server.base}/embed-resize.js" async></script>').encode()
    page.goto(partner_site.url)
    frame = page.locator("#t")
    inner = page.frame_locator("#t").locator("breaking-ticker")
    expect(inner.locator(".track li")).to_have_count(4)
    page.wait_for_function("() => document.getElementById('t').offsetHeight > 120")
    content = page.frame_locator("#t").locator("html").evaluate(
        "h => Math.ceil(h.getBoundingClientRect().height)")
    expect(frame).to_have_js_property("offsetHeight", content)
