"""Operators' endpoints: liveness, readiness, metrics."""

from __future__ import annotations

import asyncio

from prometheus_client import CONTENT_TYPE_LATEST
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ticker.errors import BrokerUnavailable
from ticker.web.api import runtime_of

READY_TIMEOUT = 1.0


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    runtime = runtime_of(request)
    try:
        healthy = await asyncio.wait_for(runtime.broker.healthy(), READY_TIMEOUT)
    except (TimeoutError, OSError):
        healthy = False
    if not healthy:
        raise BrokerUnavailable("the broker does not answer")
    if not runtime.relay.ready:
        raise BrokerUnavailable("the feeds have not been loaded from the broker yet")
    return JSONResponse({"status": "ready", "broker": runtime.settings.broker_url.split(":")[0]})


async def metrics(request: Request) -> Response:
    return Response(runtime_of(request).metrics.render(), media_type=CONTENT_TYPE_LATEST)
