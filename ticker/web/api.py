"""The HTTP API handlers: decode, call the newsroom or the broker, encode. Nothing else."""

from __future__ import annotations

import re

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from ticker import codec
from ticker.auth import Claims
from ticker.config import FeedConfig
from ticker.cursor import Cursor
from ticker.errors import InvalidInput, NotFound
from ticker.model import (
    DESK_STATUSES,
    EventsSinceOf,
    FeedInfo,
    FieldError,
    LatestItemsOf,
    PinStateOf,
)
from ticker.runtime import Runtime
from ticker.validation import decode_patch, decode_pin, decode_publish, query_int
from ticker.views import private_item, public_item
from ticker.web.body import read_json_body

JSON = "application/json"
IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,200}")  # used with fullmatch


def runtime_of(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def _feed(runtime: Runtime, request: Request) -> FeedConfig:
    return runtime.feed(request.path_params["feed"])


def _claims(runtime: Runtime, request: Request) -> Claims:
    return runtime.verifier.verify(request.headers.get("authorization"))


def _item_response(feed: str, data: bytes, item_id: str, status: int) -> Response:
    headers = {"Location": f"/api/v1/feeds/{feed}/items/{item_id}"}
    return Response(data, status, headers=headers, media_type=JSON)


async def publish(request: Request) -> Response:
    runtime = runtime_of(request)
    feed = _feed(runtime, request)
    claims = _claims(runtime, request)
    key = request.headers.get("idempotency-key")
    if key is not None and not IDEMPOTENCY_KEY.fullmatch(key):
        raise InvalidInput([FieldError(path="header.Idempotency-Key",
                                       message="must be 1 to 200 printable ASCII characters")])
    body = decode_publish(await read_json_body(request, runtime.settings.limits.body_max),
                          feed, runtime.settings.limits)
    outcome = await runtime.newsroom.publish(claims, feed, body, key)
    scheduled = outcome.item.status in DESK_STATUSES
    if outcome.created and not scheduled:
        runtime.metrics.events.labels(feed.id, "item").inc()
    status = (202 if scheduled else 201) if outcome.created else 200
    if outcome.created and (scheduled or outcome.item.expires):
        runtime.scheduler.wake()  # it is on the schedule
    return _item_response(feed.id, outcome.data, outcome.item.id, status)


async def correct(request: Request) -> Response:
    runtime = runtime_of(request)
    feed = _feed(runtime, request)
    claims = _claims(runtime, request)
    patch = decode_patch(await read_json_body(request, runtime.settings.limits.body_max),
                         feed, runtime.settings.limits)
    outcome = await runtime.newsroom.correct(claims, feed, request.path_params["item_id"], patch)
    if outcome.item.status == "usable":
        runtime.metrics.events.labels(feed.id, "update").inc()
    runtime.scheduler.wake()  # its times may have moved
    return _item_response(feed.id, outcome.data, outcome.item.id, 200)


async def retract(request: Request) -> Response:
    runtime = runtime_of(request)
    feed = _feed(runtime, request)
    claims = _claims(runtime, request)
    outcome = await runtime.newsroom.retract(claims, feed, request.path_params["item_id"])
    runtime.metrics.events.labels(feed.id, "retract").inc()
    return _item_response(feed.id, outcome.data, outcome.item.id, 200)


async def get_item(request: Request) -> Response:
    """The whole item for a token valid for the feed; otherwise the public view (a tombstone
    while withheld or canceled, 404 while submitted or scheduled, never the note)."""
    runtime = runtime_of(request)
    feed = _feed(runtime, request)
    item_id = request.path_params["item_id"]
    record = await runtime.newsroom.record(feed.id, item_id)
    authorization = request.headers.get("authorization")
    if authorization is not None and runtime.verifier.verify(authorization).may_write(feed.id):
        return Response(private_item(record.data, record.note, record.pinned), media_type=JSON)
    public = public_item(record.data, record.pinned)
    if public is None:
        raise NotFound(f"no item {item_id!r} in feed {feed.id!r}")
    return Response(public, media_type=JSON)


async def hold(request: Request) -> Response:
    return await _editorial(request, "hold")


async def release(request: Request) -> Response:
    return await _editorial(request, "release")


async def _editorial(request: Request, action: str) -> Response:
    """``POST …/items/{id}/hold`` and ``…/release``: no body; the item as it now is."""
    runtime = runtime_of(request)
    feed = _feed(runtime, request)
    claims = _claims(runtime, request)
    item_id = request.path_params["item_id"]
    if action == "hold":
        outcome = await runtime.newsroom.hold(claims, feed, item_id)
        runtime.metrics.events.labels(feed.id, "retract").inc()
    else:
        outcome = await runtime.newsroom.release(claims, feed, item_id)
        runtime.metrics.events.labels(feed.id, "item").inc()
    return _item_response(feed.id, outcome.data, outcome.item.id, 200)


async def pin(request: Request) -> Response:
    """``PUT /api/v1/feeds/{feed}/pin`` body ``{"id": ID}``: ``{"feed", "pinned": ITEM}``."""
    runtime = runtime_of(request)
    feed = _feed(runtime, request)
    claims = _claims(runtime, request)
    body = decode_pin(await read_json_body(request, runtime.settings.limits.body_max))
    outcome = await runtime.newsroom.pin(claims, feed, body.id)
    runtime.metrics.events.labels(feed.id, "pin").inc()
    return _pin_response(feed.id, outcome.data)


async def unpin(request: Request) -> Response:
    """``DELETE /api/v1/feeds/{feed}/pin``: ``{"feed", "pinned": null}``."""
    runtime = runtime_of(request)
    feed = _feed(runtime, request)
    claims = _claims(runtime, request)
    if await runtime.newsroom.unpin(claims, feed) is not None:
        runtime.metrics.events.labels(feed.id, "pin").inc()
    return _pin_response(feed.id, None)


def _pin_response(feed: str, item: bytes | None) -> Response:
    return _json(PinStateOf[msgspec.Raw](feed=feed,
                                         pinned=msgspec.Raw(item) if item is not None else None))


def _limit(request: Request, default: int, most: int) -> int:
    limit = query_int(request.query_params, "limit", 1, most)
    return default if limit is None else limit


def _json(value: object) -> Response:
    return Response(codec.encode(value), media_type=JSON)


async def list_items(request: Request) -> Response:
    """Without ``since``: the latest items, newest last. With it: the events after it.
    Items and events are the broker's JSON, passed through as ``msgspec.Raw``."""
    runtime = runtime_of(request)
    feed = _feed(runtime, request)
    limits = runtime.settings.limits
    since_text = request.query_params.get("since")
    broker = runtime.broker
    if since_text is None:
        limit = _limit(request, limits.snapshot_size, limits.latest_max)
        head = await broker.head(feed.id, limit, 0)
        return _json(LatestItemsOf[msgspec.Raw](
            feed=feed.id, cursor=str(Cursor(head.epoch, head.seq)),
            items=[msgspec.Raw(item) for item in head.items],
            pinned=msgspec.Raw(head.pinned) if head.pinned is not None else None))
    limit = _limit(request, runtime.settings.history, runtime.settings.history)
    try:
        since = Cursor.parse(since_text)
    except ValueError as exc:
        raise InvalidInput([FieldError(path="query.since", message=str(exc))]) from None
    got = await broker.read(feed.id, since.epoch, since.seq, limit)
    if not got.complete:
        head = await broker.head(feed.id, limits.snapshot_size, 0)
        return _json(EventsSinceOf[msgspec.Raw, msgspec.Raw](
            feed=feed.id, recovered=False, cursor=str(Cursor(head.epoch, head.seq)), events=[],
            items=[msgspec.Raw(item) for item in head.items]))
    last = Cursor(got.epoch, got.entries[-1].seq) if got.entries else since
    return _json(EventsSinceOf[msgspec.Raw, msgspec.Raw](
        feed=feed.id, recovered=True, cursor=str(last),
        events=[msgspec.Raw(entry.data) for entry in got.entries]))


async def list_feeds(request: Request) -> Response:
    runtime = runtime_of(request)
    readers = runtime.readers()
    feeds = [FeedInfo(id=f.id, title=f.title, lang=f.lang, direction=f.direction,
                      categories=f.categories, regions=f.regions, readers=readers.get(f.id, 0))
             for f in runtime.settings.feeds]
    return _json(feeds)
