"""The /live page's HTML as a pure function of a feed's state: pinned first, text stays text,
JSON-LD that no item can break out of."""

from __future__ import annotations

from typing import Any

import extruct
import lxml.html
import msgspec

from tests.checkers import html_problems
from ticker.config import default_feeds
from ticker.model import Item
from ticker.web.live_page import HEADLINE_MAX, LiveView, render

BASE = "https://news.example/ticker/"
EN, AR = default_feeds()[0], default_feeds()[1]
HOSTILE = '</script><script>alert(1)</script>"\' onload=x <!-- & </title>'


def item(n: int, **fields: Any) -> Item:
    stamp = f"2026-11-30T10:{n:02d}:00.000Z"
    base = {"id": f"id{n}", "feed": "en", "text": f"Line {n}", "urgency": 4, "regions": [],
            "lang": "en", "author": "amal", "version": 1, "status": "usable",
            "published_at": stamp, "updated_at": stamp}
    return msgspec.convert({**base, **fields}, Item)


def page(view: LiveView) -> tuple[str, Any, dict[str, Any]]:
    html = render(view, BASE, 20).decode()
    (posting,) = extruct.extract(html, base_url=f"{BASE}live/en", syntaxes=["json-ld"])["json-ld"]
    return html, lxml.html.fromstring(html), posting


def test_the_pinned_item_comes_first_and_once() -> None:
    pinned = item(1, text="Ceasefire announced", urgency=1)
    view = LiveView(EN, [item(3), item(2)], pinned, "e:3", "2026-11-30T10:03:00.000Z")
    html, doc, posting = page(view)
    assert html_problems(html.encode()) == []  # the Nu HTML Checker: valid, no warning
    ids = doc.xpath("//ol/li/article/@data-id")
    assert ids == ["id1", "id3", "id2"]
    first = doc.xpath("//ol/li")[0]
    assert "pinned" in first.get("class") and first.xpath(".//strong")[0].text == "Pinned"
    assert [u["@id"].rsplit("#", 1)[1] for u in posting["liveBlogUpdate"]] == [
        "item-id1", "item-id3", "item-id2"]


def test_item_text_is_text_everywhere() -> None:
    hostile = item(1, text=HOSTILE, source=HOSTILE, url="https://x.example/?a=1&b=</script>")
    html, doc, posting = page(LiveView(EN, [hostile], None, "e:1", None))
    assert html.count("<script") == 2  # the JSON-LD block and the widget module, no more
    assert doc.xpath("//bdi")[0].text_content() == HOSTILE
    assert doc.xpath("//meta[@property='og:description']/@content") == [f"{HOSTILE}: {HOSTILE}"]
    assert posting["liveBlogUpdate"][0]["articleBody"] == f"{HOSTILE}: {HOSTILE}"
    assert doc.xpath("//a[@class='story']/@href") == ["https://x.example/?a=1&b=</script>"]


def test_headlines_are_cut_and_bodies_kept() -> None:
    long = item(1, text="word " * 60)
    _, _, posting = page(LiveView(EN, [long], None, "e:1", None))
    update = posting["liveBlogUpdate"][0]
    assert len(update["headline"]) <= HEADLINE_MAX and update["headline"].endswith("…")
    assert update["articleBody"] == long.text


def test_language_and_direction() -> None:
    mixed = item(1, text="Reuters: talks resume", lang="en", feed="ar")
    _, doc, posting = page(LiveView(AR, [mixed], None, "e:1", None))
    assert (doc.get("lang"), doc.get("dir")) == ("ar", "rtl")
    assert doc.xpath("//article/@lang") == ["en"]  # an item in another language says so
    assert posting["inLanguage"] == "ar"


def test_an_empty_feed_says_so() -> None:
    _, doc, posting = page(LiveView(EN, [], None, "e:0", None))
    assert doc.xpath("//ol/li[@class='none']")
    assert posting["liveBlogUpdate"] == [] and "coverageStartTime" not in posting
