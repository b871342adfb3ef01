"""``GET /api/v1/asyncapi.json``: AsyncAPI 3.0 description of the live streams.

One source: every message's payload schema is generated from the msgspec Structs the server
encodes its frames from and decodes client frames with (``ticker.model``), through
``msgspec.json.schema_components``; the event types are read from the ``Event`` union, so a
new event type is described as soon as it is a model. The document describes the server: it
*receives* ``subscribe``/``unsubscribe`` on ``/ws`` and *sends* everything else, on ``/ws`` and
on the Server-Sent Events stream ``/api/v1/feeds/{feed}/events``.
"""

from __future__ import annotations

import functools
from typing import Any, get_args
from urllib.parse import urlsplit

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from ticker import codec
from ticker.model import (
    ClientFrame,
    ErrorFrame,
    Event,
    Ping,
    Snapshot,
    Subscribed,
    Unsubscribed,
)
from ticker.web.base_url import base_url

REF = "#/components/schemas/{name}"
SSE_EVENTS = "/api/v1/feeds/{feed}/events"


def _tag(model: type[msgspec.Struct]) -> str:
    return str(model.__struct_config__.tag)


def client_models() -> list[type[msgspec.Struct]]:
    return list(get_args(ClientFrame))


def event_models() -> list[type[msgspec.Struct]]:
    return list(get_args(Event))


def server_models() -> list[type[msgspec.Struct]]:
    """Every frame the server sends on ``/ws``."""
    return [Subscribed, Snapshot, *event_models(), Unsubscribed, Ping, ErrorFrame]


def sse_models() -> list[type[msgspec.Struct]]:
    """Every event the SSE stream carries (``event:`` is the type, ``data:`` the object)."""
    return [Subscribed, Snapshot, *event_models()]


_SUMMARIES = {
    "subscribe": "Subscribe to a feed, optionally resuming after a cursor and with a filter.",
    "unsubscribe": "Stop receiving a feed.",
    "subscribed": "Answers a subscribe. recovered=false: a snapshot follows; replace what you "
                  "show. recovered=true: every event after `since` follows.",
    "unsubscribed": "Answers an unsubscribe: nothing more of that feed follows.",
    "snapshot": "The feed's latest items, newest last; `cursor` is where live events continue.",
    "ping": "Sent after 25 s of silence; hear nothing for 60 s and reconnect with your cursor.",
    "error": "A bad client frame (codes: unsupported, rate_limited, invalid_frame, "
             "malformed_json, not_subscribed, unknown_feed, invalid_filter, "
             "too_many_subscriptions, ...); the connection stays open.",
}


@functools.cache
def _schemas() -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """(components/schemas, message name → message object)."""
    models = [*client_models(), *server_models()]
    refs, schemas = msgspec.json.schema_components(models, ref_template=REF)
    messages: dict[str, dict[str, Any]] = {}
    for model, ref in zip(models, refs, strict=True):
        name = _tag(model)
        message: dict[str, Any] = {"name": name, "title": model.__name__, "payload": ref}
        summary = _SUMMARIES.get(name) or (model.__doc__ or "").strip().split("\n")[0]
        if summary:
            message["summary"] = summary
        messages[name] = message
    return schemas, messages


def _refs(channel: str, models: list[type[msgspec.Struct]]) -> dict[str, Any]:
    return {_tag(m): {"$ref": f"#/channels/{channel}/messages/{_tag(m)}"} for m in models}


def document(base: str) -> dict[str, Any]:
    """The AsyncAPI document for a service reached at ``base`` (``http(s)://host[/root/]``)."""
    schemas, messages = _schemas()
    parts = urlsplit(base)
    secure = parts.scheme == "https"
    root = parts.path.rstrip("/")
    to_message = {name: {"$ref": f"#/components/messages/{name}"} for name in messages}
    ws_models = [*client_models(), *server_models()]
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "ticker live streams",
            "version": "1",
            "description": "Real-time breaking-news events: the WebSocket protocol (/ws) and "
                           "the Server-Sent Events stream. Every event carries a cursor; "
                           "resume from the last one you saw to receive every later event "
                           "exactly once, in order. See docs/protocol.md.",
        },
        "defaultContentType": "application/json",
        "servers": {
            "websocket": {"host": parts.netloc, "pathname": root or "/",
                          "protocol": "wss" if secure else "ws"},
            "http": {"host": parts.netloc, "pathname": root or "/",
                     "protocol": "https" if secure else "http"},
        },
        "channels": {
            "ws": {
                "address": "/ws",
                "title": "WebSocket",
                "description": "Text frames, one JSON object each. A connection may subscribe "
                               "to several feeds. `?feed=F&since=C` subscribes at connect time.",
                "servers": [{"$ref": "#/servers/websocket"}],
                "messages": {_tag(m): to_message[_tag(m)] for m in ws_models},
                "bindings": {"ws": {"query": {
                    "type": "object",
                    "properties": {"feed": {"type": "string"}, "since": {"type": "string"}},
                }}},
            },
            "sse": {
                "address": SSE_EVENTS,
                "title": "Server-Sent Events",
                "description": "`id:` is the cursor, `event:` the message name, `data:` the "
                               "message. Honours Last-Event-ID and ?since=; ?categories=, "
                               "?regions= and ?max_urgency= filter. A `: ping` comment comes "
                               "after 25 s of silence.",
                "servers": [{"$ref": "#/servers/http"}],
                "parameters": {"feed": {"description": "A configured feed, e.g. en."}},
                "messages": {_tag(m): to_message[_tag(m)] for m in sse_models()},
            },
        },
        "operations": {
            "receiveClientFrames": {
                "action": "receive",
                "title": "Frames a client sends",
                "channel": {"$ref": "#/channels/ws"},
                "messages": list(_refs("ws", client_models()).values()),
            },
            "sendServerFrames": {
                "action": "send",
                "title": "Frames the server sends",
                "channel": {"$ref": "#/channels/ws"},
                "messages": list(_refs("ws", server_models()).values()),
            },
            "sendStreamEvents": {
                "action": "send",
                "title": "Events on the SSE stream",
                "channel": {"$ref": "#/channels/sse"},
                "messages": list(_refs("sse", sse_models()).values()),
            },
        },
        "components": {"schemas": schemas, "messages": messages},
    }


async def asyncapi_json(request: Request) -> Response:
    base = base_url(request)
    return Response(codec.encode(document(base.url)), media_type="application/json",
                    headers={"Cache-Control": base.cache_control("public, max-age=300"),
                             "Access-Control-Allow-Origin": "*"})
