"""The correspondent desk at /desk against a real server, in Chromium."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Page, Route, expect

from tests.browser.ticker_browser import TickerServer, unique

pytestmark = pytest.mark.browser


def open_desk(page: Page, server: TickerServer, token: str | None = None) -> None:
    page.goto(f"{server.base}/desk")
    page.fill("#token", token or server.editor)
    page.press("#token", "Tab")
    expect(page.locator("#whoami")).to_contain_text("Signed in as desk")
    expect(page.locator("#feed option")).to_have_count(3)


def with_text(server: TickerServer, feed: str, text: str) -> list[dict[str, Any]]:
    return [it for it in server.latest(feed) if it["text"] == text]


def test_desk_publishes_an_item(page: Page, server: TickerServer) -> None:
    open_desk(page, server)
    page.select_option("#feed", "es")
    text = unique("Terremoto de magnitud 6 en el sur")
    page.fill("#text", text)
    expect(page.locator("#text-count")).to_have_text(f"{len(text)} / 400")
    page.fill("#source", "Servicio Sismológico")
    page.select_option("#urgency", "2")
    page.select_option("#category", "environment")
    page.check("#regions input[value=latin-america]")
    page.fill("#url", "https://example.com/sismo")
    page.click("#publish")
    expect(page.locator("#post-status")).to_have_text("Published.")
    expect(page.locator("#text")).to_have_value("")
    expect(page.locator("#recent li", has_text=text)).to_have_count(1)
    expect(page.locator("#live breaking-ticker li", has_text=text)).to_have_count(1)
    [stored] = with_text(server, "es", text)
    assert stored["source"] == "Servicio Sismológico"
    assert stored["urgency"] == 2
    assert stored["category"] == "environment"
    assert stored["regions"] == ["latin-america"]
    assert stored["url"] == "https://example.com/sismo"
    assert stored["author"] == "desk"


def test_desk_shows_a_422_next_to_the_field(page: Page, server: TickerServer) -> None:
    open_desk(page, server)
    text = unique("Item with a bad link")
    page.fill("#text", text)
    page.fill("#url", "javascript:alert(1)")
    page.click("#publish")
    expect(page.locator("#err-url")).to_have_text(re.compile("http"))
    expect(page.locator("#url")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#err-text")).to_be_empty()
    expect(page.locator("#err-source")).to_be_empty()
    expect(page.locator("#post-status")).to_contain_text("422")
    assert with_text(server, "en", text) == []
    # too long a text: its error sits next to the text, and the counter turns red
    page.fill("#url", "")
    page.fill("#text", "x" * 401)
    expect(page.locator("#text-count")).to_have_class(re.compile(r"\bover\b"))
    page.click("#publish")
    expect(page.locator("#err-text")).to_have_text(re.compile("400"))
    expect(page.locator("#err-url")).to_be_empty()
    expect(page.locator("#url")).not_to_have_attribute("aria-invalid", "true")


def test_desk_shows_a_bad_token_next_to_the_token(page: Page, server: TickerServer) -> None:
    open_desk(page, server)
    page.fill("#token", server.editor[:-4] + "AAAA")
    page.press("#token", "Tab")
    page.fill("#text", unique("Never published"))
    page.click("#publish")
    expect(page.locator("#err-token")).not_to_be_empty()


def test_double_submit_posts_once(page: Page, server: TickerServer) -> None:
    open_desk(page, server)
    text = unique("Double tapped flash")
    page.fill("#text", text)
    page.locator("#publish").dblclick()
    expect(page.locator("#post-status")).to_have_text("Published.")
    # and two submits in the same tick, before the first request could even start
    second = unique("Submitted twice at once")
    page.fill("#text", second)
    page.evaluate("() => { const f = document.querySelector('#post-form');"
                  " f.requestSubmit(); f.requestSubmit(); }")
    expect(page.locator("#recent li", has_text=second)).to_have_count(1)
    assert len(with_text(server, "en", text)) == 1
    assert len(with_text(server, "en", second)) == 1


def test_a_retry_reuses_the_idempotency_key(page: Page, server: TickerServer) -> None:
    open_desk(page, server)
    keys: list[str] = []

    def lose_the_answer(route: Route) -> None:
        keys.append(route.request.headers["idempotency-key"])
        if len(keys) == 1:
            route.fetch()  # the server publishes the item ...
            route.abort("connectionreset")  # ... but the answer never reaches the phone
        else:
            route.continue_()

    page.route("**/api/v1/feeds/en/items", lose_the_answer)
    text = unique("Published on a bad connection")
    page.fill("#text", text)
    page.click("#publish")
    expect(page.locator("#post-status")).to_contain_text("retry")
    assert len(with_text(server, "en", text)) == 1
    page.click("#publish")
    expect(page.locator("#post-status")).to_contain_text("Already published")
    assert len(keys) == 2 and keys[0] == keys[1]
    assert len(with_text(server, "en", text)) == 1
    # the next item gets a new key
    page.fill("#text", unique("The next one"))
    page.click("#publish")
    expect(page.locator("#post-status")).to_have_text("Published.")
    assert len(keys) == 3 and keys[2] != keys[0]


def test_desk_corrects_and_retracts(page: Page, server: TickerServer) -> None:
    open_desk(page, server)
    text = unique("Three killed in strike")
    page.fill("#text", text)
    page.click("#publish")
    row = page.locator("#recent li", has_text=text)
    expect(row).to_have_count(1)
    row.locator("button.correct").click()
    corrected = text.replace("Three", "Four")
    row.locator("form.edit textarea[name=text]").fill(corrected)
    row.locator("form.edit input[name=url]").fill("mailto:desk@example.com")
    row.locator("form.edit button[type=submit]").click()
    expect(row.locator("[data-err=url]")).to_have_text(re.compile("http"))
    row.locator("form.edit input[name=url]").fill("")
    row.locator("form.edit button[type=submit]").click()
    fixed = page.locator("#recent li", has_text=corrected)
    expect(fixed.locator(".meta")).to_contain_text("v2")
    [stored] = with_text(server, "en", corrected)
    assert stored["version"] == 2
    fixed.locator("button.retract").click()
    expect(fixed.locator("button.retract")).to_have_text("Press again to retract")
    fixed.locator("button.retract").click()
    expect(fixed).to_have_class(re.compile(r"\bcanceled\b"))
    assert with_text(server, "en", corrected) == []
    r = server.http.get(f"/api/v1/feeds/en/items/{stored['id']}")
    assert r.json()["status"] == "canceled"
