"""``/live/{feed}``: the server-rendered page of the latest items, on both engines.

The page is checked by libraries that did not write it: ``extruct`` reads its JSON-LD, lxml its
markup, and the Nu HTML Checker (vnu.jar) validates it.
"""

from __future__ import annotations

import time
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urljoin

import extruct
import httpx
import lxml.html
import pytest

from tests.checkers import VNU_JAR, html_problems, tool
from tests.servers import Server, token

WAIT = 10.0  # upper bound on any wait here; never an expected duration
HOSTILE = "</script><script>alert(1)</script> & <!-- <b>bold</b>"


@pytest.fixture
def client(server: Server) -> httpx.Client:
    return httpx.Client(base_url=server.url, timeout=10,
                        headers={"Authorization": f"Bearer {token()}"})


def publish(client: httpx.Client, feed: str = "en", **body: Any) -> dict[str, Any]:
    response = client.post(f"/api/v1/feeds/{feed}/items", json=body)
    assert response.status_code == 201, response.text
    item: dict[str, Any] = response.json()
    return item


def page_when(client: httpx.Client, feed: str, ready: Any) -> httpx.Response:
    """GET /live/{feed} until ``ready(response)`` (the node applies an event a moment after the
    publish is acknowledged); bounded by WAIT."""
    deadline = time.monotonic() + WAIT
    while True:
        response = client.get(f"/live/{feed}")
        assert response.status_code == 200, response.text
        if ready(response) or time.monotonic() > deadline:
            return response
        time.sleep(0.05)


def showing(*ids: str) -> Any:
    return lambda r: all(f'data-id="{i}"' in r.text for i in ids)


def attributed(item: dict[str, Any]) -> str:
    return f"{item['source']}: {item['text']}" if item.get("source") else str(item["text"])


def live_blog(response: httpx.Response) -> dict[str, Any]:
    data = extruct.extract(response.text, base_url=str(response.url), syntaxes=["json-ld"])
    (posting,) = data["json-ld"]
    assert posting["@type"] == "LiveBlogPosting"
    result: dict[str, Any] = posting
    return result


def test_the_page_lists_the_latest_items_with_their_json_ld(client: httpx.Client,
                                                          server: Server) -> None:
    first = publish(client, text="Markets open lower.", source="Bourse", urgency=5,
                    url="https://news.example/markets")
    second = publish(client, text="Toll rises to 5.", urgency=2)
    third = publish(client, text=HOSTILE)
    response = page_when(client, "en", showing(first["id"], second["id"], third["id"]))
    assert response.headers["content-type"] == "text/html; charset=utf-8"

    doc = lxml.html.fromstring(response.content)
    assert doc.get("lang") == "en" and doc.get("dir") == "ltr"
    articles = doc.xpath("//ol/li/article")
    ids = [a.get("data-id") for a in articles]
    assert ids[:3] == [third["id"], second["id"], first["id"]]  # newest first
    newest = articles[0]
    assert newest.xpath(".//bdi")[0].text_content() == HOSTILE  # text, never markup
    assert newest.xpath(".//time/@datetime") == [third["published_at"]]
    assert not doc.xpath("//script[not(@type) or @type='module'][not(@src)]")  # no injected script

    posting = live_blog(response)
    assert posting["headline"] == "Breaking news"
    assert posting["url"] == f"{server.url}/live/en"
    assert posting["coverageStartTime"] <= first["published_at"]
    updates = posting["liveBlogUpdate"]
    assert [u["@type"] for u in updates] == ["BlogPosting"] * len(updates)
    by_body = {u["articleBody"]: u for u in updates}
    for item in (first, second, third):
        update = by_body[attributed(item)]
        assert update["headline"] == attributed(item)
        assert update["datePublished"] == item["published_at"]
        assert update["dateModified"] == item["updated_at"]
        assert update.get("url") == item.get("url")
    newest_first = [attributed(i) for i in (third, second, first)]
    assert [u["articleBody"] for u in updates[:3]] == newest_first

    links = {(ln.get("rel"), ln.get("type")): ln.get("href") for ln in doc.xpath("//head/link")}
    assert links[("alternate", "application/atom+xml")] == f"{server.url}/feeds/en.atom"
    assert links[("alternate", "application/feed+json")] == f"{server.url}/feeds/en.json"
    oembed = client.get(links[("alternate", "application/json+oembed")])
    assert oembed.status_code == 200 and oembed.json()["type"] == "rich"
    meta = {m.get("property") or m.get("name"): m.get("content") for m in doc.xpath("//meta")}
    assert meta["og:title"] and meta["og:url"] == f"{server.url}/live/en"
    assert meta["og:description"] == HOSTILE
    assert meta["twitter:card"] == "summary" and meta["twitter:description"] == HOSTILE


