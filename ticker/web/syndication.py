"""Syndication: a feed's latest items as Atom 1.0 (RFC 4287) and JSON Feed 1.1.

Both documents come from one consistent read of the feed (``Broker.head``): the items on the air,
so withheld, killed and expired items drop out and corrected ones carry their new
``updated_at``. The Atom document also carries an RFC 6721 ``at:deleted-entry`` tombstone
(``ref``: the entry's id, ``when``: when it left the air, and the reason as ``at:comment``) for
every item taken off the air by one of the last ``TOMBSTONE_WINDOW`` events and not back since.

Every request is answered with a strong ``ETag`` (a hash of the body) and, once it is safe, a
``Last-Modified``; ``If-None-Match`` and ``If-Modified-Since`` are answered with ``304``.
Links and ids use ``TICKER_PUBLIC_URL`` when it is set; otherwise they come from the request's
``Host`` and the document is ``private`` to the client that asked (``ticker.web.base_url``).

``Last-Modified`` is the time of the feed's latest change of any kind, including a retraction
(which removes an item and so makes no remaining item newer). HTTP dates have one-second
resolution, so a ``Last-Modified`` handed out during the second of the latest change could not
tell that change from a later one in the same second; following RFC 9110 §8.8.2.2, it is only
sent once that second is over. ``ETag`` has no such blind spot and is always sent.

Text from items is never trusted: the Atom document is built with ``xml.etree.ElementTree``,
which escapes every text node and attribute, and characters XML 1.0 cannot carry are dropped.
"""

from __future__ import annotations

import hashlib
import re
import time
import uuid
import xml.etree.ElementTree as ET
from email.utils import format_datetime
from typing import NamedTuple
from urllib.parse import urlsplit

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from ticker import codec
from ticker.brokers.base import Entry
from ticker.config import FeedConfig
from ticker.model import Event, Item, ItemEvent, RetractEvent, UpdateEvent
from ticker.runtime import Runtime
from ticker.web.base_url import base_url
from ticker.web.conditional import last_modified_of, not_modified

ATOM_NS = "http://www.w3.org/2005/Atom"
TOMBSTONES_NS = "http://purl.org/atompub/tombstones/1.0"  # RFC 6721
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
ATOM_MEDIA_TYPE = "application/atom+xml; charset=utf-8"
JSON_FEED_MEDIA_TYPE = "application/feed+json"
JSON_FEED_VERSION = "https://jsonfeed.org/version/1.1"
CACHE_CONTROL = "public, max-age=15"
# How many of the latest items a syndicated document carries (capped by ``limits.latest_max``).
SYNDICATED_ITEMS = 50
# How many of the latest events are searched for items taken off the air (Atom tombstones).
TOMBSTONE_WINDOW = 200
# The date part of the tag URIs (RFC 4151) that name feeds and entries. It is part of every id
# ever handed out, so it must never change.
TAG_DATE = "2026"
EMPTY_FEED_UPDATED = "1970-01-01T00:00:00Z"

_DNS_NAME = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*")
# Everything outside XML 1.0's Char production (§2.2).
_NOT_XML_CHAR = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


class Gone(NamedTuple):
    """An item taken off the air: its id, when, and why (a retract ``reason``)."""

    id: str
    when: str
    reason: str


class FeedView(NamedTuple):
    """What both documents are made of: the items (newest first), the items taken off the air
    recently (newest first) and the latest change's time."""

    feed: FeedConfig
    items: list[Item]
    updated: str | None  # RFC 3339 with milliseconds; None when the feed never changed
    gone: list[Gone] = []


class Links(NamedTuple):
    """The absolute URLs one document points at, from the request's base URL."""

    base: str
    atom: str
    json: str
    home: str


# --- JSON Feed 1.1 (https://www.jsonfeed.org/version/1.1/) -----------------------------------


