"""Syndication: ``/feeds/{feed}.atom`` (Atom 1.0) and ``/feeds/{feed}.json`` (JSON Feed 1.1).

On both engines: the Atom document parses without ``bozo`` and lists what was published,
corrections carry their new ``updated``, retractions drop out, JSON Feed has its required
fields, conditional requests get ``304``, hostile text stays text, and an unknown feed is a
problem+json ``404``.
"""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

import feedparser
import httpx
import pytest

from tests.servers import Server, running, token

ATOM = "{http://www.w3.org/2005/Atom}"
HOSTILE = "<img src=x onerror=alert(1)> ]]> & <![CDATA[x]]> </title>"


@pytest.fixture
def client(server: Server) -> httpx.Client:
    return httpx.Client(base_url=server.url, timeout=10,
                        headers={"Authorization": f"Bearer {token()}"})


def publish(client: httpx.Client, feed: str, **body: Any) -> dict[str, Any]:
    response = client.post(f"/api/v1/feeds/{feed}/items", json=body)
    assert response.status_code == 201, response.text
    item: dict[str, Any] = response.json()
    return item


def atom(client: httpx.Client, feed: str) -> Any:
    response = client.get(f"/feeds/{feed}.atom")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/atom+xml; charset=utf-8"
    parsed = feedparser.parse(response.content,
                              response_headers={"content-type": response.headers["content-type"]})
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    return parsed


def json_feed(client: httpx.Client, feed: str) -> dict[str, Any]:
    response = client.get(f"/feeds/{feed}.json")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/feed+json"
    body: dict[str, Any] = response.json()
    return body


def item_id(entry_id: str) -> str:
    """The item id at the end of an entry's tag URI."""
    return entry_id.rsplit("/", 1)[-1]


def check_json_feed(doc: dict[str, Any], server: Server, feed: str) -> None:
    """The fields JSON Feed 1.1 requires, and the ones this service promises."""
    assert doc["version"] == "https://jsonfeed.org/version/1.1"
    assert isinstance(doc["title"], str) and doc["title"]
    assert doc["feed_url"] == f"{server.url}/feeds/{feed}.json"
    assert doc["home_page_url"].startswith(server.url + "/")
    assert isinstance(doc["items"], list)
    for entry in doc["items"]:
        assert isinstance(entry["id"], str) and entry["id"]
        assert isinstance(entry["content_text"], str) and entry["content_text"]
        assert "content_html" not in entry
        for key in ("date_published", "date_modified"):
            assert entry[key].endswith("Z")
        assert entry["authors"] and all(a["name"] for a in entry["authors"])
        assert isinstance(entry.get("tags", []), list)


