"""The HTTP API handlers: decode, call the newsroom or the broker, encode. Nothing else."""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import Response

from ticker import codec
from ticker.auth import Claims
from ticker.brokers.base import BrokerUnavailableError
from ticker.config import FeedConfig
from ticker.cursor import Cursor
from ticker.errors import BrokerUnavailable, InvalidInput
from ticker.model import FeedInfo, FieldError
from ticker.runtime import Runtime
from ticker.validation import decode_patch, decode_publish
from ticker.web.body import read_json_body

JSON = "application/json"
IDEMPOTENCY_KEY = re.compile(r"^[\x21-\x7e]{1,200}$")


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
    if key is not None and not IDEMPOTENCY_KEY.match(key):
        raise InvalidInput([FieldError(path="header.Idempotency-Key",
                                       message="must be 1 to 200 printable ASCII characters")])
    body = decode_publish(await read_json_body(request, runtime.settings.limits.body_max),
                          feed, runtime.settings.limits)
    outcome = await runtime.newsroom.publish(claims, feed, body, key)
    if outcome.created:
        runtime.metrics.events.labels(feed.id, "item").inc()
    return _item_response(feed.id, outcome.data, outcome.item.id,
                          201 if outcome.created else 200)


async def correct(request: Request) -> Response:
    runtime = runtime_of(request)
    feed = _feed(runtime, request)
    claims = _claims(runtime, request)
    patch = decode_patch(await read_json_body(request, runtime.settings.limits.body_max),
                         feed, runtime.settings.limits)
    outcome = await runtime.newsroom.correct(claims, feed, request.path_params["item_id"], patch)
    runtime.metrics.events.labels(feed.id, "update").inc()
    return _item_response(feed.id, outcome.data, outcome.item.id, 200)


async def retract(request: Request) -> Response:
    runtime = runtime_of(request)
    feed = _feed(runtime, request)
    claims = _claims(runtime, request)
    outcome = await runtime.newsroom.retract(claims, feed, request.path_params["item_id"])
    runtime.metrics.events.labels(feed.id, "retract").inc()
    return _item_response(feed.id, outcome.data, outcome.item.id, 200)


async def get_item(request: Request) -> Response:
    runtime = runtime_of(request)
    feed = _feed(runtime, request)
    data = await runtime.newsroom.get_json(feed.id, request.path_params["item_id"])
    return Response(data, media_type=JSON)


def _limit(request: Request, default: int, most: int) -> int:
    text = request.query_params.get("limit")
    if text is None:
        return default
    if not text.isdigit() or not 1 <= int(text) <= most:
        raise InvalidInput([FieldError(path="query.limit",
                                       message=f"must be a whole number from 1 to {most}")])
    return int(text)


async def list_items(request: Request) -> Response:
    """Without ``since``: the latest items, newest last. With it: the events after it."""
    runtime = runtime_of(request)
    feed = _feed(runtime, request)
    since_text = request.query_params.get("since")
    broker = runtime.broker
    try:
        if since_text is None:
            limit = _limit(request, runtime.settings.limits.snapshot_size,
                           runtime.settings.limits.latest_max)
            head = await broker.head(feed.id, limit, 0)
            body = (f'{{"feed":"{feed.id}","cursor":"{head.epoch}:{head.seq}","items":['
                    .encode() + b",".join(head.items) + b"]}")
            return Response(body, media_type=JSON)
        limit = _limit(request, runtime.settings.history, runtime.settings.history)
        try:
            since = Cursor.parse(since_text)
        except ValueError as exc:
            raise InvalidInput([FieldError(path="query.since", message=str(exc))]) from None
        got = await broker.read(feed.id, since.epoch, since.seq, limit)
        if not got.complete:
            head = await broker.head(feed.id, runtime.settings.limits.snapshot_size, 0)
            body = (f'{{"feed":"{feed.id}","recovered":false,"cursor":"{head.epoch}:{head.seq}",'
                    '"events":[],"items":['.encode() + b",".join(head.items) + b"]}")
            return Response(body, media_type=JSON)
        last = f"{got.epoch}:{got.entries[-1].seq}" if got.entries else str(since)
        body = (f'{{"feed":"{feed.id}","recovered":true,"cursor":"{last}","events":['.encode()
                + b",".join(e.data for e in got.entries) + b"]}")
        return Response(body, media_type=JSON)
    except BrokerUnavailableError as exc:
        raise BrokerUnavailable(str(exc)) from None


async def list_feeds(request: Request) -> Response:
    runtime = runtime_of(request)
    readers = runtime.readers()
    feeds = [FeedInfo(id=f.id, title=f.title, lang=f.lang, direction=f.direction,
                      categories=f.categories, regions=f.regions, readers=readers.get(f.id, 0))
             for f in runtime.settings.feeds]
    return Response(codec.encode(feeds), media_type=JSON)
