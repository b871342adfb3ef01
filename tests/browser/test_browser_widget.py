"""The <breaking-ticker> widget against a real server, in Chromium."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.browser.ticker_browser import TickerServer, unique

pytestmark = pytest.mark.browser


def open_embed(page: Page, server: TickerServer, feed: str = "en", query: str = "") -> Locator:
    """Open ``/embed/{feed}`` and wait until the widget is live; return the host element."""
    page.goto(f"{server.base}/embed/{feed}{query}")
    host = page.locator("breaking-ticker")
    expect(host.locator(".dot")).to_have_attribute("data-state", "live")
    return host


@contextmanager
def serve_page(html: bytes) -> Iterator[int]:
    """A partner's web server on its own port (a loopback origin, as Chromium's local-network
    rules want), serving one page; yields the port."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.end_headers()
            self.wfile.write(html)

        def log_message(self, format: str, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield httpd.server_port
    finally:
        httpd.shutdown()
        httpd.server_close()


def item(host: Locator, text: str) -> Locator:
    return host.locator("li", has_text=text)


def transform(host: Locator) -> str:
    value: str = host.evaluate("h => h.shadowRoot.querySelector('.track').style.transform")
    return value


def wait_for_motion(page: Page, host: Locator) -> None:
    before = transform(host)
    page.wait_for_function(
        "([before]) => document.querySelector('breaking-ticker')"
        ".shadowRoot.querySelector('.track').style.transform !== before",
        arg=[before], timeout=10_000,
    )


def test_shows_the_snapshot(page: Page, server: TickerServer) -> None:
    texts = [unique(f"Snapshot item {n}") for n in range(3)]
    for text in texts:
        server.publish("en", text, source="Reuters", category="politics")
    host = open_embed(page, server)
    for text in texts:
        expect(item(host, text)).to_have_count(1)
    # newest first, source before the text
    order = host.locator("li .txt").all_text_contents()
    positions = [next(i for i, t in enumerate(order) if t == text) for text in texts]
    assert positions == sorted(positions, reverse=True)
    first = item(host, texts[0])
    expect(first.locator(".src")).to_have_text("Reuters")
    assert first.evaluate(
        "li => li.querySelector('.src').compareDocumentPosition(li.querySelector('.txt'))"
        " & Node.DOCUMENT_POSITION_FOLLOWING"
    )
    expect(first.locator("time")).to_have_text(re.compile(r"now|sec|min"))


def test_published_item_appears_and_is_announced(page: Page, server: TickerServer) -> None:
    host = open_embed(page, server)
    text = unique("Live item")
    server.publish("en", text, source="AP", url="https://example.com/story")
    expect(item(host, text)).to_have_count(1)
    link = item(host, text).locator("a")
    expect(link).to_have_attribute("href", "https://example.com/story")
    expect(link).to_have_attribute("target", "_blank")
    expect(link).to_have_attribute("rel", re.compile("noopener"))
    live = host.locator("[aria-live=polite]")
    expect(live).to_have_text(re.compile(re.escape(text)))


def test_flash_items_are_marked(page: Page, server: TickerServer) -> None:
    host = open_embed(page, server)
    flash, normal = unique("Flash item"), unique("Routine item")
    server.publish("en", flash, urgency=1)
    server.publish("en", normal, urgency=5)
    expect(item(host, flash)).to_have_class(re.compile(r"\bflash\b"))
    expect(item(host, flash).locator(".badge")).to_have_text("FLASH")
    expect(item(host, normal)).not_to_have_class(re.compile(r"\bflash\b"))
    expect(item(host, normal).locator(".badge")).to_have_count(0)


def test_correction_changes_the_item_in_place(page: Page, server: TickerServer) -> None:
    text = unique("Death toll rises to 10")
    published = server.publish("en", text)
    host = open_embed(page, server)
    li = item(host, text)
    expect(li).to_have_count(1)
    li.evaluate("el => { el.dataset.marker = 'original-node' }")
    corrected = text.replace("10", "12")
    server.correct("en", published["id"], text=corrected)
    node = host.locator("li[data-marker=original-node]")
    expect(node.locator(".txt")).to_have_text(corrected)
    expect(node).to_have_attribute("data-version", "2")
    expect(item(host, text)).to_have_count(0)


def test_retraction_removes_the_item(page: Page, server: TickerServer) -> None:
    keep, pull = unique("Stays up"), unique("Pulled story")
    server.publish("en", keep)
    pulled = server.publish("en", pull)
    host = open_embed(page, server)
    expect(item(host, pull)).to_have_count(1)
    server.retract("en", pulled["id"])
    expect(item(host, pull)).to_have_count(0)
    expect(item(host, keep)).to_have_count(1)


def test_hostile_item_renders_inertly(page: Page, server: TickerServer) -> None:
    host = open_embed(page, server)
    hostile = "<img src=x onerror=window.__pwned=1>"
    script = "<script>window.__pwned=2</script>"
    server.publish("en", hostile, source="<b onmouseover=window.__pwned=3>x</b>")
    server.publish("en", script)
    expect(host.locator("li .txt", has_text=hostile)).to_have_text(hostile)
    expect(host.locator("li .txt", has_text=script)).to_have_text(script)
    host.locator(".vp").hover()
    assert host.evaluate("h => h.shadowRoot.querySelectorAll('img, script, b').length") == 0
    assert page.evaluate("() => window.__pwned") is None


def test_filters_from_embed_query(page: Page, server: TickerServer) -> None:
    host = open_embed(page, server, query="?categories=sports&max-urgency=4")
    sports, politics = unique("Sports result"), unique("Politics story")
    minor = unique("Minor sports note")
    server.publish("en", politics, category="politics")
    server.publish("en", minor, category="sports", urgency=8)
    server.publish("en", sports, category="sports", urgency=3)
    expect(item(host, sports)).to_have_count(1)
    expect(item(host, politics)).to_have_count(0)
    expect(item(host, minor)).to_have_count(0)


def test_rtl_layout_for_arabic(page: Page, server: TickerServer) -> None:
    quote = unique("وزارة الصحة: ارتفاع عدد الضحايا وفق Reuters")
    for n in range(4):
        server.publish("ar", f"{quote} {n}", source="Lebanese Ministry of Health")
    host = open_embed(page, server, "ar")
    bar = host.locator(".bar")
    assert bar.evaluate("el => getComputedStyle(el).direction") == "rtl"
    assert bar.evaluate("el => getComputedStyle(el.querySelector('.track')).direction") == "rtl"
    expect(host.locator(".label")).to_have_text("عاجل")
    label = host.locator(".label").bounding_box()
    viewport = host.locator(".vp").bounding_box()
    assert label is not None and viewport is not None
    assert label["x"] > viewport["x"], "the label sits at the right-hand start of an RTL strip"
    # mixed text is isolated: source and text are <bdi> elements
    li = item(host, f"{quote} 0")
    expect(li.locator("bdi.src")).to_have_text("Lebanese Ministry of Health")
    expect(li.locator("bdi.txt")).to_have_count(1)
    # it scrolls the right way: towards the right (positive translateX)
    wait_for_motion(page, host)
    value = float(re.findall(r"-?[\d.]+", transform(host))[0])
    assert value > 0


def test_spanish_label_is_localised(page: Page, server: TickerServer) -> None:
    host = open_embed(page, server, "es")
    expect(host.locator(".label")).to_have_text("ÚLTIMA HORA")
    assert host.locator(".bar").evaluate("el => getComputedStyle(el).direction") == "ltr"


def test_pause_button_stops_the_motion(page: Page, server: TickerServer) -> None:
    for n in range(6):
        server.publish("en", unique(f"Moving item number {n} with enough words to fill the strip"))
    host = open_embed(page, server)
    wait_for_motion(page, host)
    pause = host.locator("button.pause")
    expect(pause).to_be_visible()
    expect(pause).to_have_attribute("aria-pressed", "false")
    pause.click()
    page.mouse.move(0, 700)  # away from the strip, so hover does not also hold it
    expect(pause).to_have_attribute("aria-pressed", "true")
    expect(pause).to_have_attribute("aria-label", "Play")
    held = transform(host)
    page.wait_for_timeout(700)
    assert transform(host) == held
    pause.click()
    page.mouse.move(0, 700)
    expect(pause).to_have_attribute("aria-pressed", "false")
    wait_for_motion(page, host)


def test_hover_and_focus_pause_the_motion(page: Page, server: TickerServer) -> None:
    for n in range(6):
        server.publish("en", unique(f"Hover item {n} with a link to the story"),
                       url=f"https://example.com/{n}")
    host = open_embed(page, server)
    wait_for_motion(page, host)
    host.locator(".vp").hover()
    held = transform(host)
    page.wait_for_timeout(700)
    assert transform(host) == held
    page.mouse.move(0, 700)
    wait_for_motion(page, host)
    # keyboard: the first Tab lands on a story link, which stops the strip and brings it into view
    page.keyboard.press("Tab")
    focused = host.evaluate("h => h.shadowRoot.activeElement && h.shadowRoot.activeElement.tagName")
    assert focused == "A"
    held = transform(host)
    page.wait_for_timeout(700)
    assert transform(host) == held


def test_reduced_motion_gives_a_static_list(page: Page, server: TickerServer) -> None:
    texts = [unique(f"Calm item {n}") for n in range(3)]
    for text in texts:
        server.publish("en", text)
    page.emulate_media(reduced_motion="reduce")
    host = open_embed(page, server)
    expect(host.locator(".bar")).to_have_attribute("data-mode", "list")
    expect(host.locator("button.pause")).to_be_hidden()
    assert host.locator(".track").evaluate("el => getComputedStyle(el).transform") == "none"
    boxes = [item(host, t).bounding_box() for t in texts]
    ys = [b["y"] for b in boxes if b is not None]
    assert len(ys) == 3 and ys == sorted(ys, reverse=True), "newest on top, one per row"
    page.wait_for_timeout(500)
    assert [b["y"] for b in (item(host, t).bounding_box() for t in texts) if b] == ys
    # a new item still appears, at the top
    newest = unique("Calm newest")
    server.publish("en", newest)
    expect(host.locator("li").first).to_contain_text(newest)


def test_list_mode_attribute(page: Page, server: TickerServer) -> None:
    text = unique("Listed item")
    server.publish("en", text)
    host = open_embed(page, server, query="?mode=list&limit=3&theme=dark")
    expect(host.locator(".bar")).to_have_attribute("data-mode", "list")
    expect(item(host, text)).to_have_count(1)
    expect(host.locator("li")).to_have_count(3)


def test_sse_transport(page: Page, server: TickerServer) -> None:
    before = unique("Before SSE")
    server.publish("en", before)
    host = open_embed(page, server, query="?transport=sse")
    expect(item(host, before)).to_have_count(1)
    text = unique("Over SSE")
    published = server.publish("en", text)
    expect(item(host, text)).to_have_count(1)
    server.correct("en", published["id"], text=f"{text} corrected")
    expect(item(host, f"{text} corrected")).to_have_count(1)
    server.retract("en", published["id"])
    expect(item(host, text)).to_have_count(0)


def test_falls_back_to_sse_when_websockets_are_blocked(page: Page, server: TickerServer) -> None:
    page.add_init_script("""
        window.WebSocket = class {
          constructor() { setTimeout(() => this.onclose && this.onclose({ code: 1006 }), 10); }
          send() {} close() {}
        };
    """)
    host = open_embed(page, server)
    text = unique("Through the fallback")
    server.publish("en", text)
    expect(item(host, text)).to_have_count(1)


def test_one_script_tag_embed_works_cross_origin(page: Page, server: TickerServer) -> None:
    html = (
        "<!doctype html><title>Partner</title><h1>Partner newsroom</h1>"
        f'<script src="{server.base}/widget.js" type="module"></script>'
        '<breaking-ticker feed="en" label="LIVE"></breaking-ticker>'
    ).encode()
    with serve_page(html) as port:
        page.goto(f"http://localhost:{port}/news")  # another origin than the ticker's
        host = page.locator("breaking-ticker")
        expect(host.locator(".dot")).to_have_attribute("data-state", "live")
        expect(host.locator(".label")).to_have_text("LIVE")
        text = unique("Seen by a partner")
        server.publish("en", text)
        expect(item(host, text)).to_have_count(1)


def test_attribute_changes_apply_live(page: Page, server: TickerServer) -> None:
    en, es = unique("English line"), unique("Línea en español")
    server.publish("en", en)
    server.publish("es", es)
    host = open_embed(page, server, query="?mode=list")
    expect(item(host, en)).to_have_count(1)
    page.evaluate("""() => {
        window.__events = [];
        const t = document.querySelector('breaking-ticker');
        for (const type of ['ticker-snapshot', 'ticker-item'])
            t.addEventListener(type, (e) => window.__events.push(type));
        t.setAttribute('feed', 'es');
    }""")
    expect(item(host, es)).to_have_count(1)
    expect(item(host, en)).to_have_count(0)
    expect(host.locator(".label")).to_have_text("ÚLTIMA HORA")
    host.evaluate("h => h.setAttribute('limit', '1')")
    expect(host.locator("li")).to_have_count(1)
    newest = unique("Otra línea")
    server.publish("es", newest)
    expect(host.locator("li")).to_have_text([re.compile(re.escape(newest))])
    assert page.evaluate("() => window.__events") == ["ticker-snapshot", "ticker-item"]


def test_a_refused_subscription_shows_offline(page: Page, server: TickerServer) -> None:
    page.goto(server.base + "/embed/en?categories=no-such-category")
    host = page.locator("breaking-ticker")
    expect(host.locator(".dot")).to_have_attribute("data-state", "offline")
    expect(host.locator(".dot")).to_have_attribute("aria-label", "Offline")