def test_atom_lists_the_published_items(client: httpx.Client, server: Server) -> None:
    first = publish(client, "en", text="Markets open lower.")
    second = publish(client, "en", text="One person was killed in an airstrike on a car.",
                     source="Lebanese Ministry of Health", urgency=2, category="health",
                     regions=["mena", "palestine"], url="https://example.com/story?a=1&b=2")
    third = publish(client, "en", text="Elecciones en España.", lang="es")

    parsed = atom(client, "en")
    feed = parsed.feed
    assert feed.id.startswith("tag:") and feed.id.endswith(":ticker/en")
    assert feed.title == "Breaking news"
    assert feed.language == "en"
    assert feed.updated == third["updated_at"]
    assert feed.author
    links = {(link.rel, link.get("type")): link.href for link in feed.links}
    assert links[("self", "application/atom+xml")] == f"{server.url}/feeds/en.atom"
    assert links[("alternate", "text/html")] == f"{server.url}/embed/en"
    assert links[("alternate", "application/feed+json")] == f"{server.url}/feeds/en.json"

    entries = {item_id(e.id): e for e in parsed.entries}
    assert [item_id(e.id) for e in parsed.entries] == [third["id"], second["id"], first["id"]]
    for item in (first, second, third):
        entry = entries[item["id"]]
        assert entry.title == item["text"]
        assert entry.updated == item["updated_at"]
        assert entry.published == item["published_at"]
        assert entry.author == "alice"
    rich = entries[second["id"]]
    assert rich.contributors == [{"name": "Lebanese Ministry of Health"}]
    assert rich.content[0].value == f"Lebanese Ministry of Health: {second['text']}"
    assert rich.link == "https://example.com/story?a=1&b=2"
    assert [t.term for t in rich.tags] == ["health", "mena", "palestine"]
    assert entries[third["id"]].content[0].language == "es"

    # The same entries, in the same order, as JSON Feed.
    doc = json_feed(client, "en")
    check_json_feed(doc, server, "en")
    assert [item_id(i["id"]) for i in doc["items"]] == [third["id"], second["id"], first["id"]]
    assert [i["id"] for i in doc["items"]] == [e.id for e in parsed.entries]
    rich_json = doc["items"][1]
    assert rich_json["url"] == second["url"]
    assert rich_json["tags"] == ["health", "mena", "palestine"]
    assert rich_json["authors"] == [{"name": "alice"}]
    assert rich_json["date_published"] == second["published_at"]
    assert rich_json["_ticker"]["urgency"] == 2
    assert "url" not in doc["items"][0]


def test_arabic_feed_is_arabic(client: httpx.Client, server: Server) -> None:
    text = "وزارة الصحة اللبنانية: استشهاد شخص في غارة على سيارة في برج قلاوية"
    item = publish(client, "ar", text=text, source="الميادين", regions=["mena"])
    parsed = atom(client, "ar")
    assert parsed.feed.language == "ar" and parsed.feed.title == "عاجل"
    (entry,) = parsed.entries
    assert entry.title == text and item_id(entry.id) == item["id"]
    assert entry.content[0].value == f"الميادين: {text}"
    doc = json_feed(client, "ar")
    check_json_feed(doc, server, "ar")
    assert doc["language"] == "ar" and doc["title"] == "عاجل"
    assert doc["items"][0]["content_text"] == f"الميادين: {text}"
    assert doc["items"][0]["language"] == "ar"


def test_a_correction_carries_its_new_updated_and_a_retraction_drops_out(
        client: httpx.Client, server: Server) -> None:
    kept = publish(client, "en", text="Three people were killed.", source="Civil Defence")
    pulled = publish(client, "en", text="An unconfirmed report.")
    before = atom(client, "en")
    assert {item_id(e.id) for e in before.entries} == {kept["id"], pulled["id"]}

    corrected = client.patch(f"/api/v1/feeds/en/items/{kept['id']}",
                             json={"text": "Four people were killed.", "source": None})
    assert corrected.status_code == 200, corrected.text
    fixed = corrected.json()
    assert fixed["version"] == 2 and fixed["updated_at"] > kept["updated_at"]

    parsed = atom(client, "en")
    entry = {item_id(e.id): e for e in parsed.entries}[kept["id"]]
    assert entry.title == "Four people were killed."
    assert entry.updated == fixed["updated_at"]
    assert entry.published == kept["published_at"]
    assert "contributors" not in entry
    assert parsed.feed.updated == fixed["updated_at"]

    retracted = client.delete(f"/api/v1/feeds/en/items/{pulled['id']}")
    assert retracted.status_code == 200, retracted.text
    canceled = retracted.json()
    assert canceled["status"] == "canceled"

    parsed = atom(client, "en")
    assert [item_id(e.id) for e in parsed.entries] == [kept["id"]]
    # The feed changed when the item was pulled, though no remaining entry is newer.
    assert parsed.feed.updated == canceled["updated_at"]
    doc = json_feed(client, "en")
    check_json_feed(doc, server, "en")
    assert [item_id(i["id"]) for i in doc["items"]] == [kept["id"]]
    assert doc["items"][0]["date_modified"] == fixed["updated_at"]
    assert doc["items"][0]["content_text"] == "Four people were killed."
    assert doc["items"][0]["_ticker"]["version"] == 2


