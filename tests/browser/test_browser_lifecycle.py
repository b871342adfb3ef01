"""The editorial lifecycle in the <breaking-ticker> widget, in Chromium, against a real server:
held items leave at once and come back in their place, the pinned item is shown first with its
label, expired and killed items leave, embargoed ones arrive at their time."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.browser.test_browser_widget import item, open_embed
from tests.browser.ticker_browser import TickerServer, unique

pytestmark = pytest.mark.browser

LABELS = {"en": "Pinned", "ar": "مثبت", "es": "Fijado"}
# Holds the strip at its start (no animation frames run), so "the first entry" is where it stays.
STILL = "window.requestAnimationFrame = () => 0;"


def at(seconds: float) -> str:
    """An RFC 3339 time ``seconds`` from now."""
    when = datetime.now(UTC) + timedelta(seconds=seconds)
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def shown(host: Locator, texts: list[str]) -> list[str]:
    """Which of ``texts`` the list shows, in its order."""
    return [t for t in host.locator(".track li .txt").all_text_contents() if t in texts]


def rotation_of(seen: list[str], expected: list[str]) -> bool:
    """Is ``seen`` ``expected`` turned round (the strip is a ring)?"""
    return len(seen) == len(expected) and any(
        seen == expected[i:] + expected[:i] for i in range(len(expected)))


@pytest.mark.parametrize("query", ["?mode=list", "", "?mode=list&transport=sse"],
                         ids=["list", "strip", "list-sse"])
def test_a_held_item_vanishes_and_comes_back_in_its_place(
        page: Page, server: TickerServer, query: str) -> None:
    texts = [unique(f"Hold order {n}") for n in range(3)]
    published = [server.publish("en", t) for t in texts]
    host = open_embed(page, server, query=query)
    for text in texts:
        expect(item(host, text)).to_have_count(1)
    page.evaluate("() => { window.__same_page = true; window.__gone = [];"
                  " document.querySelector('breaking-ticker').addEventListener('ticker-retract',"
                  " (e) => window.__gone.push(e.detail.id)); }")

    server.hold("en", published[1]["id"])
    expect(item(host, texts[1])).to_have_count(0)
    expect(item(host, texts[0])).to_have_count(1)
    assert page.evaluate("() => window.__gone") == [published[1]["id"]]

    server.release("en", published[1]["id"])
    expect(item(host, texts[1])).to_have_count(1)
    assert page.evaluate("() => window.__same_page") is True, "no reload"
    newest_first = texts[::-1]
    seen = shown(host, texts)
    if "list" in query:
        assert seen == newest_first
    else:
        assert rotation_of(seen, newest_first), seen
    ids = host.evaluate("h => h.items.map((i) => i.id)")
    assert [i for i in ids if i in {p["id"] for p in published}] == [
        p["id"] for p in published[::-1]]


def pinned_slot(host: Locator) -> Locator:
    return host.locator(".slot li")


@pytest.mark.parametrize("feed", ["en", "ar", "es"])
def test_the_pinned_item_is_shown_above_the_list_with_its_label(
        page: Page, server: TickerServer, feed: str) -> None:
    label = LABELS[feed]
    key, later = unique(f"What we know {feed}"), unique(f"Later line {feed}")
    pinned = server.publish(feed, key)
    server.publish(feed, later)
    server.pin(feed, pinned["id"])
    host = open_embed(page, server, feed, "?mode=list")
    slot = pinned_slot(host)
    expect(slot).to_have_count(1)
    expect(slot.locator(".txt")).to_have_text(key)
    expect(slot.locator(".pin")).to_have_text(label)
    expect(slot).to_have_attribute("part", re.compile(r"\bpinned\b"))
    expect(host.locator(".slot")).to_have_attribute("aria-label", label)
    # above the list, and not also in it
    expect(host.locator(".track li", has_text=key)).to_have_count(0)
    top, first = slot.bounding_box(), host.locator(".track li").first.bounding_box()
    assert top is not None and first is not None and top["y"] < first["y"]
    # the accessible name says it is pinned, in the feed's language
    name = host.evaluate("h => h.shadowRoot.querySelector('.slot li').textContent")
    assert name.startswith(label) and key in name
    assert host.evaluate("h => h.pinned && h.pinned.id") == pinned["id"]
    # unpinned: it goes back into the list, in its place by time
    server.unpin(feed)
    expect(slot).to_have_count(0)
    expect(item(host, key)).to_have_count(1)
    assert shown(host, [key, later]) == [later, key]


def test_the_pinned_item_is_the_first_entry_of_the_strip(page: Page,
                                                        server: TickerServer) -> None:
    page.add_init_script(STILL)
    texts = [unique(f"Strip line {n}") for n in range(3)]
    published = [server.publish("ar", t) for t in texts]
    server.pin("ar", published[0]["id"])
    host = open_embed(page, server, "ar")
    first = host.locator(".track li").first
    expect(first).to_have_class(re.compile(r"\bpinned\b"))
    expect(first.locator(".txt")).to_have_text(texts[0])
    expect(first.locator(".pin")).to_have_text("مثبت")
    expect(host.locator(".slot li")).to_have_count(0)  # the strip has no separate place
    # a new pin, live: the new item leads the strip, the old one goes back among the rest
    server.pin("ar", published[2]["id"])
    expect(host.locator(".track li.pinned")).to_have_count(1)
    expect(host.locator(".track li.pinned .txt")).to_have_text(texts[2])
    expect(item(host, texts[0])).not_to_have_class(re.compile(r"\bpinned\b"))
    assert host.evaluate("h => h.shadowRoot.querySelector('.track li').dataset.id") == \
        published[2]["id"]


@pytest.mark.parametrize("transport", ["websocket", "sse"])
def test_a_pin_arrives_live_and_a_kill_removes_the_pinned_item(
        page: Page, server: TickerServer, transport: str) -> None:
    key = unique("Key event")
    host = open_embed(page, server, "en", f"?mode=list&transport={transport}")
    pinned = server.publish("en", key)
    expect(item(host, key)).to_have_count(1)
    server.pin("en", pinned["id"])
    expect(pinned_slot(host).locator(".txt")).to_have_text(key)
    expect(host.locator(".track li", has_text=key)).to_have_count(0)
    server.retract("en", pinned["id"])
    expect(pinned_slot(host)).to_have_count(0)
    expect(item(host, key)).to_have_count(0)
    page.wait_for_timeout(300)  # a following pin event (null) changes nothing
    expect(item(host, key)).to_have_count(0)


def test_holding_the_pinned_item_takes_it_off_and_release_brings_it_back_unpinned(
        page: Page, server: TickerServer) -> None:
    key = unique("Doubtful flash")
    pinned = server.publish("en", key, urgency=1)
    server.pin("en", pinned["id"])
    host = open_embed(page, server, "en", "?mode=list")
    expect(pinned_slot(host)).to_have_count(1)
    server.hold("en", pinned["id"])
    expect(item(host, key)).to_have_count(0)
    server.release("en", pinned["id"])
    expect(host.locator(".track li", has_text=key)).to_have_count(1)
    expect(pinned_slot(host)).to_have_count(0)  # a hold also unpins


def test_an_expired_item_leaves_and_an_embargoed_one_arrives(page: Page,
                                                            server: TickerServer) -> None:
    host = open_embed(page, server, "en", "?mode=list")
    fleeting, embargoed = unique("Road closed for an hour"), unique("Verdict: guilty")
    gone = server.publish("en", fleeting, expires=at(3))
    expect(item(host, fleeting)).to_have_count(1)
    scheduled = server.publish("en", embargoed, embargoed_until=at(3))
    assert scheduled["status"] == "scheduled"
    expect(item(host, embargoed)).to_have_count(0)
    # both happen by themselves, within the expect timeout (the contract says ±1 s)
    expect(item(host, fleeting)).to_have_count(0)
    expect(item(host, embargoed)).to_have_count(1)
    assert server.http.get(f"/api/v1/feeds/en/items/{gone['id']}").json()["status"] == "usable"


def test_the_pinned_item_is_shown_whatever_the_filter(page: Page, server: TickerServer) -> None:
    key, sport = unique("Pinned politics story"), unique("Match result")
    pinned = server.publish("es", key, category="politics")
    server.publish("es", sport, category="sports")
    host = open_embed(page, server, "es", "?mode=list&categories=sports")
    expect(item(host, sport)).to_have_count(1)
    expect(item(host, key)).to_have_count(0)
    server.pin("es", pinned["id"])  # the desk's choice for every reader
    expect(pinned_slot(host).locator(".txt")).to_have_text(key)
    expect(pinned_slot(host).locator(".pin")).to_have_text("Fijado")
    server.unpin("es")  # unpinned, it does not pass this widget's filter
    expect(pinned_slot(host)).to_have_count(0)
    expect(item(host, key)).to_have_count(0)
    expect(item(host, sport)).to_have_count(1)


def test_the_reader_page_shows_each_feeds_pinned_item(page: Page, server: TickerServer) -> None:
    key = unique("Lo que sabemos")
    server.pin("es", server.publish("es", key)["id"])
    page.goto(server.base + "/")
    card = page.locator("#feed-es breaking-ticker")
    expect(card.locator(".slot li .txt")).to_have_text(key)
    expect(card.locator(".slot li .pin")).to_have_text("Fijado")
    server.unpin("es")
    expect(card.locator(".slot li")).to_have_count(0)
