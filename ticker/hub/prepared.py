"""An event prepared once per node: decoded for filtering, framed for every transport."""

from __future__ import annotations

from ticker import codec
from ticker.hub.filters import Matcher
from ticker.model import Item, PinEvent, RetractEvent


class Prepared:
    """One event, encoded once: the WebSocket frame and (lazily) the SSE block are shared by
    every reader that receives it."""

    __slots__ = ("_sse", "cursor", "data", "item", "item_id", "kind", "retracted_id", "seq", "ws")

    def __init__(self, seq: int, data: bytes) -> None:
        event = codec.event_decoder.decode(data)
        self.seq = seq  # position in the feed's log
        self.data = data  # the event JSON, as stamped by the broker
        self.kind = event.__struct_config__.tag  # "item" | "update" | "retract" | "pin"
        self.cursor = event.cursor
        self.item: Item | None  # the item; for "pin" the pinned one (None: unpinned)
        self.retracted_id: str | None
        if isinstance(event, RetractEvent):
            self.item, self.retracted_id = None, event.id
            self.item_id: str = event.id  # the item the event is about
        elif isinstance(event, PinEvent):
            self.item, self.retracted_id = event.item, None
            self.item_id = event.id or ""
        else:
            self.item, self.retracted_id = event.item, None
            self.item_id = event.item.id
        self.ws = codec.ws_frame(data)  # complete WebSocket text frame
        self._sse: bytes | None = None

    @property
    def sse(self) -> bytes:
        if self._sse is None:
            self._sse = codec.sse_block(str(self.kind), self.data, self.cursor)
        return self._sse

    def matches(self, matcher: Matcher) -> bool:
        if self.kind != "item" or self.item is None:
            return True
        item = self.item
        return matcher.item(item.category, item.regions, item.urgency)