def test_hostile_text_stays_text(client: httpx.Client) -> None:
    item = publish(client, "en", text=HOSTILE, source="<b>Desk</b> & co",
                   url="https://example.com/?q=<script>&x=\"1\"")
    raw = client.get("/feeds/en.atom").content
    assert b"<img" not in raw and b"<script" not in raw and b"<b>" not in raw
    assert b"]]>" not in raw and b"<![CDATA[" not in raw
    # A strict XML parser reads back exactly what was published.
    root = ET.fromstring(raw)
    entry = root.find(f"{ATOM}entry")
    assert entry is not None
    assert entry.findtext(f"{ATOM}title") == HOSTILE
    assert entry.findtext(f"{ATOM}content") == f"<b>Desk</b> & co: {HOSTILE}"
    assert entry.findtext(f"{ATOM}contributor/{ATOM}name") == "<b>Desk</b> & co"
    link = entry.find(f"{ATOM}link[@rel='alternate']")
    assert link is not None and link.get("href") == item["url"]
    # feedparser too, and it does not take the text for markup.
    parsed = atom(client, "en")
    assert parsed.entries[0].title == HOSTILE
    assert parsed.entries[0].title_detail.type == "text/plain"
    # JSON Feed carries it as content_text only, never as HTML.
    doc = json_feed(client, "en")
    assert doc["items"][0]["content_text"] == f"<b>Desk</b> & co: {HOSTILE}"
    assert "content_html" not in doc["items"][0]


def test_an_empty_feed_is_still_a_valid_document(client: httpx.Client, server: Server) -> None:
    parsed = atom(client, "es")
    assert parsed.entries == [] and parsed.feed.title == "Última hora"
    assert parsed.feed.updated == "1970-01-01T00:00:00Z"
    doc = json_feed(client, "es")
    check_json_feed(doc, server, "es")
    assert doc["items"] == [] and doc["language"] == "es"


