"""``GET /live/{feed}``: the feed's latest items as a page search engines and link previews read.

The page is rendered from the node's own state of the feed (the hub's snapshot — the same items a
new WebSocket reader gets, with no broker round trip) and kept per feed and public base URL until
the feed's cursor moves: every event (item, correction, retraction, ...) moves it, so the next
request renders afresh and all others are served from memory. Conditional requests
(``If-None-Match``, ``If-Modified-Since``) are answered with ``304`` as the syndicated feeds are.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from dataclasses import dataclass
from email.utils import format_datetime

import msgspec
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from ticker import codec
from ticker.brokers.base import BrokerUnavailableError, Entry
from ticker.config import FeedConfig
from ticker.hub.filters import Matcher
from ticker.model import Event, Item, ItemEvent, RetractEvent, UpdateEvent
from ticker.runtime import Runtime
from ticker.web.base_url import base_url
from ticker.web.conditional import last_modified_of, not_modified
from ticker.web.live_page import LiveView, render
from ticker.web.syndication import gone_entries

CACHE_CONTROL = "no-cache"  # always revalidate: the page is live, and revalidation is cheap
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'self'"
)
MAX_CACHED = 64  # rendered pages kept (feeds × public base URLs seen); the oldest go first
NOT_FOUND = (b'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Not found'
             b"</title></head><body><h1>Not found</h1><p>There is no such feed.</p></body></html>")


class _Snapshot(msgspec.Struct, kw_only=True):
    """The hub's snapshot frame, read for the page (fields the page does not need are ignored;
    ``pinned`` is there once the feed has a pinned item)."""

    cursor: str
    items: list[Item]
    pinned: Item | None = None


_snapshot_decoder = msgspec.json.Decoder(_Snapshot)


@dataclass(frozen=True, slots=True)
class Rendered:
    cursor: str
    body: bytes
    etag: str
    updated: str | None


async def _event_time(runtime: Runtime, feed: str, entry: Entry) -> str | None:
    """When the event happened: an item's or correction's ``updated_at``; for a retraction,
    when the item left the air; for any other event (a pin), ``None``: unknown."""
    event: Event = codec.event_decoder.decode(entry.data)
    if isinstance(event, ItemEvent | UpdateEvent):
        return event.item.updated_at
    if isinstance(event, RetractEvent):
        try:
            gone = await gone_entries(runtime, feed, [entry], set())
        except BrokerUnavailableError:
            return None
        return gone[0].when if gone else None
    return None


class LivePages:
    """Rendered pages by (feed, base URL), each valid while its feed's cursor has not moved."""

    def __init__(self) -> None:
        self._pages: OrderedDict[tuple[str, str], Rendered] = OrderedDict()
        self.renders = 0  # how many times a page was rendered (the rest came from memory)

    async def page(self, runtime: Runtime, feed: FeedConfig, base: str) -> Rendered:
        state = runtime.hub.feeds.get(feed.id)
        if state is None or feed.id not in runtime.relay.loaded:
            raise BrokerUnavailableError("the feed's state is not loaded yet")  # a 503
        key = (feed.id, base)
        cached = self._pages.get(key)
        if cached is not None and cached.cursor == state.cursor:
            self._pages.move_to_end(key)
            return cached
        cursor = state.cursor
        snapshot = _snapshot_decoder.decode(
            state.snapshot_json(runtime.hub.snapshot_size, Matcher(None)))
        last_event = state.ring[-1] if state.ring else None
        pinned = snapshot.pinned
        items = [i for i in reversed(snapshot.items) if pinned is None or i.id != pinned.id]
        updated = max((i.updated_at for i in items + ([pinned] if pinned else [])),
                      default=None)
        if last_event is not None:
            at = await _event_time(runtime, feed.id, Entry(last_event.seq, last_event.data))
            # an event whose time is unknown: no Last-Modified (the ETag still works)
            updated = None if at is None else max(at, updated or at)
        body = render(LiveView(feed, items, pinned, snapshot.cursor, updated), base,
                      runtime.hub.snapshot_size)
        rendered = Rendered(cursor, body, '"' + hashlib.sha256(body).hexdigest()[:40] + '"',
                            updated)
        self.renders += 1
        if state.cursor == cursor:  # no event arrived while the broker was asked
            self._pages[key] = rendered
            self._pages.move_to_end(key)
            while len(self._pages) > MAX_CACHED:
                self._pages.popitem(last=False)
        return rendered


def _pages(request: Request) -> LivePages:
    pages: LivePages | None = getattr(request.app.state, "live_pages", None)
    if pages is None:
        pages = request.app.state.live_pages = LivePages()
    return pages


async def live_page(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    name = request.path_params["feed"]
    feed = runtime.settings.feed(name)
    if feed is None:
        return HTMLResponse(NOT_FOUND, status_code=404)
    base = base_url(request)
    rendered = await _pages(request).page(runtime, feed, base.url)
    headers = {"ETag": rendered.etag, "Cache-Control": base.cache_control(CACHE_CONTROL),
               "Content-Security-Policy": CSP,
               "Referrer-Policy": "strict-origin-when-cross-origin"}
    last_modified = last_modified_of(rendered.updated, time.time())
    if last_modified is not None:
        headers["Last-Modified"] = format_datetime(last_modified, usegmt=True)
    if not_modified(request, rendered.etag, last_modified):
        return Response(status_code=304, headers=headers)
    return HTMLResponse(rendered.body, headers=headers)


__all__ = ["LivePages", "live_page"]
