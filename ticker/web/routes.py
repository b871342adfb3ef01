"""The route table: every URL the service answers lives here."""

from __future__ import annotations

from starlette.routing import BaseRoute, Route

from ticker.reach.push import api as push_api
from ticker.transports import sse
from ticker.web import api, desk_api, ops, tokens
from ticker.web.asyncapi import asyncapi_json
from ticker.web.live import live_page
from ticker.web.oembed import oembed
from ticker.web.openapi import openapi_json
from ticker.web.pages import page_routes
from ticker.web.syndication import atom_feed, json_feed

FEED = "/api/v1/feeds/{feed}"


def build_routes() -> list[BaseRoute]:
    return [
        Route("/api/v1/feeds", api.list_feeds, methods=["GET"]),
        Route(f"{FEED}/items", api.publish, methods=["POST"]),
        Route(f"{FEED}/items", api.list_items, methods=["GET"]),
        Route(f"{FEED}/items/{{item_id}}", api.get_item, methods=["GET"]),
        Route(f"{FEED}/items/{{item_id}}", api.correct, methods=["PATCH"]),
        Route(f"{FEED}/items/{{item_id}}", api.retract, methods=["DELETE"]),
        Route(f"{FEED}/items/{{item_id}}/hold", api.hold, methods=["POST"]),
        Route(f"{FEED}/items/{{item_id}}/release", api.release, methods=["POST"]),
        Route(f"{FEED}/pin", api.pin, methods=["PUT"]),
        Route(f"{FEED}/pin", api.unpin, methods=["DELETE"]),
        Route(f"{FEED}/events", sse.events, methods=["GET"]),
        Route(f"{FEED}/items/{{item_id}}/approve", desk_api.approve, methods=["POST"]),
        Route(f"{FEED}/items/{{item_id}}/reject", desk_api.reject, methods=["POST"]),
        Route(f"{FEED}/items/{{item_id}}/history", desk_api.history, methods=["GET"]),
        Route(f"{FEED}/queue", desk_api.queue, methods=["GET"]),
        Route(f"{FEED}/desk/events", desk_api.desk_events, methods=["GET"]),
        Route("/api/v1/tokens/revoke", tokens.revoke_token, methods=["POST"]),
        Route("/api/v1/openapi.json", openapi_json, methods=["GET"]),
        Route("/api/v1/asyncapi.json", asyncapi_json, methods=["GET"]),
        Route("/feeds/{feed}.atom", atom_feed, methods=["GET"]),
        Route("/feeds/{feed}.json", json_feed, methods=["GET"]),
        Route("/live/{feed}", live_page, methods=["GET"]),
        Route("/oembed", oembed, methods=["GET"]),
        Route("/healthz", ops.healthz, methods=["GET"]),
        Route("/readyz", ops.readyz, methods=["GET"]),
        Route("/metrics", ops.metrics, methods=["GET"]),
        Route("/api/v1/push/key", push_api.public_key, methods=["GET"]),
        Route("/push-sw.js", push_api.service_worker, methods=["GET"]),
        Route("/api/v1/push/subscriptions", push_api.subscribe, methods=["POST"]),
        Route("/api/v1/push/subscriptions", push_api.unsubscribe, methods=["DELETE"]),
        *page_routes(),
    ]
