"""The newsroom's use cases: publish, correct, retract, hold, release, pin. Knows nothing of HTTP.

Who may do what is checked here (a token's feeds and role), the change is built as bytes
for the broker's atomic step, and the broker's answer is turned into a result or a typed error.
Which status allows which change is the broker's table (``ticker.brokers.transitions``); the
broker decides inside its atomic step, and a refusal becomes a ``409`` that says why.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable
from typing import NamedTuple

import msgspec

from ticker import codec
from ticker.auth import Claims, require_editor, require_feed, require_item_access
from ticker.brokers.base import Broker, Change, Idempotency, ItemRecord, Kind
from ticker.brokers.transitions import ALLOWED
from ticker.config import FeedConfig
from ticker.errors import Conflict, Forbidden, InvalidInput, NotFound, RateLimited
from ticker.model import DESK_STATUSES, FieldError, Item, ItemDraft, PatchBody, PublishBody
from ticker.ratelimit import RateLimiter
from ticker.stamp import ms_of, now_ms
from ticker.validation import check_times
from ticker.views import private_item

MAX_CONFLICT_RETRIES = 5
_DONE = {"update": "corrected", "note": "annotated", "hold": "held", "release": "released",
         "retract": "retracted", "pin": "pinned", "golive": "made live", "expire": "expired",
         "approve": "approved", "reject": "rejected"}
_STAMPED = ("id", "published_at", "updated_at")
_UNPINS = frozenset({"hold", "retract", "expire"})  # taking the pinned item off unpins it


class Outcome(NamedTuple):
    """The item as the desk sees it (JSON with its note and pinned flag, and decoded), and
    whether this call created the change."""

    data: bytes
    item: Item
    created: bool


def stored_body(item: Item) -> bytes:
    """An item as a changing step sends it: without ``updated_at`` (the broker stamps it) and
    without what never is stored in it (``note``, ``pinned``)."""
    body = msgspec.to_builtins(msgspec.structs.replace(item, note=None, pinned=False))
    del body["updated_at"]
    return codec.encode(body)


def live_draft(item: Item | ItemDraft) -> bytes:
    """The draft a desk item goes live as: its fields with ``status: usable``, unstamped."""
    body = msgspec.to_builtins(msgspec.structs.replace(item, status="usable", note=None,
                                                       pinned=False))
    for name in _STAMPED:
        body.pop(name, None)
    return codec.encode(body)


def require_submitted(item: Item) -> None:
    """A contributor changes or withdraws its items only while they wait for an editor."""
    if item.status != "submitted":
        raise Forbidden(f"item {item.id} is {item.status}: a contributor may change its items "
                        "only while they are submitted")


def _ms(timestamp: str | None) -> int | None:
    return None if timestamp is None else ms_of(timestamp)


class Newsroom:
    def __init__(self, broker: Broker, limiter: RateLimiter) -> None:
        self._broker = broker
        self._limiter = limiter

    # -- publish ---------------------------------------------------------------------------

    async def publish(self, claims: Claims, feed: FeedConfig, body: PublishBody,
                      idempotency_key: str | None = None) -> Outcome:
        """A new item: ``usable`` at once, or ``scheduled`` under an embargo still ahead."""
        require_feed(claims, feed.id)
        scheduled = body.embargoed_until is not None and ms_of(body.embargoed_until) > now_ms()
        submitted = claims.role == "contributor"  # (issue 13) it waits for an editor
        draft = ItemDraft(
            feed=feed.id, text=body.text, urgency=body.urgency, regions=body.regions,
            lang=body.lang or feed.lang, author=claims.sub, version=1,
            status="submitted" if submitted else "scheduled" if scheduled else "usable",
            source=body.source,
            category=body.category, url=body.url, embargoed_until=body.embargoed_until,
            expires=body.expires,
        )
        if scheduled or submitted:  # a submission's embargo counts from its approval
            change = Change("draft", codec.encode(draft), live=live_draft(draft),
                            embargo_ms=None if submitted else _ms(body.embargoed_until),
                            expires_ms=_ms(body.expires),
                            note=body.note, by=claims.sub)
        else:
            change = Change("item", codec.encode(draft), expires_ms=_ms(body.expires),
                            note=body.note, by=claims.sub)
        idem = None
        if idempotency_key is not None:
            fingerprint = hashlib.sha256(codec.encode(body)).hexdigest()
            idem = Idempotency(scope=claims.sub, key=idempotency_key, fingerprint=fingerprint)
        # A retry of a publish that went through is answered before the rate limit is charged:
        # it publishes nothing, and a 429 would break the promise of getting the same item.
        result = await self._broker.recall(feed.id, idem) if idem is not None else None
        if result is None:
            await self._take_rate(claims.sub)
            result = await self._broker.publish(feed.id, change, idem)
        if result.status == "mismatch":
            raise InvalidInput([FieldError(
                path="header.Idempotency-Key",
                message="this key was already used with a different body",
            )])
        if result.item is None:  # a duplicate whose item left the store (``item_retention``)
            raise Conflict("the item this Idempotency-Key published is no longer kept; "
                           "nothing new was published")
        if result.status == "published":
            return self._outcome(result.item, body.note, False, True)
        record = await self.record(feed.id, codec.item_decoder.decode(result.item).id)
        return self._outcome(record.data, record.note, record.pinned, False)

    # -- changes to an item ----------------------------------------------------------------

    async def correct(self, claims: Claims, feed: FeedConfig, item_id: str,
                      patch: PatchBody) -> Outcome:
        """A correction (``version`` + 1); a patch of ``note`` alone changes only the note."""
        fields = {k: v for k, v in msgspec.structs.asdict(patch).items()
                  if v is not msgspec.UNSET}
        note = fields.pop("note", msgspec.UNSET)
        note_change = None if note is msgspec.UNSET else (note or "")
        if not fields:
            return await self._change(claims, feed, item_id, "note", lambda item: Change(
                "note", item_id=item_id, note=note_change, by=claims.sub))

        def change(item: Item) -> Change:
            if "embargoed_until" in fields and item.status not in DESK_STATUSES:
                raise Conflict(f"item {item_id} is {item.status}: embargoed_until can change "
                               "only while it is scheduled or submitted")
            new = msgspec.structs.replace(item, version=item.version + 1, **fields)
            desk = new.status in DESK_STATUSES
            if desk or "expires" in fields:
                problem = check_times(new.embargoed_until if desk else None, new.expires)
                if problem:
                    raise InvalidInput([FieldError(path="$.expires", message=problem)])
            embargo = None
            if new.status == "scheduled":  # no embargo left: it goes live at once
                embargo = _ms(new.embargoed_until) or now_ms()
            return Change("update", stored_body(new), item_id, item.version,
                          live=live_draft(new) if desk else b"", embargo_ms=embargo,
                          expires_ms=_ms(new.expires), note=note_change, by=claims.sub)

        return await self._change(claims, feed, item_id, "update", change)

    async def retract(self, claims: Claims, feed: FeedConfig, item_id: str) -> Outcome:
        """A kill: ``canceled`` for good, off every output; a scheduled item never goes live."""
        return await self._change(claims, feed, item_id, "retract", lambda item: Change(
            "retract", stored_body(msgspec.structs.replace(item, status="canceled")), item_id,
            item.version, by=claims.sub))

    async def hold(self, claims: Claims, feed: FeedConfig, item_id: str) -> Outcome:
        """``usable`` → ``withheld``: off the air at once, not declared false."""
        require_editor(claims, "hold an item")
        return await self._change(claims, feed, item_id, "hold", lambda item: Change(
            "hold", stored_body(msgspec.structs.replace(item, status="withheld")), item_id,
            item.version, by=claims.sub))

    async def release(self, claims: Claims, feed: FeedConfig, item_id: str) -> Outcome:
        """``withheld`` → ``usable``: back on the air in its place by time."""
        require_editor(claims, "release an item")
        return await self._change(claims, feed, item_id, "release", lambda item: Change(
            "release", stored_body(msgspec.structs.replace(item, status="usable")), item_id,
            item.version, place_ms=ms_of(item.published_at), by=claims.sub))

    async def pin(self, claims: Claims, feed: FeedConfig, item_id: str) -> Outcome:
        """Make a ``usable`` item the feed's pinned one (replacing any other)."""
        require_editor(claims, "pin an item")
        return await self._change(claims, feed, item_id, "pin", lambda item: Change(
            "pin", item_id=item_id, by=claims.sub))

    async def unpin(self, claims: Claims, feed: FeedConfig) -> Outcome | None:
        """No pinned item any more; the item that was pinned, if there was one."""
        require_feed(claims, feed.id)
        require_editor(claims, "unpin")
        await self._take_rate(claims.sub)
        result = await self._broker.publish(feed.id, Change("unpin", by=claims.sub))
        if result.item is None:
            return None
        record = await self.record(feed.id, codec.item_decoder.decode(result.item).id)
        return self._outcome(record.data, record.note, False, True)

    # -- (issue 13) the approval queue: approve, reject, and the desk's reads ----------------

    async def approve(self, claims: Claims, feed: FeedConfig, item_id: str) -> Outcome:
        """``submitted`` → live now (an ordinary ``item`` event), or ``scheduled`` when its
        embargo is still ahead; its author stays the contributor."""
        require_editor(claims, "approve an item")

        def build(item: Item) -> Change:
            embargo = _ms(item.embargoed_until)
            ahead = embargo is not None and embargo > now_ms()
            new = msgspec.structs.replace(item, status="scheduled" if ahead else "usable")
            return Change("approve", stored_body(new), item_id, item.version,
                          embargo_ms=embargo if ahead else None, by=claims.sub)

        return await self._change(claims, feed, item_id, "approve", build)

    async def reject(self, claims: Claims, feed: FeedConfig, item_id: str) -> Outcome:
        """``submitted`` → ``canceled``: it never was, and never will be, public."""
        require_editor(claims, "reject an item")
        return await self._change(claims, feed, item_id, "reject", lambda item: Change(
            "reject", stored_body(msgspec.structs.replace(item, status="canceled")), item_id,
            item.version, by=claims.sub))

    async def queue(self, claims: Claims, feed: FeedConfig) -> list[bytes]:
        """The ``submitted`` and ``scheduled`` items, oldest first, with their notes."""
        require_feed(claims, feed.id)
        records = await self._broker.queue(feed.id)
        return [private_item(r.data, r.note, False) for r in records
                if codec.item_decoder.decode(r.data).status in DESK_STATUSES]

    async def history(self, claims: Claims, feed: FeedConfig, item_id: str) -> bytes:
        """Every action on the item, oldest first (a JSON array); 404 for no such item."""
        require_feed(claims, feed.id)
        found = await self._broker.history(feed.id, item_id)
        if found is None:
            await self.record(feed.id, item_id)  # 404, or an item older than histories
            return b"[]"
        return found

    async def _change(self, claims: Claims, feed: FeedConfig, item_id: str, kind: Kind,
                      build: Callable[[Item], Change]) -> Outcome:
        """Read the item, check who may, build the change from it, make it; retry on a
        concurrent change (``conflict``)."""
        require_feed(claims, feed.id)
        await self._take_rate(claims.sub)  # every change shares the publish rate
        for _ in range(MAX_CONFLICT_RETRIES):
            record = await self.record(feed.id, item_id)
            current = codec.item_decoder.decode(record.data)
            require_item_access(claims, current.author)
            if current.status == "canceled" or current.status not in ALLOWED[kind]:
                self._refuse(kind, current, item_id)
            change = build(current)
            if claims.role == "contributor":  # (issue 13) only while it waits, atomically
                require_submitted(current)
                change = change._replace(require_status="submitted")
            result = await self._broker.publish(feed.id, change)
            if result.status == "published":
                note = record.note if change.note is None else (change.note or None)
                pinned = kind == "pin" or (record.pinned and kind not in _UNPINS)
                return self._outcome(result.item or record.data, note, pinned, True)
            if result.status == "not_found":
                raise NotFound(f"no item {item_id} in feed {feed.id!r}")
            if result.status in ("canceled", "illegal"):
                now = codec.item_decoder.decode(result.item or record.data)
                self._refuse(kind, now, item_id, expired=result.status == "illegal")
            # "conflict": someone else changed it meanwhile; read it again and retry
        raise Conflict(f"item {item_id} is being changed by others; try again")

    @staticmethod
    def _refuse(kind: Kind, item: Item, item_id: str, expired: bool = False) -> None:
        if item.status == "canceled":
            raise Conflict(f"item {item_id} was retracted and can no longer be changed")
        if expired and item.status in ALLOWED[kind]:
            raise Conflict(f"item {item_id} has expired: it can no longer be {_DONE[kind]} "
                           "(only its note can change, or it can be killed)")
        raise Conflict(f"item {item_id} is {item.status}: it cannot be {_DONE[kind]}")

    @staticmethod
    def _outcome(data: bytes, note: str | None, pinned: bool, created: bool) -> Outcome:
        view = private_item(data, note, pinned)
        return Outcome(view, codec.item_decoder.decode(view), created)

    # -- reads -----------------------------------------------------------------------------

    async def record(self, feed: str, item_id: str) -> ItemRecord:
        """An item with its note and pinned flag (for a token valid for the feed), or 404."""
        record = await self._broker.item_record(feed, item_id)
        if record is None:
            raise NotFound(f"no item {item_id!r} in feed {feed!r}")
        return record

    async def get(self, feed: str, item_id: str) -> Item:
        data = await self.get_json(feed, item_id)
        return codec.item_decoder.decode(data)

    async def get_json(self, feed: str, item_id: str) -> bytes:
        data = await self._broker.get_item(feed, item_id)
        if data is None:
            raise NotFound(f"no item {item_id!r} in feed {feed!r}")
        return data

    # -- the rate ----------------------------------------------------------------------------

    async def _take_rate(self, subject: str) -> None:
        wait = await self._limiter.hit(subject)
        if wait > 0:
            raise RateLimited(max(1, math.ceil(wait)),
                              "too many changes from this token; try again after Retry-After")
