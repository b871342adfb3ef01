"""Operators' endpoints: liveness, readiness, metrics."""

from __future__ import annotations

import asyncio

from prometheus_client import CONTENT_TYPE_LATEST
from starlette.requests import Request
from starlette.responses import Response

from ticker import codec
from ticker.brokers.base import BrokerUnavailableError
from ticker.model import Health, Ready
from ticker.web.api import JSON, runtime_of

READY_TIMEOUT = 1.0


async def healthz(request: Request) -> Response:
    return Response(codec.encode(Health(status="ok")), media_type=JSON)


async def readyz(request: Request) -> Response:
    runtime = runtime_of(request)
    try:
        healthy = await asyncio.wait_for(runtime.broker.healthy(), READY_TIMEOUT)
    except (TimeoutError, OSError):
        healthy = False
    if not healthy:
        raise BrokerUnavailableError("the broker does not answer")
    if not runtime.relay.ready:
        raise BrokerUnavailableError("the feeds have not been loaded from the broker yet")
    broker = runtime.settings.broker_url.split(":")[0]
    return Response(codec.encode(Ready(status="ready", broker=broker)), media_type=JSON)


async def metrics(request: Request) -> Response:
    return Response(runtime_of(request).metrics.render(), media_type=CONTENT_TYPE_LATEST)
