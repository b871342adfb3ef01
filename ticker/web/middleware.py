"""Pure ASGI middleware (never ``BaseHTTPMiddleware``: it breaks streaming responses like SSE).

- ``HeaderLimits``: refuse requests with too many or too large headers (``431``) before any
  handler runs;
- ``NoSniff``: every HTTP response says ``X-Content-Type-Options: nosniff``, so item text served
  as JSON or text is never sniffed into HTML by a browser;
- CORS comes from starlette's ``CORSMiddleware`` (pure ASGI), configured in ``cors()`` to match
  ``TICKER_ALLOWED_ORIGINS``.
"""

from __future__ import annotations

from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ticker import codec
from ticker.config import Settings
from ticker.model import Problem
from ticker.web.problems import MEDIA_TYPE, PROBLEM_BASE


class HeaderLimits:
    def __init__(self, app: ASGIApp, max_bytes: int, max_count: int) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_count = max_count

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = scope["headers"]
            size = sum(len(k) + len(v) + 4 for k, v in headers)
            if len(headers) > self.max_count or size > self.max_bytes:
                await _refuse(send, scope["path"], 431, "request-header-fields-too-large",
                              "Request header fields too large",
                              f"at most {self.max_count} headers and {self.max_bytes} bytes")
                return
        await self.app(scope, receive, send)


class NoSniff:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_header(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                if not any(k.lower() == b"x-content-type-options" for k, _ in headers):
                    headers.append((b"x-content-type-options", b"nosniff"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_header)


async def _refuse(send: Send, path: str, status: int, slug: str, title: str,
                  detail: str) -> None:
    body = codec.encode(Problem(type=PROBLEM_BASE + slug, title=title, status=status,
                                detail=detail, instance=path))
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", MEDIA_TYPE.encode()),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def middleware(settings: Settings) -> list[Middleware]:
    """The stack, outermost first."""
    return [
        Middleware(HeaderLimits, max_bytes=settings.limits.header_max_bytes,
                   max_count=settings.limits.header_max_count),
        Middleware(NoSniff),
        Middleware(
            CORSMiddleware,
            allow_origins=settings.allowed_origins or ["*"],
            allow_methods=["GET", "POST", "PATCH", "DELETE", "OPTIONS"],
            allow_headers=["Authorization", "Content-Type", "Idempotency-Key", "Last-Event-ID"],
            expose_headers=["Location", "Retry-After", "ETag"],
            max_age=600,
        ),
    ]
