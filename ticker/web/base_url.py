"""The service's public base URL, for links and ids in documents that others store and cache.

With ``TICKER_PUBLIC_URL`` configured, links are built from it. Without it they are built from
the request's ``Host`` header, which anyone can set: such a response must not be stored by a
shared cache (a CDN or proxy would otherwise hand one client's forged host to everyone), so it
is marked ``private``.
"""

from __future__ import annotations

from typing import NamedTuple

from starlette.requests import Request


class BaseUrl(NamedTuple):
    url: str  # absolute, ending in "/"
    configured: bool  # from the configuration, not from the request's Host header

    def cache_control(self, directives: str) -> str:
        """``directives`` as they are for the configured URL, ``private`` otherwise."""
        if self.configured:
            return directives
        kept = [d.strip() for d in directives.split(",") if d.strip() not in ("public", "")]
        return ", ".join(["private", *kept])


def base_url(request: Request) -> BaseUrl:
    public = request.app.state.runtime.settings.public_url
    if public:
        return BaseUrl(public.rstrip("/") + "/", True)
    return BaseUrl(str(request.base_url), False)
