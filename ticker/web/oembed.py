"""``GET /oembed``: oEmbed 1.0 (https://oembed.com/) for this service's live and embed pages.

A consumer (a CMS given a ``/live/{feed}`` or ``/embed/{feed}`` URL, having found the discovery
``<link>`` on that page) asks for the embed code and gets a ``rich`` answer whose ``html`` is an
``<iframe>`` of ``/embed/{feed}``. URLs of any other site or path are ``404``, as oEmbed says;
``format=xml`` (or any format but JSON) is ``501``.
"""

from __future__ import annotations

import html
from urllib.parse import parse_qsl, urlencode, urlsplit

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from ticker import codec
from ticker.config import FeedConfig
from ticker.errors import InvalidInput, NotFound, TickerError
from ticker.model import FieldError
from ticker.runtime import Runtime
from ticker.web.base_url import base_url

MEDIA_TYPE = "application/json"
CACHE_AGE = 3600
DEFAULT_WIDTH = 600
HEIGHTS = {"scroll": 48, "list": 420}  # initial heights; embed-resize.js adjusts them
# Query parameters of an /embed/ URL carried into the iframe (the widget's attributes).
EMBED_PARAMS = {"categories", "regions", "max-urgency", "label", "theme", "mode", "limit",
                "size", "speed", "lang", "dir"}


class NotImplementedFormat(TickerError):
    status, slug, title = 501, "format-not-implemented", "Only format=json is implemented"


class OEmbed(msgspec.Struct, frozen=True, kw_only=True):
    """The ``rich`` response (oEmbed 1.0 §2.3.4, §2.3.4.4)."""

    version: str
    type: str
    title: str
    provider_name: str
    provider_url: str
    cache_age: int
    html: str
    width: int
    height: int


def _dimension(request: Request, name: str) -> int | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    if not raw.isdigit() or int(raw) < 1:
        raise InvalidInput([FieldError(path=f"query.{name}", message="must be a positive integer")])
    return int(raw)


def _bases(request: Request) -> list[str]:
    """The origins (and root paths) this service's pages live under."""
    own = str(request.base_url)
    public = base_url(request).url
    return [public] if public == own else [public, own]


def resolve(url: str, bases: list[str], runtime: Runtime) -> tuple[str, FeedConfig, str]:
    """``url`` as (the base it is under, its feed, the page kind ``live``/``embed``)."""
    parts = urlsplit(url)
    without_query = parts._replace(query="", fragment="").geturl()
    for base in bases:
        if not without_query.startswith(base):
            continue
        rest = without_query[len(base):].rstrip("/").split("/")
        if len(rest) == 2 and rest[0] in ("live", "embed"):
            feed = runtime.settings.feed(rest[1])
            if feed is not None:
                return base, feed, rest[0]
    raise NotFound("not a /live/{feed} or /embed/{feed} URL of this service")


def _iframe(src: str, title: str, width: int, height: int) -> str:
    return (f'<iframe src="{html.escape(src)}" title="{html.escape(title)}" width="{width}" '
            f'height="{height}" style="border:0;width:100%;max-width:{width}px" '
            'loading="lazy" referrerpolicy="strict-origin-when-cross-origin"></iframe>')


async def oembed(request: Request) -> Response:
    runtime: Runtime = request.app.state.runtime
    fmt = request.query_params.get("format", "json")
    if fmt != "json":
        raise NotImplementedFormat(f"format={fmt!r}: only json is implemented")
    url = request.query_params.get("url")
    if not url:
        raise InvalidInput([FieldError(path="query.url", message="required: the URL to embed")])
    max_width, max_height = _dimension(request, "maxwidth"), _dimension(request, "maxheight")
    base, feed, kind = resolve(url, _bases(request), runtime)
    params = [(k, v) for k, v in parse_qsl(urlsplit(url).query) if k in EMBED_PARAMS]
    if kind == "live" and not any(k == "mode" for k, _ in params):
        params.append(("mode", "list"))  # the live page is a list; so is its embed
    mode = dict(params).get("mode") or "scroll"
    width = min(DEFAULT_WIDTH, max_width) if max_width else DEFAULT_WIDTH
    height = HEIGHTS["list" if mode == "list" else "scroll"]
    if max_height:
        height = min(height, max_height)
    src = base_url(request).url + f"embed/{feed.id}" + (f"?{urlencode(params)}" if params else "")
    answer = OEmbed(
        version="1.0", type="rich", title=feed.title, provider_name="ticker",
        provider_url=base, cache_age=CACHE_AGE, html=_iframe(src, feed.title, width, height),
        width=width, height=height)
    return Response(codec.encode(answer), media_type=MEDIA_TYPE, headers={
        "Cache-Control": base_url(request).cache_control(f"public, max-age={CACHE_AGE}"),
        "Access-Control-Allow-Origin": "*",
    })
