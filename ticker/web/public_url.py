"""The base URL that pages, oEmbed answers and link previews point at."""

from __future__ import annotations

from starlette.requests import Request


def public_base(request: Request) -> str:
    """``TICKER_PUBLIC_URL`` when configured (behind a proxy or CDN the request's own origin may
    not be what readers see), else the origin and root path the request came in on; always
    ending with ``/``."""
    configured: str | None = request.app.state.runtime.settings.public_url
    if configured:
        return configured if configured.endswith("/") else configured + "/"
    return str(request.base_url)
