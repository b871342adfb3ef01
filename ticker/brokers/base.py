"""The ``Broker`` protocol: a feed's log, its atomic publish, and live delivery to every node.

Engines (``memory://``, ``redis://``) implement the same surface with the same semantics, and one
contract test suite runs against both. Events travel as bytes: the event JSON exactly as readers
receive it, stamped once by the engine's atomic publish step, so no node re-encodes an event.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, NamedTuple, Protocol

Kind = Literal["item", "draft", "update", "note", "hold", "release", "retract", "pin", "unpin",
               "golive", "expire", "approve", "reject"]
"""What one atomic step does (the transition table, docs/api.md, is built from these):

- ``item``: a new ``usable`` item; event ``item``. Its ``expires`` (``expires_ms``) is put on
  the feed's schedule.
- ``draft``: a new desk-only item (``scheduled`` or ``submitted``, as ``body`` says); no event.
  ``live`` is the draft it goes live as; ``embargo_ms`` puts its going-live on the schedule.
- ``update``: a correction of a ``usable``, ``withheld``, ``scheduled`` or ``submitted`` item;
  event ``update`` only while ``usable`` (desk-only and held items change off the air). Sets
  the schedule from ``expires_ms`` (and ``embargo_ms`` for desk items).
- ``note``: only the private note changes (any item not ``canceled``); no event.
- ``hold``: ``usable`` → ``withheld``; event ``retract`` (reason ``withheld``).
- ``release``: ``withheld`` → ``usable``; event ``item`` (old id), back in the latest list at
  ``place_ms`` (its ``published_at``).
- ``retract`` (kill): ``usable``/``withheld``/``scheduled``/``submitted`` → ``canceled``; event
  ``retract`` (reason ``retracted``) unless it was never public; its schedule is cancelled.
- ``pin`` / ``unpin``: the feed's pinned item (a ``usable`` one) / none; event ``pin``.
- ``golive``: a desk item goes live now (``published_at`` = now) as an ordinary ``item`` event.
- ``expire``: a ``usable`` item leaves the air (event ``retract``, reason ``expired``), status
  unchanged; it cannot change any more except for its note and a kill.

- ``approve`` (an editor, issue 13): ``submitted`` → live now as an ordinary ``item`` event,
  like ``golive``; or, when ``embargo_ms`` is still ahead, → ``scheduled`` (``body``: the item
  with that status) with its going-live on the schedule; no event then.
- ``reject``: ``submitted`` → ``canceled`` (``body``: the item with that status); no event,
  it never was public.

Every step that changes an item also appends to the item's history and sends the desk a notice
(``ticker.history``); ``require_status`` refuses (``illegal``) a change to an item whose status
is not that one (a contributor changes its items only while ``submitted``).

Holding, killing or expiring the pinned item also unpins it: a ``pin`` event with ``id: null``
follows in the same step. The scheduler fires ``golive`` and ``expire`` through
``Broker.fire_due``, which claims the due entry in the same step that appends the event.
"""


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
    item JSON), the tail of the log (for a node's ring of recent events) and the pinned item
    (its JSON with ``"pinned":true``, or ``None``)."""

    epoch: str
    seq: int
    items: list[bytes]
    tail: list[Entry]
    pinned: bytes | None = None


class Change(NamedTuple):
    """One atomic step on a feed (see ``Kind``).

    ``kind`` ``"item"`` and ``"draft"``: ``body`` is an ``ItemDraft`` JSON object; the engine
    assigns the id and the timestamps. ``"update"``, ``"hold"``, ``"release"`` and
    ``"retract"``: ``body`` is the whole new item JSON without ``updated_at`` (the engine stamps
    it), ``item_id`` names it and ``expected_version`` must match the stored item's version, or
    the change is refused with ``"conflict"``. ``"note"``, ``"pin"``, ``"golive"``,
    ``"expire"``: ``item_id`` only (``"unpin"``: nothing). Neither ``body`` nor ``live`` ever
    holds ``note`` or ``pinned``.
    """

    kind: Kind
    body: bytes = b""
    item_id: str | None = None
    expected_version: int | None = None
    live: bytes = b""  # desk items: the ItemDraft JSON it goes live as (status usable)
    embargo_ms: int | None = None  # desk items: when it goes live (None: not on the schedule)
    expires_ms: int | None = None  # when it leaves the air (None: never)
    place_ms: int | None = None  # release: its published_at, its place in the latest list
    note: str | None = None  # None: leave the note as it is; "": remove it; else: set it
    by: str = ""  # who did it (a token's sub; "" = the scheduler): for the item's history
    require_status: str | None = None  # refuse ("illegal") unless the item has this status


class Idempotency(NamedTuple):
    """A publish's retry key, scoped to the token's subject; ``fingerprint`` is the body's hash."""

    scope: str
    key: str
    fingerprint: str
    ttl_seconds: int = 24 * 3600


PublishStatus = Literal["published", "duplicate", "mismatch", "conflict", "not_found", "canceled",
                        "illegal"]


class PublishResult(NamedTuple):
    """``published``: the change was made (``seq`` is the last event it appended, or the feed's
    last sequence when it appended none); ``duplicate``: the idempotency key was seen with the
    same body and ``item`` is the item it published; the others refused the change:
    ``canceled`` (the item is final), ``illegal`` (its status does not allow this ``kind``; an
    expired item counts as off the air), ``conflict`` (another version). ``item`` is the item as
    it now is (for ``unpin``: the item that was pinned, if any)."""

    status: PublishStatus
    epoch: str
    seq: int
    item: bytes | None


class Fired(NamedTuple):
    """What ``fire_due`` did: ``result`` of the transition it fired (``None``: nothing was due)
    and when the next entry of the feed's schedule is due (ms since the epoch; ``None``: none)."""

    result: PublishResult | None
    next_ms: int | None


class ItemRecord(NamedTuple):
    """One item as the desk reads it: its stored JSON, its private note, whether it is pinned."""

    data: bytes
    note: str | None
    pinned: bool


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

    async def item_record(self, feed: str, item_id: str) -> ItemRecord | None:
        """One item with what lives beside it (note, pinned), for reads by id."""

    async def get_items(self, feed: str, item_ids: list[str]) -> list[bytes | None]:
        """Several items' JSON by id, in the order asked (``None`` for unknown ids)."""

    async def next_due(self, feed: str) -> int | None:
        """When the earliest entry of the feed's schedule is due (ms since the Unix epoch), or
        ``None``: a cheap read, so that every node may ask often and only claim when due."""

    async def fire_due(self, feed: str) -> Fired:
        """Claim the earliest entry of the feed's schedule that is due by the engine's clock and
        make its transition (``golive`` or ``expire``), in one atomic step: whichever nodes call
        this, each entry fires once. A stale entry (the item was killed) is claimed and
        dropped."""

    async def latest(self, feed: str, limit: int) -> list[bytes]:
        """The latest usable items, oldest first."""

    async def queue(self, feed: str) -> list[ItemRecord]:
        """The desk's queue: the ``submitted`` and ``scheduled`` items, oldest first."""

    async def history(self, feed: str, item_id: str) -> bytes | None:
        """The item's history, a JSON array of entries oldest first (``None``: no such item)."""

    async def healthy(self) -> bool:
        """Whether the backend answers right now (for ``/readyz``)."""