class JsonFeedAuthor(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    name: str


class TickerExtension(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """``_ticker``: what a ticker client needs that JSON Feed has no field for."""

    feed: str
    urgency: int
    version: int
    regions: list[str] = []
    source: str | None = None
    category: str | None = None


class JsonFeedItem(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    id: str
    content_text: str
    date_published: str
    date_modified: str
    authors: list[JsonFeedAuthor]
    language: str
    tags: list[str] = []
    url: str | None = None
    ticker: TickerExtension | None = msgspec.field(default=None, name="_ticker")


class JsonFeed(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """A JSON Feed 1.1 document; ``items`` newest first."""

    version: str
    title: str
    home_page_url: str
    feed_url: str
    language: str
    items: list[JsonFeedItem]
    authors: list[JsonFeedAuthor] = []


# --- the handlers ---------------------------------------------------------------------------


async def atom_feed(request: Request) -> Response:
    view = await _view(request)
    body = atom_document(view, _links(request, view.feed))
    return _conditional(request, body, ATOM_MEDIA_TYPE, view.updated)


async def json_feed(request: Request) -> Response:
    view = await _view(request)
    body = codec.encode(json_feed_document(view, _links(request, view.feed)))
    return _conditional(request, body, JSON_FEED_MEDIA_TYPE, view.updated)


async def _view(request: Request) -> FeedView:
    runtime: Runtime = request.app.state.runtime
    feed = runtime.feed(request.path_params["feed"])
    count = min(SYNDICATED_ITEMS, runtime.settings.limits.latest_max)
    # One consistent read: the latest items and the last events agree with each other.
    head = await runtime.broker.head(feed.id, count, TOMBSTONE_WINDOW)
    items = [codec.item_decoder.decode(data) for data in reversed(head.items)]
    gone = await gone_entries(runtime, feed.id, head.tail, {item.id for item in items})
    updated = max([*(item.updated_at for item in items), *(g.when for g in gone)], default=None)
    return FeedView(feed, items, updated, gone)


async def gone_entries(runtime: Runtime, feed: str, tail: list[Entry],
                       on_air: set[str]) -> list[Gone]:
    """The items the events in ``tail`` took off the air and that are not back, newest first.

    When: a withheld or killed item's ``updated_at`` (stamped by that step; a killed item cannot
    change any more), an expired one's ``expires``.
    """
    last: dict[str, str] = {}  # id → the reason of its latest retraction, or "" if back since
    for entry in tail:
        event: Event = codec.event_decoder.decode(entry.data)
        if isinstance(event, RetractEvent):
            last[event.id] = event.reason
        elif isinstance(event, (ItemEvent, UpdateEvent)):
            last[event.item.id] = ""
    ids = [i for i, reason in last.items() if reason and i not in on_air]
    gone = []
    for ident, data in zip(ids, await runtime.broker.get_items(feed, ids), strict=True):
        if data is None:
            continue
        item = codec.item_decoder.decode(data)
        when = item.expires if last[ident] == "expired" and item.expires else item.updated_at
        gone.append(Gone(ident, when, last[ident]))
    gone.sort(key=lambda g: g.when, reverse=True)
    return gone


def _links(request: Request, feed: FeedConfig) -> Links:
    base = base_url(request).url
    return Links(base=base, atom=f"{base}feeds/{feed.id}.atom",
                 json=f"{base}feeds/{feed.id}.json", home=f"{base}embed/{feed.id}")


# --- the documents --------------------------------------------------------------------------


def _xml_text(text: str) -> str:
    return _NOT_XML_CHAR.sub("", text)


def _tag_uri(base: str, specific: str) -> str:
    """A stable id (RFC 4151 tag URI) under the host the service is reached at."""
    host = (urlsplit(base).hostname or "").lower()
    if not _DNS_NAME.fullmatch(host):  # not usable as a tag authority (e.g. an IPv6 literal)
        return uuid.uuid5(uuid.NAMESPACE_URL, f"{base}#{specific}").urn
    return f"tag:{host},{TAG_DATE}:ticker/{specific}"


def _sub(parent: ET.Element, tag: str, text: str | None = None,
         **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, tag,
                            {k: _xml_text(v) for k, v in attrs.items()})
    if text is not None:
        element.text = _xml_text(text)
    return element


def _attributed(item: Item) -> str:
    """The line as the ticker shows it: the source, then the text."""
    return f"{item.source}: {item.text}" if item.source else item.text


def atom_document(view: FeedView, links: Links) -> bytes:
    feed = view.feed
    # Unqualified names under a literal default namespace declaration: ElementTree's
    # ``default_namespace`` option would refuse Atom's unqualified attributes.
    root = ET.Element("feed", {"xmlns": ATOM_NS, "xmlns:at": TOMBSTONES_NS,
                               XML_LANG: _xml_text(feed.lang)})
    _sub(root, "id", _tag_uri(links.base, feed.id))
    _sub(root, "title", feed.title, type="text")
    _sub(root, "updated", view.updated or EMPTY_FEED_UPDATED)
    author = _sub(root, "author")
    _sub(author, "name", feed.title)
    _sub(author, "uri", links.home)
    _sub(root, "link", rel="self", type="application/atom+xml", href=links.atom)
    _sub(root, "link", rel="alternate", type="text/html", href=links.home)
    _sub(root, "link", rel="alternate", type="application/feed+json", href=links.json)
    _sub(root, "generator", "ticker")
    for item in view.items:
        entry = _sub(root, "entry")
        if item.lang != feed.lang:
            entry.set(XML_LANG, _xml_text(item.lang))
        _sub(entry, "id", _tag_uri(links.base, f"{feed.id}/{item.id}"))
        _sub(entry, "title", item.text, type="text")
        _sub(entry, "updated", item.updated_at)
        _sub(entry, "published", item.published_at)
        entry_author = _sub(entry, "author")
        _sub(entry_author, "name", item.author)
        if item.source:
            contributor = _sub(entry, "contributor")
            _sub(contributor, "name", item.source)
        if item.url:
            _sub(entry, "link", rel="alternate", href=item.url)
        _sub(entry, "link", rel="related", type="application/json",
             href=f"{links.base}api/v1/feeds/{feed.id}/items/{item.id}")
        if item.category:
            _sub(entry, "category", term=item.category,
                 scheme=f"{links.base}api/v1/feeds#categories")
        for region in item.regions:
            _sub(entry, "category", term=region, scheme=f"{links.base}api/v1/feeds#regions")
        _sub(entry, "content", _attributed(item), type="text")
    for gone in view.gone:
        tombstone = _sub(root, "at:deleted-entry", ref=_tag_uri(links.base, f"{feed.id}/{gone.id}"),
                         when=gone.when)
        _sub(tombstone, "at:comment", gone.reason)
    document: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return document


def json_feed_document(view: FeedView, links: Links) -> JsonFeed:
    feed = view.feed
    items = [
        JsonFeedItem(
            id=_tag_uri(links.base, f"{feed.id}/{item.id}"),
            content_text=_attributed(item),
            url=item.url,
            date_published=item.published_at,
            date_modified=item.updated_at,
            authors=[JsonFeedAuthor(name=item.author)],
            language=item.lang,
            tags=[*([item.category] if item.category else []), *item.regions],
            ticker=TickerExtension(feed=feed.id, urgency=item.urgency, version=item.version,
                                   regions=item.regions, source=item.source,
                                   category=item.category),
        )
        for item in view.items
    ]
    return JsonFeed(version=JSON_FEED_VERSION, title=feed.title, home_page_url=links.home,
                    feed_url=links.json, language=feed.lang, items=items,
                    authors=[JsonFeedAuthor(name=feed.title)])


# --- conditional requests -------------------------------------------------------------------


def _conditional(request: Request, body: bytes, media_type: str,
                 updated: str | None) -> Response:
    etag = '"' + hashlib.sha256(body).hexdigest()[:40] + '"'
    last_modified = last_modified_of(updated, time.time())
    headers = {
        "ETag": etag,
        # Shared caches may keep the document only when its links come from the configuration.
        "Cache-Control": base_url(request).cache_control(CACHE_CONTROL),
        # Feeds are public documents for any page or reader, like the widget script; the CORS
        # middleware exposes ETag (Last-Modified is CORS-safelisted).
        "Access-Control-Allow-Origin": "*",
    }
    if last_modified is not None:
        headers["Last-Modified"] = format_datetime(last_modified, usegmt=True)
    if not_modified(request, etag, last_modified):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=media_type, headers=headers)
