"""Every Redis key and channel name the Redis engine uses, in one place.

All names of one feed share the hash tag ``{feed}``, so on Redis Cluster a feed's keys live on one
shard and the publish script (which touches all of them) is legal there. The configurable prefix
comes first (``ticker:`` by default) so several deployments, or tests, can share one Redis::

    ticker:{en}:meta            hash: epoch, seq (last sequence), ms (last timestamp used),
                                pinned (the pinned item's id, if any)
    ticker:{en}:log             stream: one entry per event, id ``<seq>-0``, field ``d``: event
    ticker:{en}:items           hash: item id -> item JSON (retracted items too)
    ticker:{en}:latest          sorted set: ids on the air, score = published_at in ms
    ticker:{en}:notes           hash: item id -> private note (never in any public output)
    ticker:{en}:drafts          hash: desk item id -> the draft it goes live as
    ticker:{en}:due             sorted set: "golive:<id>" / "expire:<id>", score = due ms
    ticker:{en}:expired         set: ids of expired items
    ticker:{en}:history         hash: item id -> its history, a JSON array (ticker/history.py)
    ticker:{en}:retention       sorted set: item ids, score = seq of their last event (retention)
    ticker:{en}:idem:<sha256>   hash: f = fingerprint, i = item id; expires after the key's TTL
    ticker:{en}:events          pub/sub channel: ``<epoch> <seq> <event JSON>``
    ticker:{en}:desk            pub/sub channel: the desk's notices (private; ticker/desk.py)

Feed names are ``[a-z0-9-]{1,32}`` (checked by the configuration), so they are safe inside the
braces. The idempotency scope (a token subject) and key (a client header) are arbitrary text, so
they are hashed: the key name stays short and contains no braces that would move the hash tag.
"""

from __future__ import annotations

import hashlib
from typing import NamedTuple


class FeedKeys(NamedTuple):
    """The names of one feed's keys and its channel."""

    meta: str  # hash: epoch, seq, ms
    log: str  # stream of events
    items: str  # hash of every item by id
    latest: str  # sorted set of the ids on the air by published ms
    notes: str  # hash of private notes by item id
    drafts: str  # hash of desk items' live drafts by id
    due: str  # sorted set of schedule entries by due ms
    expired: str  # set of expired item ids
    retention: str  # sorted set of item ids by the seq of their last event
    channel: str  # pub/sub channel of live events
    history: str  # hash of items' histories by id
    desk: str  # pub/sub channel of the desk's notices
    idem_prefix: str  # idempotency records are ``idem_prefix + sha256(scope, key)``

    def idem(self, scope: str, key: str) -> str:
        """The idempotency record's key for ``key`` sent by ``scope`` (a token subject)."""
        digest = hashlib.sha256(scope.encode() + b"\x00" + key.encode()).hexdigest()
        return self.idem_prefix + digest


def check_prefix(prefix: str) -> str:
    """Refuse a prefix that would carry its own hash tag and break one-feed-one-slot."""
    if "{" in prefix or "}" in prefix:
        raise ValueError(f"Redis key prefix must not contain braces: {prefix!r}")
    return prefix


def feed_keys(prefix: str, feed: str) -> FeedKeys:
    """The key and channel names of ``feed`` under ``prefix``."""
    base = f"{prefix}{{{feed}}}:"
    return FeedKeys(
        meta=base + "meta",
        log=base + "log",
        items=base + "items",
        latest=base + "latest",
        notes=base + "notes",
        drafts=base + "drafts",
        due=base + "due",
        expired=base + "expired",
        retention=base + "retention",
        channel=base + "events",
        history=base + "history",
        desk=base + "desk",
        idem_prefix=base + "idem:",
    )
