"""``/api/v1/push/key`` and ``/api/v1/push/subscriptions`` (contract: "Reach beyond the open
page"). No token: any reader may subscribe its browser."""

from __future__ import annotations

import msgspec
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ticker.brokers.base import BrokerUnavailableError
from ticker.errors import InvalidInput, MalformedJSON
from ticker.model import FieldError
from ticker.outbound.rules import Refused
from ticker.reach.push.subscriptions import ENDPOINT_MAX, decode_subscription
from ticker.reach.service import Reach
from ticker.web.api import runtime_of
from ticker.web.body import read_json_body
from ticker.web.pages import serve

_json = msgspec.json.Decoder()


def _reach(request: Request) -> Reach:
    reach: Reach | None = runtime_of(request).reach
    if reach is None:
        raise BrokerUnavailableError("push is not running on this node")
    return reach


async def _body(request: Request) -> object:
    raw = await read_json_body(request, runtime_of(request).settings.limits.body_max)
    try:
        return _json.decode(raw)
    except msgspec.DecodeError as exc:
        raise MalformedJSON(str(exc)) from None


async def service_worker(request: Request) -> Response:
    """``/push-sw.js`` from the root, so its scope covers the reader and embed pages."""
    return serve(request, "push-sw.js", {"Cache-Control": "no-cache",
                                         "Service-Worker-Allowed": "/"})


async def public_key(request: Request) -> Response:
    reach = _reach(request)
    if reach.vapid is None:
        raise BrokerUnavailableError("the push key is not loaded from the broker yet")
    return JSONResponse({"public_key": reach.vapid.public_key},
                        headers={"Cache-Control": "public, max-age=300"})


async def subscribe(request: Request) -> Response:
    reach = _reach(request)
    sub = decode_subscription(await _body(request), reach.settings, reach.services)
    try:
        await reach.outbound.vet(sub.endpoint, reach.services)
    except Refused as exc:
        raise InvalidInput([FieldError(path="$.subscription.endpoint",
                                       message=f"cannot be reached: {exc}")]) from None
    if await reach.store.count(sub.feed) >= reach.settings.push_subscriptions_max:
        raise BrokerUnavailableError(f"push subscriptions of {sub.feed} are full "
                                     f"(push_subscriptions_max)")
    await reach.store.add(sub)
    return JSONResponse({"feed": sub.feed, "endpoint": sub.endpoint,
                         "max_urgency": sub.max_urgency, "categories": sub.categories,
                         "regions": sub.regions}, status_code=201)


async def unsubscribe(request: Request) -> Response:
    reach = _reach(request)
    body = await _body(request)
    endpoint = body.get("endpoint") if isinstance(body, dict) else None
    if not isinstance(endpoint, str) or not endpoint or len(endpoint) > ENDPOINT_MAX:
        raise InvalidInput([FieldError(path="$.endpoint",
                                       message="required: the subscription's endpoint URL")])
    for feed in reach.feeds:
        await reach.store.remove(feed, endpoint)
    return Response(status_code=204)
