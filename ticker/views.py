"""What a read by id shows: the desk's whole item, or the public's item or tombstone.

The stored item never holds the private ``note`` or the feed's ``pinned`` flag (see
``ticker.model.item``); they are merged in here, the note only for a token valid for the feed.
"""

from __future__ import annotations

from ticker import codec
from ticker.model import DESK_STATUSES, OFF_AIR_STATUSES, Tombstone
from ticker.stamp import pinned_json


def private_item(data: bytes, note: str | None, pinned: bool) -> bytes:
    """The whole item, for a token valid for its feed: with its note and pinned flag."""
    if pinned:
        data = pinned_json(data)
    if note:
        data = b'{"note":' + codec.encode(note) + b"," + data[1:]
    return data


def public_item(data: bytes, pinned: bool) -> bytes | None:
    """The item as anyone may read it: a tombstone while ``withheld`` or ``canceled``,
    ``None`` (not found) while ``submitted`` or ``scheduled``; never the note."""
    item = codec.item_decoder.decode(data)
    if item.status in DESK_STATUSES:
        return None
    if item.status in OFF_AIR_STATUSES:
        return codec.encode(Tombstone(id=item.id, feed=item.feed, status=item.status,
                                      version=item.version, updated_at=item.updated_at))
    return pinned_json(data) if pinned else data
