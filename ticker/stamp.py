"""Server-assigned item fields, shared by the engines: ids and RFC 3339 timestamps.

An item id is the publish time in milliseconds (11 hex digits) followed by the event's sequence
(8 hex digits): ids sort in log order, and stay unique even when a lost log restarts sequences,
because the clock has moved on. The Redis engine builds the same strings in Lua
(``brokers/publish.lua``); the broker contract tests check that both engines agree.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime


def item_id(ms: int, seq: int) -> str:
    return f"{ms:011x}{seq:08x}"


def rfc3339(ms: int) -> str:
    moment = datetime.fromtimestamp(ms // 1000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + f".{ms % 1000:03d}Z"


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def stamp_new(body: bytes, ms: int, seq: int) -> tuple[str, bytes]:
    """Prepend ``id``, ``published_at`` and ``updated_at`` to an ``ItemDraft`` JSON object."""
    ident = item_id(ms, seq)
    ts = rfc3339(ms)
    head = f'{{"id":"{ident}","published_at":"{ts}","updated_at":"{ts}",'.encode()
    return ident, head + body[1:]


def stamp_updated(body: bytes, ms: int) -> bytes:
    """Prepend ``updated_at`` to an item JSON object that lacks it."""
    return f'{{"updated_at":"{rfc3339(ms)}",'.encode() + body[1:]


def event_json(kind: str, cursor: str, feed: str, item_id_: str, item: bytes) -> bytes:
    """The event exactly as readers receive it."""
    if kind == "retract":
        text = f'{{"type":"retract","cursor":"{cursor}","feed":"{feed}","id":"{item_id_}"}}'
        return text.encode()
    return f'{{"type":"{kind}","cursor":"{cursor}","item":'.encode() + item + b"}"
