"""Every error becomes ``application/problem+json`` (RFC 9457), in this one place."""

from __future__ import annotations

import logging

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match, Route

from ticker import codec
from ticker.brokers.base import BrokerUnavailableError
from ticker.errors import InvalidInput, RateLimited, TickerError
from ticker.model import Problem

log = logging.getLogger("ticker.web")
PROBLEM_BASE = "https://ticker.invalid/problems/"
BROKER_RETRY_AFTER = 2  # seconds a client waits before retrying after a 503
MEDIA_TYPE = "application/problem+json"


def problem_response(request: Request, status: int, slug: str, title: str,
                     detail: str | None = None, errors: list[object] | None = None,
                     headers: dict[str, str] | None = None) -> Response:
    problem = Problem(type=PROBLEM_BASE + slug, title=title, status=status, detail=detail,
                      instance=request.url.path, errors=errors or [])  # type: ignore[arg-type]
    runtime = getattr(request.app.state, "runtime", None)
    if runtime is not None:
        runtime.metrics.rejected(status)
    return Response(codec.encode(problem), status, headers=headers, media_type=MEDIA_TYPE)


async def ticker_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, TickerError)
    headers: dict[str, str] = {}
    if isinstance(exc, RateLimited):
        headers["Retry-After"] = str(exc.retry_after)
    if exc.status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="ticker"'
    errors = list(exc.errors) if isinstance(exc, InvalidInput) else None
    return problem_response(request, exc.status, exc.slug, exc.title, exc.detail,
                            errors, headers)  # type: ignore[arg-type]


async def broker_unavailable(request: Request, exc: Exception) -> Response:
    """Every ``BrokerUnavailableError``, wherever raised: ``503`` with ``Retry-After``. What went
    wrong (the Redis error, its host and port) is logged for operators, never sent to clients."""
    log.warning("broker unavailable on %s %s: %s", request.method, request.url.path, exc)
    return problem_response(
        request, 503, "broker-unavailable", "The message broker is unreachable",
        "broker unavailable; retry after Retry-After seconds (a publish with the same "
        "Idempotency-Key)", headers={"Retry-After": str(BROKER_RETRY_AFTER)})


def _allowed_methods(request: Request) -> str | None:
    """Every method the request's path answers to. The route table has one route per method,
    so starlette's own 405 ``Allow`` names only the first route that matched the path."""
    methods: set[str] = set()
    for route in request.app.routes:
        match, _ = route.matches(request.scope)
        if match is Match.PARTIAL and isinstance(route, Route) and route.methods:
            methods |= route.methods
    return ", ".join(sorted(methods)) if methods else None


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    slug = {404: "not-found", 405: "method-not-allowed"}.get(exc.status_code, "http-error")
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = _allowed_methods(request) or headers.get("Allow", "")
    return problem_response(request, exc.status_code, slug, str(exc.detail), headers=headers)


async def unexpected_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return problem_response(request, 500, "internal", "Internal error")


HANDLERS = {TickerError: ticker_error, BrokerUnavailableError: broker_unavailable,
            HTTPException: http_error, Exception: unexpected_error}
