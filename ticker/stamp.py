"""Server-assigned item fields, shared by the engines: ids and RFC 3339 timestamps.

An item id is the publish time in milliseconds (11 hex digits) followed by the event's sequence
(8 hex digits): ids sort in log order, and stay unique even when a lost log restarts sequences,
because the clock has moved on. The Redis engine builds the same strings in Lua
(``brokers/publish.lua``); the broker contract tests check that both engines agree.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


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
    return ident, stamp_live(ident, body, ms)


def stamp_live(ident: str, body: bytes, ms: int) -> bytes:
    """An ``ItemDraft`` JSON object with an id it already has, live at ``ms``."""
    ts = rfc3339(ms)
    return f'{{"id":"{ident}","published_at":"{ts}","updated_at":"{ts}",'.encode() + body[1:]


def stamp_updated(body: bytes, ms: int) -> bytes:
    """Prepend ``updated_at`` to an item JSON object that lacks it."""
    return f'{{"updated_at":"{rfc3339(ms)}",'.encode() + body[1:]


def item_event(kind: str, cursor: str, item: bytes) -> bytes:
    """An ``item`` or ``update`` event exactly as readers receive it."""
    return f'{{"type":"{kind}","cursor":"{cursor}","item":'.encode() + item + b"}"


def retract_event(cursor: str, feed: str, item_id_: str, reason: str) -> bytes:
    """A ``retract`` event; ``reason`` is ``retracted``, ``withheld`` or ``expired``."""
    text = (f'{{"type":"retract","cursor":"{cursor}","feed":"{feed}","id":"{item_id_}",'
            f'"reason":"{reason}"}}')
    return text.encode()


def pin_event(cursor: str, feed: str, item_id_: str | None, item: bytes | None) -> bytes:
    """A ``pin`` event: the pinned item (``pinned_json``), or ``"id":null`` for none."""
    if item_id_ is None or item is None:
        return f'{{"type":"pin","cursor":"{cursor}","feed":"{feed}","id":null}}'.encode()
    head = f'{{"type":"pin","cursor":"{cursor}","feed":"{feed}","id":"{item_id_}","item":'
    return head.encode() + pinned_json(item) + b"}"


def pinned_json(item: bytes) -> bytes:
    """The stored item JSON as the pinned item is served: with ``"pinned":true`` in front."""
    return b'{"pinned":true,' + item[1:]


def ms_of(timestamp: str) -> int:
    """An RFC 3339 timestamp → milliseconds since the Unix epoch."""
    moment = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    return (moment - _EPOCH) // timedelta(milliseconds=1)
