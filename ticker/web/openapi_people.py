"""The OpenAPI paths of the people-side API (issue 13): the approval queue, items' history, the
desk's private stream and token revocation. ``ticker.web.openapi`` merges them into the document
and its schemas (``PEOPLE_SCHEMA_TYPES``); the building blocks are that module's."""

from __future__ import annotations

from typing import Any

from ticker.model.desk import (
    DeskEnd,
    DeskNotice,
    DeskQueue,
    DeskReaders,
    History,
    HistoryEntry,
    Queue,
)
from ticker.model.tokens import RevokeBody, Revoked

Schema = dict[str, Any]
PEOPLE_SCHEMA_TYPES: list[Any] = [History, HistoryEntry, Queue, DeskQueue, DeskNotice,
                                  DeskReaders, DeskEnd, RevokeBody, Revoked]


def people_paths(feed: Schema, item_id: Schema, auth: list[Schema], ref: Any, json: Any,
                 problems: Any, item_ok: Any) -> Schema:
    """The paths, built with ``ticker.web.openapi``'s helpers (passed in, to avoid a cycle)."""

    def decision(operation_id: str, summary: str, description: str) -> Schema:
        return {"parameters": [feed, item_id], "post": {
            "operationId": operation_id, "tags": ["desk"], "summary": summary,
            "description": description, "security": auth,
            "responses": {"200": item_ok("The item as it now is."),
                          **problems(401, 403, 404, 409, 503)},
        }}

    return {
        "/api/v1/feeds/{feed}/items/{id}/approve": decision(
            "approveItem", "Approve a contributor's submission",
            "An editor. `submitted` → `usable` (an ordinary `item` event; its author stays the "
            "contributor), or `scheduled` when its `embargoed_until` is still ahead. The "
            "history records `approved`."),
        "/api/v1/feeds/{feed}/items/{id}/reject": decision(
            "rejectItem", "Reject a contributor's submission",
            "An editor. `submitted` → `canceled`; it never appears in any public output."),
        "/api/v1/feeds/{feed}/items/{id}/history": {"parameters": [feed, item_id], "get": {
            "operationId": "itemHistory", "tags": ["desk"],
            "summary": "Every action on an item, oldest first",
            "description": "Any token valid for the feed. Each entry is recorded in the same "
                           "atomic step as the action: `by` is the token's `sub` (`scheduler` "
                           "for an embargo going live or an expiry), `version` the item's "
                           "version after it.",
            "security": auth,
            "responses": {"200": {"description": "The history.", "content": json(ref(History))},
                          **problems(401, 403, 404, 503)},
        }},
        "/api/v1/feeds/{feed}/queue": {"parameters": [feed], "get": {
            "operationId": "queue", "tags": ["desk"],
            "summary": "The approval queue: submitted and scheduled items, oldest first",
            "description": "Any token valid for the feed (a contributor's too). Notes included.",
            "security": auth,
            "responses": {"200": {"description": "The queue.", "content": json(ref(Queue))},
                          **problems(401, 403, 404, 503)},
        }},
        "/api/v1/feeds/{feed}/desk/events": {"parameters": [feed], "get": {
            "operationId": "deskEvents", "tags": ["desk", "streaming"],
            "summary": "Server-Sent Events: the desk's private live stream",
            "description": "A token valid for the feed, in `Authorization: Bearer` (browsers "
                           "read it with `fetch`: `EventSource` cannot send the header). Never "
                           "part of any public stream. Opens with `event: queue` (also sent "
                           "again when notices may have been lost), then `event: desk` for "
                           "every action on the feed's items (submissions, approvals, "
                           "rejections, scheduled items, corrections, holds, …) with the item "
                           "as it now is, `event: readers` when the feed's reader count "
                           "changes, and `event: end` when the token stops being valid "
                           "(revoked or expired; checked every second), after which the "
                           "stream closes. `: ping` every 15 s.",
            "security": auth,
            "responses": {
                "200": {"description": "An endless event stream.",
                        "content": {"text/event-stream": {
                            "schema": {"type": "string"},
                            "x-events": {"queue": ref(DeskQueue), "desk": ref(DeskNotice),
                                         "readers": ref(DeskReaders), "end": ref(DeskEnd)},
                        }}},
                **problems(401, 403, 404),
            },
        }},
        "/api/v1/tokens/revoke": {"post": {
            "operationId": "revokeToken", "tags": ["tokens"],
            "summary": "Revoke a bearer token on every node",
            "description": "An editor. Body: exactly one of `token` (the whole token) or `jti` "
                           "(its id). From the answer on, this node refuses the token with "
                           "`401`, and every node within 2 s; it stays on the deny list until "
                           "the token's own expiry. Revoking again is `200` with "
                           "`already: true`; a token not signed by this service, or a "
                           "malformed `jti`, is `422`.",
            "security": auth,
            "requestBody": {"required": True, "content": json(ref(RevokeBody))},
            "responses": {"200": {"description": "Revoked.", "content": json(ref(Revoked))},
                          **problems(400, 401, 403, 409, 413, 415, 422, 503)},
        }},
    }
