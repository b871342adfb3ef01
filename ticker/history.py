"""An item's history and the desk's notices: what the broker's atomic step records for people.

Every change the broker makes to an item (``ticker.brokers.base.Kind``) appends one entry to the
item's history, ``{"action", "by", "at", "version"}``, in the same atomic step as the change
(``publish.lua`` on Redis, ``MemoryBroker._apply`` embedded), and sends the desk a notice of it:
``{"type": "desk", "feed", "id", "action", "by", "at", "version", "item"}`` with the item as it
now is, note included (the desk stream is private: see ``ticker.desk``). ``publish.lua`` builds the
same strings in Lua (its "history" block); the broker contract tests hold both engines to it.

``by`` is the token's ``sub``; the scheduler (an embargo going live, an expiry) is ``SCHEDULER``.
"""

from __future__ import annotations

from ticker import codec

SCHEDULER = "scheduler"

ACTIONS: dict[str, str] = {
    "item": "published",
    "update": "corrected",
    "note": "corrected",
    "hold": "held",
    "release": "released",
    "retract": "retracted",
    "pin": "pinned",
    "unpin": "unpinned",
    "golive": "published",
    "expire": "expired",
    "approve": "approved",
    "reject": "rejected",
}
"""The history action of each change kind; a ``draft`` records its status (``submitted`` or
``scheduled``), an ``approve`` under a future embargo still records ``approved``."""


def action_of(kind: str, status: str) -> str:
    """The action recorded for a change of ``kind`` that left the item with ``status``."""
    return status if kind == "draft" else ACTIONS[kind]


def entry_json(action: str, by: str, at: str, version: int) -> bytes:
    return (b'{"action":"' + action.encode() + b'","by":' + codec.encode(by or SCHEDULER)
            + b',"at":"' + at.encode() + b'","version":' + str(version).encode() + b"}")


def appended(history: bytes | None, entry: bytes) -> bytes:
    """A history (a JSON array) with ``entry`` appended."""
    if not history:
        return b"[" + entry + b"]"
    return history[:-1] + b"," + entry + b"]"


def desk_item(item: bytes, note: str | None) -> bytes:
    """The item as the desk sees it: its note merged in."""
    if not note:
        return item
    return b'{"note":' + codec.encode(note) + b"," + item[1:]


def desk_notice(feed: str, ident: str, entry: bytes, item: bytes) -> bytes:
    """The desk's notice of one history entry, with the item as it now is."""
    return (b'{"type":"desk","feed":"' + feed.encode() + b'","id":"' + ident.encode() + b'",'
            + entry[1:-1] + b',"item":' + item + b"}")
