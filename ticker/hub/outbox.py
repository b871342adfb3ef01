"""A reader's bounded outbox: frames waiting to be written to one connection.

The hub appends already-encoded frames; the transport takes everything pending in one write.
Writing is the transport's business: when its socket buffer is full it marks the outbox
``paused`` and frames wait here. If they pile up past ``limit`` bytes the reader is too slow:
the outbox is marked ``cut`` (the transport closes it with 1013) and takes no more frames.
"""

from __future__ import annotations

from typing import Literal, Protocol

Format = Literal["ws", "sse"]


class Writer(Protocol):
    """The transport's connection that owns an outbox. The hub never calls it; the transport's
    flush does."""

    def write(self, data: bytes) -> None: ...

    def close_slow(self) -> None: ...


class Outbox:
    __slots__ = ("cut", "fmt", "frames", "idle", "limit", "nbytes", "owner", "paused", "queued",
                 "subs")

    def __init__(self, owner: Writer, limit: int, fmt: Format = "ws") -> None:
        self.fmt: Format = fmt  # which encoding of events this reader takes
        self.limit = limit  # most bytes that may wait here before the reader is cut
        self.owner = owner  # the transport's connection; the hub never calls it
        self.frames: list[bytes] = []  # encoded frames not yet handed to the transport
        self.nbytes = 0  # their total size
        self.paused = False  # the transport cannot take more right now
        self.queued = False  # already in the hub's ready list
        self.cut = False  # too slow: to be closed with 1013
        self.idle = 0  # idle ticks since the last frame (for pings)
        self.subs: dict[str, object] = {}  # feed → the hub's Subscription

    def take(self) -> bytes:
        """Everything pending, joined for one write. The list is emptied in place: no new
        object per delivery for the garbage collector to count."""
        frames = self.frames
        data = frames[0] if len(frames) == 1 else b"".join(frames)
        frames.clear()
        self.nbytes = 0
        self.idle = 0
        return data
