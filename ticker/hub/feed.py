"""One feed's state on a node: position, the ring of recent events, the snapshot."""

from __future__ import annotations

from collections import OrderedDict, deque

import msgspec

from ticker import codec
from ticker.brokers.base import Entry
from ticker.hub.filters import Matcher, Version
from ticker.hub.prepared import Prepared
from ticker.model import Item


class FeedState:
    """What a node knows about one feed, kept current from the events it dispatches.

    - ``ring``: the last ``ring_size`` events, so resumes are served from memory;
    - ``latest``: the latest items on the air (corrections applied, retractions of any reason
      removed, released items back in their place by time), so a new reader's snapshot costs no
      broker round trip; its unfiltered encoding is cached;
    - ``pinned``: the feed's pinned item (``pinned: true``), kept from ``pin`` events and the
      corrections of that item; every snapshot carries it;
    - ``versions``: for the recent items this node saw from their first version, what a filter
      looks at in every version, so a correction goes only to readers that may have shown the
      item (an item not in it goes to every reader).

    The order of ``latest`` is the broker's: by ``published_at``, then ``id``.
    """

    def __init__(self, feed: str, epoch: str, seq: int, ring_size: int, latest_max: int) -> None:
        self.feed = feed
        self.epoch = epoch  # the log's epoch; another epoch means the log was lost
        self.seq = seq  # last sequence dispatched on this node
        self.ring: deque[Prepared] = deque(maxlen=ring_size)  # recent events, in order
        self.latest: OrderedDict[str, tuple[Item, bytes]] = OrderedDict()  # id → item, json
        self.latest_max = latest_max
        self.pinned: tuple[Item, bytes] | None = None  # the pinned item and its JSON
        self._snapshot_cache: dict[int, bytes] = {}  # size → encoded unfiltered snapshot JSON
        self.versions: OrderedDict[str, list[Version]] = OrderedDict()  # id → its versions
        self.versions_max = max(ring_size, latest_max)

    @property
    def cursor(self) -> str:
        return f"{self.epoch}:{self.seq}"

    def add_item(self, item: Item, data: bytes) -> None:
        """On the air: at the end, or (a released item) in its place by time."""
        if self.latest:
            newest = next(reversed(self.latest.values()))[0]
            if (item.published_at, item.id) < (newest.published_at, newest.id):
                self._insert(item, data)
                return
        self.latest[item.id] = (item, data)
        while len(self.latest) > self.latest_max:
            self.latest.popitem(last=False)

    def _insert(self, item: Item, data: bytes) -> None:
        entries = [*self.latest.values(), (item, data)]
        entries.sort(key=lambda entry: (entry[0].published_at, entry[0].id))
        self.latest = OrderedDict((entry[0].id, entry) for entry in entries[-self.latest_max:])

    def set_pinned(self, data: bytes | None) -> None:
        """The pinned item's JSON (with ``"pinned":true``), or ``None``."""
        self.pinned = None if data is None else (codec.item_decoder.decode(data), data)

    def note_version(self, prepared: Prepared) -> None:
        """Remember what a filter looks at in a new item or a correction of a known one."""
        item = prepared.item
        if item is None or prepared.kind == "pin":
            return
        version = (item.category, item.regions, item.urgency)
        if prepared.kind == "item":
            self.versions[item.id] = [version]
            if len(self.versions) > self.versions_max:
                self.versions.popitem(last=False)
        else:
            known = self.versions.get(item.id)
            if known is not None:
                known.append(version)

    def apply(self, prepared: Prepared) -> None:
        """Advance the position and keep ring, snapshot and versions current."""
        self.seq = prepared.seq
        self.ring.append(prepared)
        self._snapshot_cache.clear()
        self.note_version(prepared)
        item = prepared.item
        if prepared.kind == "item" and item is not None:
            self.add_item(item, codec.encode(item))
        elif prepared.kind == "update" and item is not None:
            if item.id in self.latest:
                self.latest[item.id] = (item, codec.encode(item))
            if self.pinned is not None and self.pinned[0].id == item.id:
                pinned = msgspec.structs.replace(item, pinned=True)
                self.pinned = (pinned, codec.encode(pinned))
        elif prepared.kind == "pin":
            self.pinned = None if item is None else (item, codec.encode(item))
        elif prepared.retracted_id is not None:
            self.latest.pop(prepared.retracted_id, None)

    def differs(self, entry: Entry) -> bool:
        """Whether ``entry`` rewrites a sequence this node dispatched with other content."""
        if not self.ring or entry.seq < self.ring[0].seq:
            return False
        return self.ring[entry.seq - self.ring[0].seq].data != entry.data

    def ring_after(self, seq: int) -> list[Prepared] | None:
        """The events after ``seq`` if the ring still holds all of them, else ``None``."""
        if seq == self.seq:
            return []
        if not self.ring or seq < self.ring[0].seq - 1 or seq > self.seq:
            return None
        start = seq - self.ring[0].seq + 1
        return [self.ring[i] for i in range(start, len(self.ring))]

    def snapshot_json(self, size: int, matcher: Matcher) -> bytes:
        """``{"type": "snapshot", ...}`` with the latest ``size`` matching items, newest last."""
        if matcher.everything and size in self._snapshot_cache:
            return self._snapshot_cache[size]
        chosen: list[bytes] = []
        for item, data in reversed(self.latest.values()):
            if len(chosen) >= size:
                break
            if matcher.item(item.category, item.regions, item.urgency):
                chosen.append(data)
        chosen.reverse()
        head = f'{{"type":"snapshot","feed":"{self.feed}","cursor":"{self.cursor}","items":['
        pinned = self.pinned[1] if self.pinned is not None else b"null"
        encoded = head.encode() + b",".join(chosen) + b'],"pinned":' + pinned + b"}"
        if matcher.everything:
            self._snapshot_cache[size] = encoded
        return encoded
