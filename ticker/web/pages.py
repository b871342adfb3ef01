"""The pages people see: the widget script, the embed page, the reader page and the desk.

Everything here is a static file from ``ticker/static``; the pages read their parameters in
JavaScript and talk only to the public API, so nothing a request carries is ever reflected into
HTML. Files are read once per modification time and served with an ETag so that browsers and
CDNs can revalidate cheaply.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from ticker.web.base_url import base_url
from ticker.web.conditional import not_modified
from ticker.web.live_page import oembed_link

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
ASSET_NAME = re.compile(r"[a-z0-9][a-z0-9-]*\.(js|css|svg)")  # used with fullmatch

MEDIA_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".ts": "application/typescript; charset=utf-8",
    ".html": "text/html; charset=utf-8",
}

# Scripts and styles change with releases but are not versioned in their URLs: let caches keep
# them briefly and revalidate with the ETag, serving a stale copy while they do.
ASSET_CACHE = "public, max-age=300, stale-while-revalidate=86400"
PAGE_CACHE = "no-cache"

_CSP_BASE = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' data:; base-uri 'none'; form-action 'self'"
)
# The embed page exists to be framed anywhere; the reader page frames the embed page for its
# preview; the desk holds a publishing token and must never be framed.
EMBED_CSP = f"{_CSP_BASE}; frame-ancestors *"
READER_CSP = f"{_CSP_BASE}; frame-src 'self'; frame-ancestors 'self'"
DESK_CSP = f"{_CSP_BASE}; frame-ancestors 'none'"


@dataclass(frozen=True, slots=True)
class Asset:
    """A static file's bytes with its content type and strong ETag."""

    body: bytes
    media_type: str
    etag: str


_cache: dict[str, tuple[int, Asset]] = {}


def load_asset(name: str) -> Asset | None:
    """Return the file ``name`` from the static directory, or ``None`` if there is none."""
    path = STATIC_DIR / name
    try:
        mtime = path.stat().st_mtime_ns
    except OSError:
        return None
    cached = _cache.get(name)
    if cached is not None and cached[0] == mtime:
        return cached[1]
    body = path.read_bytes()
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    asset = Asset(body, MEDIA_TYPES.get(path.suffix, "application/octet-stream"), etag)
    _cache[name] = (mtime, asset)
    return asset


def serve(request: Request, name: str, headers: dict[str, str]) -> Response:
    """Serve a static file with the given extra headers, answering revalidation with 304."""
    asset = load_asset(name)
    if asset is None:
        return PlainTextResponse("Not Found", status_code=404)
    return serve_asset(request, asset, headers)


def serve_asset(request: Request, asset: Asset, headers: dict[str, str]) -> Response:
    all_headers = {"ETag": asset.etag, "X-Content-Type-Options": "nosniff", **headers}
    if not_modified(request, asset.etag, None):
        return Response(status_code=304, headers=all_headers)
    return Response(asset.body, media_type=asset.media_type, headers=all_headers)


_SCRIPT_HEADERS = {
    "Cache-Control": ASSET_CACHE,
    # The one-script-tag embed loads this module from other origins, which needs CORS.
    "Access-Control-Allow-Origin": "*",
    "Cross-Origin-Resource-Policy": "cross-origin",
}


async def widget_js(request: Request) -> Response:
    return serve(request, "widget.js", _SCRIPT_HEADERS)


async def client_js(request: Request) -> Response:
    # Deno, esm.sh and editors find the types of an ES module by this header
    return serve(request, "client.js", {**_SCRIPT_HEADERS, "X-TypeScript-Types": "./client.d.ts"})


async def client_types(request: Request) -> Response:
    return serve(request, "client.d.ts", _SCRIPT_HEADERS)


async def embed_resize_js(request: Request) -> Response:
    return serve(request, "embed-resize.js", _SCRIPT_HEADERS)


async def static_asset(request: Request) -> Response:
    name = request.path_params["name"]
    if not ASSET_NAME.fullmatch(name):
        return PlainTextResponse("Not Found", status_code=404)
    return serve(request, name, _SCRIPT_HEADERS)


def _page_headers(csp: str, referrer: str = "strict-origin-when-cross-origin") -> dict[str, str]:
    return {
        "Cache-Control": PAGE_CACHE,
        "Content-Security-Policy": csp,
        "Referrer-Policy": referrer,
    }


async def embed_page(request: Request) -> Response:
    """The embed page of a configured feed; any other feed is a ``404`` like on every surface."""
    feed = request.path_params["feed"]
    runtime = getattr(request.app.state, "runtime", None)
    asset = load_asset("embed.html")
    if runtime is None or runtime.settings.feed(feed) is None or asset is None:
        return PlainTextResponse("Not Found", status_code=404)
    # oEmbed discovery: consumers (a CMS given this page's URL) find the provider here
    base = base_url(request)
    link = oembed_link(base.url, f"{base.url}embed/{feed}", "Breaking news").encode()
    body = asset.body.replace(b"</head>", link + b"\n</head>", 1)
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    headers = {**_page_headers(EMBED_CSP), "Cache-Control": base.cache_control(PAGE_CACHE)}
    return serve_asset(request, Asset(body, asset.media_type, etag), headers)


async def reader_page(request: Request) -> Response:
    return serve(request, "reader.html", _page_headers(READER_CSP))


async def desk_page(request: Request) -> Response:
    return serve(request, "desk.html", _page_headers(DESK_CSP, referrer="no-referrer"))


def page_routes() -> list[BaseRoute]:
    """The routes for the widget script, its assets and the three pages."""
    return [
        Route("/widget.js", widget_js, methods=["GET"], name="widget_js"),
        Route("/client.js", client_js, methods=["GET"], name="client_js"),
        Route("/client.d.ts", client_types, methods=["GET"], name="client_types"),
        Route("/embed-resize.js", embed_resize_js, methods=["GET"], name="embed_resize_js"),
        Route("/static/{name:str}", static_asset, methods=["GET"], name="static_asset"),
        Route("/embed/{feed:str}", embed_page, methods=["GET"], name="embed_page"),
        Route("/desk", desk_page, methods=["GET"], name="desk_page"),
        Route("/", reader_page, methods=["GET"], name="reader_page"),
    ]
