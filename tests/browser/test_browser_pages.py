"""The reader page and the embed page at their URLs, and the headers they are served with."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.browser.ticker_browser import TickerServer, unique


def test_widget_script_is_served_for_cross_origin_use(server: TickerServer) -> None:
    r = server.http.get("/widget.js", headers={"Origin": "https://partner.example"})
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/javascript; charset=utf-8"
    assert r.headers["access-control-allow-origin"] == "*"
    assert "max-age=" in r.headers["cache-control"]
    assert "customElements.define" in r.text
    # docs/widget.md promises a small script: 24 KiB unminified, since it follows the editorial
    # lifecycle (held, released, pinned items) too
    assert len(r.content) < 24_576
    again = server.http.get("/widget.js", headers={"If-None-Match": r.headers["etag"]})
    assert again.status_code == 304
    assert again.content == b""


def test_pages_carry_a_content_security_policy(server: TickerServer) -> None:
    embed = server.http.get("/embed/en?theme=dark")
    assert embed.status_code == 200
    assert embed.headers["content-type"].startswith("text/html")
    assert "frame-ancestors *" in embed.headers["content-security-policy"]
    assert "x-frame-options" not in embed.headers
    desk = server.http.get("/desk")
    assert "frame-ancestors 'none'" in desk.headers["content-security-policy"]
    assert "script-src 'self'" in desk.headers["content-security-policy"]
    assert server.http.get("/").status_code == 200


@pytest.mark.parametrize("path", ["/embed/%3Cscript%3E", "/embed/EN", "/embed/nope",
                                  "/embed/en%0A", "/static/desk.html", "/static/embed.js%0A",
                                  "/static/..%2Fapp.py", "/static/nope.js"])
def test_bad_names_are_not_found(server: TickerServer, path: str) -> None:
    assert httpx.get(server.base + path).status_code == 404


@pytest.mark.browser
def test_embed_reflects_nothing_into_html(page: Page, server: TickerServer) -> None:
    hostile = '"><img src=x onerror=window.__pwned=1>'
    page.goto(f"{server.base}/embed/en?label={hostile}&theme=dark")
    host = page.locator("breaking-ticker")
    expect(host.locator(".label")).to_have_text(hostile)
    expect(host).to_have_attribute("theme", "dark")
    assert page.evaluate("() => window.__pwned") is None
    assert page.locator("img").count() == 0


@pytest.mark.browser
def test_reader_lists_the_feeds_live(page: Page, server: TickerServer) -> None:
    page.goto(server.base + "/")
    cards = page.locator("#feeds article")
    expect(cards).to_have_count(3)
    expect(page.locator("#feed-ar")).to_have_attribute("dir", "rtl")
    expect(page.locator("#feed-ar h2")).to_have_text("عاجل")
    for feed in ("en", "ar", "es"):
        expect(page.locator(f"#feed-{feed} breaking-ticker .dot")).to_have_attribute(
            "data-state", "live")
    text = unique("Seen on the reader page")
    server.publish("es", text)
    expect(page.locator("#feed-es breaking-ticker li", has_text=text)).to_have_count(1)
    expect(page.locator("#feed-en breaking-ticker li", has_text=text)).to_have_count(0)


@pytest.mark.browser
def test_snippet_generator(page: Page, server: TickerServer) -> None:
    page.goto(server.base + "/")
    script = page.locator("#snippet-script")
    expect(script).to_have_value(re.compile(
        re.escape(f'<script src="{server.base}/widget.js" type="module"></script>')))
    expect(script).to_have_value(re.compile(r'<breaking-ticker feed="en"></breaking-ticker>'))
    page.select_option("#s-feed", "ar")
    page.select_option("#s-mode", "list")
    page.check("#s-categories input[value=politics]")
    page.check("#s-regions input[value=mena]")
    page.check("#s-regions input[value=palestine]")
    page.fill("#s-label", 'Live "now" <b>')
    expected = ('<breaking-ticker feed="ar" mode="list" label="Live &quot;now&quot; &lt;b>" '
                'categories="politics" regions="mena,palestine"></breaking-ticker>')
    expect(script).to_have_value(re.compile(re.escape(expected)))
    expect(page.locator("#snippet-iframe")).to_have_value(
        re.compile(re.escape(f"{server.base}/embed/ar?mode=list&")))
    preview = page.locator("#preview breaking-ticker")
    expect(preview).to_have_attribute("feed", "ar")
    expect(preview).to_have_attribute("regions", "mena,palestine")
    # the iframe snippet's URL opens the same ticker
    src = re.search(r'src="([^"]+)"', page.locator("#snippet-iframe").input_value())
    assert src is not None
    page.goto(src.group(1).replace("&amp;", "&"))
    embedded = page.locator("breaking-ticker")
    expect(embedded).to_have_attribute("categories", "politics")
    expect(embedded.locator(".bar")).to_have_attribute("data-mode", "list")
    expect(embedded.locator(".label")).to_have_text('Live "now" <b>')