@pytest.mark.parametrize("kind", ["atom", "json"])
def test_conditional_requests_get_304(client: httpx.Client, kind: str) -> None:
    path = f"/feeds/en.{kind}"
    publish(client, "en", text="First line.")
    first = client.get(path)
    assert first.status_code == 200
    # links come from the request's Host here (no TICKER_PUBLIC_URL): no shared cache may keep it
    assert first.headers["cache-control"] == "private, max-age=15"
    assert first.headers["access-control-allow-origin"] == "*"
    etag = first.headers["etag"]
    assert etag.startswith('"') and etag.endswith('"')  # strong

    again = client.get(path, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == etag
    assert client.get(path, headers={"If-None-Match": f'"other", W/{etag}'}).status_code == 304
    assert client.get(path, headers={"If-None-Match": '"other"'}).status_code == 200

    # Last-Modified is only handed out once the second of the latest change is over (an HTTP
    # date cannot tell that change from a later one in the same second); wait for it.
    last_modified = wait_for_last_modified(client, path)
    assert client.get(path, headers={"If-Modified-Since": last_modified}).status_code == 304
    earlier = format_datetime(parsedate_to_datetime(last_modified).replace(year=2000),
                              usegmt=True)
    assert client.get(path, headers={"If-Modified-Since": earlier}).status_code == 200
    assert client.get(path, headers={"If-Modified-Since": "not a date"}).status_code == 200
    # If-None-Match wins over If-Modified-Since (RFC 9110 §13.2.2).
    assert client.get(path, headers={"If-None-Match": '"other"',
                                     "If-Modified-Since": last_modified}).status_code == 200

    # Any change makes both validators stale.
    publish(client, "en", text="Second line.")
    changed = client.get(path, headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag
    assert client.get(path, headers={"If-Modified-Since": last_modified}).status_code == 200


def wait_for_last_modified(client: httpx.Client, path: str) -> str:
    for _ in range(100):
        response = client.get(path)
        if "last-modified" in response.headers:
            value: str = response.headers["last-modified"]
            return value
        time.sleep(0.05)
    pytest.fail("Last-Modified never appeared")


def test_a_retraction_makes_the_validators_stale(client: httpx.Client) -> None:
    item = publish(client, "en", text="A line that will be pulled.")
    publish(client, "en", text="A line that stays.")
    last_modified = wait_for_last_modified(client, "/feeds/en.atom")
    etag = client.get("/feeds/en.atom").headers["etag"]
    assert client.delete(f"/api/v1/feeds/en/items/{item['id']}").status_code == 200
    assert client.get("/feeds/en.atom", headers={"If-None-Match": etag}).status_code == 200
    assert client.get("/feeds/en.atom",
                      headers={"If-Modified-Since": last_modified}).status_code == 200


def test_an_unknown_feed_is_a_404_problem(client: httpx.Client) -> None:
    for path in ("/feeds/sports.atom", "/feeds/sports.json", "/feeds/EN.atom",
                 "/feeds/en.json.atom"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert response.headers["content-type"] == "application/problem+json"
        problem = response.json()
        assert problem["status"] == 404 and problem["type"].endswith("/not-found")
        assert problem["instance"] == path


def test_feeds_are_readable_from_any_origin(broker: str) -> None:
    """Like the widget script, feeds are public documents: CORS for every origin, even when
    the API's origins are restricted."""
    with running(broker, TICKER_ALLOWED_ORIGINS="https://news.example") as server:
        for kind in ("atom", "json"):
            for origin in ("https://news.example", "https://reader.example"):
                response = httpx.get(f"{server.url}/feeds/en.{kind}", headers={"Origin": origin},
                                     timeout=10)
                assert response.status_code == 200
                assert response.headers["access-control-allow-origin"] in ("*", origin)
                assert "ETag" in response.headers["access-control-expose-headers"]


FORGED = {"Host": "attacker.example"}


@pytest.mark.parametrize("broker", ["memory", "redis"])
def test_the_configured_public_url_wins_over_the_host_header(broker: str) -> None:
    public = "https://ticker.example.com"
    with running(broker, TICKER_PUBLIC_URL=public + "/") as server, \
            httpx.Client(base_url=server.url, timeout=10,
                         headers={"Authorization": f"Bearer {token()}"}) as client:
        item = publish(client, "en", text="Links name the configured host")
        for kind in ("atom", "json"):
            response = client.get(f"/feeds/en.{kind}", headers=FORGED)
            assert response.status_code == 200
            assert "attacker.example" not in response.text
            assert response.headers["cache-control"] == "public, max-age=15"
        doc = client.get("/feeds/en.json", headers=FORGED).json()
        assert doc["feed_url"] == f"{public}/feeds/en.json"
        assert doc["items"][0]["id"] == f"tag:ticker.example.com,2026:ticker/en/{item['id']}"
        parsed = atom(client, "en")
        assert parsed.feed.id == "tag:ticker.example.com,2026:ticker/en"
        spec = client.get("/api/v1/openapi.json", headers=FORGED)
        assert spec.json()["servers"] == [{"url": public}]
        assert spec.headers["cache-control"] == "no-cache"


def test_a_host_header_reflected_into_links_is_never_shared(server: Server) -> None:
    with httpx.Client(base_url=server.url, timeout=10) as anon:
        for path in ("/feeds/en.atom", "/feeds/en.json", "/api/v1/openapi.json"):
            response = anon.get(path, headers=FORGED)
            assert response.status_code == 200, path
            cache = [d.strip() for d in response.headers["cache-control"].split(",")]
            assert "private" in cache and "public" not in cache, path
        assert anon.get("/api/v1/openapi.json", headers=FORGED).json()["servers"] == [
            {"url": "http://attacker.example"}]
