"""The ``Broker`` protocol: a feed's log, its atomic publish, and live delivery to every node.

Engines (``memory://``, ``redis://``) implement the same surface with the same semantics, and one
contract test suite runs against both. Events travel as bytes: the event JSON exactly as readers
receive it, stamped once by the engine's atomic publish step, so no node re-encodes an event.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, NamedTuple, Protocol

Kind = Literal["item", "update", "retract"]


class Entry(NamedTuple):
    """One event in a feed's log: its sequence and its JSON (``{"type": ..., "cursor": ...}``)."""

    seq: int
    data: bytes


class LogSlice(NamedTuple):
    """The events after a position. ``complete`` is false when the position is not retained
    (another epoch, or trimmed away): the caller must start over from a snapshot."""

    epoch: str
    head: int
    entries: list[Entry]
    complete: bool


class Head(NamedTuple):
    """A feed's current state: epoch, last sequence, the latest usable items (oldest first, as
    item JSON) and the tail of the log (for a node's ring of recent events)."""

    epoch: str
    seq: int
    items: list[bytes]
    tail: list[Entry]


class Change(NamedTuple):
    """What to append.

    ``kind == "item"``: ``body`` is an ``ItemDraft`` JSON object; the engine assigns the id and
    the timestamps. ``"update"`` and ``"retract"``: ``body`` is the whole new item JSON without
    ``updated_at`` (the engine stamps it), ``item_id`` names it and ``expected_version`` must
    match the stored item's version, or the change is refused with ``"conflict"``.
    """

    kind: Kind
    body: bytes
    item_id: str | None = None
    expected_version: int | None = None


class Idempotency(NamedTuple):
    """A publish's retry key, scoped to the token's subject; ``fingerprint`` is the body's hash."""

    scope: str
    key: str
    fingerprint: str
    ttl_seconds: int = 24 * 3600


PublishStatus = Literal["published", "duplicate", "mismatch", "conflict", "not_found", "canceled"]


class PublishResult(NamedTuple):
    """``published``: a new event at ``seq``; ``duplicate``: the idempotency key was seen with the
    same body and ``item`` is the item it published; the others refused the change."""

    status: PublishStatus
    epoch: str
    seq: int
    item: bytes | None


OnEvent = Callable[[str, str, Entry], None]
"""Live delivery: ``(feed, epoch, entry)``; called in log order per feed, possibly with gaps."""
OnResync = Callable[[], None]
"""Called after the live connection was (re)established: read the log to close any gap."""


class BrokerUnavailableError(Exception):
    """The engine could not reach its backend. A write either happened whole or not at all
    (one atomic step), but after a timeout the caller cannot know which: retry it with the same
    idempotency key."""


class Broker(Protocol):
    async def start(self, feeds: list[str], on_event: OnEvent, on_resync: OnResync) -> None:
        """Connect and start live delivery of the given feeds' events."""

    async def aclose(self) -> None:
        """Stop live delivery and release connections."""

    async def publish(self, feed: str, change: Change,
                      idempotency: Idempotency | None = None) -> PublishResult:
        """Append to the log and notify every node, in one atomic step."""

    async def recall(self, feed: str, idempotency: Idempotency) -> PublishResult | None:
        """What an earlier publish with this key did (``duplicate`` with its item, or
        ``mismatch`` for another body), or ``None`` if the key is new. Read-only: ``publish``
        still checks and records the key atomically."""

    async def read(self, feed: str, epoch: str | None, after: int, limit: int) -> LogSlice:
        """The events with ``seq > after`` (at most ``limit``), if ``epoch`` is still current."""

    async def head(self, feed: str, items: int, tail: int) -> Head:
        """The feed's epoch and last sequence, latest items, and the last ``tail`` events."""

    async def get_item(self, feed: str, item_id: str) -> bytes | None:
        """One item's JSON by id (retracted ones too)."""

    async def latest(self, feed: str, limit: int) -> list[bytes]:
        """The latest usable items, oldest first."""

    async def healthy(self) -> bool:
        """Whether the backend answers right now (for ``/readyz``)."""