def test_corrections_and_retractions_show_at_once(client: httpx.Client) -> None:
    kept = publish(client, text="Bridge closed.")
    pulled = publish(client, text="Wrong report.")
    page_when(client, "en", showing(kept["id"], pulled["id"]))
    fixed = client.patch(f"/api/v1/feeds/en/items/{kept['id']}", json={"text": "Bridge reopened."})
    assert fixed.status_code == 200, fixed.text
    assert client.delete(f"/api/v1/feeds/en/items/{pulled['id']}").status_code == 200
    response = page_when(client, "en", lambda r: "Bridge reopened." in r.text
                         and f'data-id="{pulled["id"]}"' not in r.text)
    assert "Bridge reopened." in response.text and "Wrong report." not in response.text
    bodies = [u["articleBody"] for u in live_blog(response)["liveBlogUpdate"]]
    assert "Bridge reopened." in bodies and "Wrong report." not in bodies


def test_lang_and_dir_come_from_the_feed(client: httpx.Client) -> None:
    item = publish(client, "ar", text="ارتفاع عدد الضحايا")
    response = page_when(client, "ar", showing(item["id"]))
    doc = lxml.html.fromstring(response.content)
    assert doc.get("lang") == "ar" and doc.get("dir") == "rtl"
    assert live_blog(response)["inLanguage"] == "ar"


def test_the_page_is_valid_html(client: httpx.Client) -> None:
    tool(VNU_JAR)
    empty = client.get("/live/es")  # a feed with nothing yet
    assert empty.status_code == 200
    assert html_problems(empty.content) == []
    publish(client, text=HOSTILE, source="A <source>", url="https://news.example/?a=1&b=2")
    flash = publish(client, text="Second line", urgency=1)
    response = page_when(client, "en", showing(flash["id"]))
    assert html_problems(response.content) == []
    embed = client.get("/embed/en")
    assert html_problems(embed.content) == []


def test_conditional_get(client: httpx.Client) -> None:
    item = publish(client, text="Polls close.")
    response = page_when(client, "en", showing(item["id"]))
    etag = response.headers["etag"]
    assert client.get("/live/en").headers["etag"] == etag  # the same state, the same bytes
    assert client.get("/live/en", headers={"If-None-Match": etag}).status_code == 304
    # Last-Modified is sent once the second of the latest change is over
    deadline = time.monotonic() + WAIT
    while "last-modified" not in response.headers and time.monotonic() < deadline:
        time.sleep(0.2)
        response = client.get("/live/en")
    modified = response.headers["last-modified"]
    assert parsedate_to_datetime(modified).timestamp() <= time.time()
    assert client.get("/live/en", headers={"If-Modified-Since": modified}).status_code == 304

    newer = publish(client, text="Results expected at ten.")
    changed = page_when(client, "en", showing(newer["id"]))
    assert changed.headers["etag"] != etag
    assert client.get("/live/en", headers={"If-None-Match": etag}).status_code == 200


def test_unknown_feeds_are_404(client: httpx.Client) -> None:
    for path in ("/live/nope", "/live/NOT-A-FEED", "/live/" + "x" * 40):
        response = client.get(path)
        assert response.status_code == 404, path
        assert response.headers["content-type"].startswith("text/html")


def test_the_stylesheet_is_valid_css(client: httpx.Client) -> None:
    response = client.get(urljoin(f"{client.base_url}/live/en", "../static/live.css"))
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/css; charset=utf-8"
    assert html_problems(response.content, "--css") == []


def test_the_pinned_item_comes_first_and_held_items_leave(client: httpx.Client) -> None:
    pinned = publish(client, text="Curfew from 8 pm.", urgency=3)
    newer = publish(client, text="Roads reopen.")
    assert client.put("/api/v1/feeds/en/pin", json={"id": pinned["id"]}).status_code == 200
    response = page_when(client, "en", lambda r: 'class="pinned"' in r.text
                         and f'data-id="{newer["id"]}"' in r.text)
    doc = lxml.html.fromstring(response.content)
    ids = doc.xpath("//ol/li/article/@data-id")
    assert ids[0] == pinned["id"] and ids.count(pinned["id"]) == 1
    assert ids.index(newer["id"]) == 1
    assert live_blog(response)["liveBlogUpdate"][0]["articleBody"] == "Curfew from 8 pm."
    assert client.post(f"/api/v1/feeds/en/items/{newer['id']}/hold").status_code == 200
    held = page_when(client, "en", lambda r: f'data-id="{newer["id"]}"' not in r.text)
    assert f'data-id="{newer["id"]}"' not in held.text
