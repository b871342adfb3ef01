"""Server-Sent Events, sans I/O: lines in, typed ticker events out.

``SseParser`` follows the WHATWG parsing rules (fields ``event``, ``data``, ``id``, ``retry``;
lines starting with ``:`` are comments, such as ticker's ``: ping``; a blank line dispatches).
``decode`` turns a message into the ticker model it carries, or ``None`` for a type this client
does not know (new types may be added; old clients ignore them).
"""

from __future__ import annotations

from dataclasses import dataclass

import msgspec

from ticker_publishers.wire import (
    ItemEvent,
    PinEvent,
    RetractEvent,
    Snapshot,
    Subscribed,
    UpdateEvent,
)

StreamEvent = Subscribed | Snapshot | ItemEvent | UpdateEvent | RetractEvent | PinEvent
"""What ``events()`` yields: the stream's control messages and the feed's events (a
``RetractEvent`` says why in ``reason``: ``retracted``, ``withheld`` or ``expired``; a released
item comes back as an ``ItemEvent``; ``PinEvent`` names the feed's pinned item, or ``None``)."""

KNOWN = frozenset({"subscribed", "snapshot", "item", "update", "retract", "pin"})
_decoder = msgspec.json.Decoder(StreamEvent)


@dataclass(frozen=True)
class SseMessage:
    event: str
    data: str
    id: str | None  # the last event id in effect when this message was dispatched


class SseParser:
    """Feed it lines without their line endings; it returns a message on each blank line."""

    def __init__(self) -> None:
        self.last_id: str | None = None
        self.retry_ms: int | None = None
        self.comments = 0  # comment lines seen (``: ping`` keep-alives)
        self._event = ""
        self._data: list[str] = []

    def feed(self, line: str) -> SseMessage | None:
        if line == "":
            if not self._data:
                self._event = ""
                return None
            message = SseMessage(self._event or "message", "\n".join(self._data), self.last_id)
            self._event, self._data = "", []
            return message
        if line.startswith(":"):
            self.comments += 1
            return None
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if name == "event":
            self._event = value
        elif name == "data":
            self._data.append(value)
        elif name == "id":
            if "\0" not in value:
                self.last_id = value
        elif name == "retry" and value.isdigit():
            self.retry_ms = int(value)
        return None


class StreamProtocolError(ValueError):
    """The server sent an event of a known type whose data does not fit the model."""


def decode(message: SseMessage) -> StreamEvent | None:
    """The ticker model in ``message``; ``None`` for an unknown event type."""
    if message.event not in KNOWN:
        return None
    try:
        event: StreamEvent = _decoder.decode(message.data)
    except msgspec.DecodeError as exc:
        raise StreamProtocolError(f"bad {message.event!r} event: {exc}") from None
    if _type_of(event) != message.event:
        raise StreamProtocolError(
            f"event {message.event!r} carries a {_type_of(event)!r} object")
    return event


def _type_of(event: StreamEvent) -> str:
    tag = type(event).__struct_config__.tag
    return str(tag)
