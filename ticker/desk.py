"""The desk's private live stream: notices of every action on a feed's items, for editors.

Theory of operation
-------------------
The broker's atomic step that changes an item also sends a *desk notice* of it
(``ticker.history``): the embedded engine calls ``MemoryBroker.on_desk``; on Redis
``publish.lua`` PUBLISHes it on the feed's desk channel (``<prefix>{feed}:desk``), which no
public reader ever subscribes to. ``DeskWire`` follows every feed's desk channel on one pub/sub
connection per node (``ticker.pubsub``) and hands each notice to the ``DeskHub``, which passes
it to that feed's open desk streams (``GET /api/v1/feeds/{feed}/desk/events``,
``ticker.web.desk_api``).

Notices are at-most-once (pub/sub), so they are not the desk's state: the queue is. A desk stream
opens with the queue, and whenever the wire reconnects (notices may have been lost meanwhile)
``DeskHub.resync`` makes every open stream send the queue again. A stream whose reader falls
behind by more than ``BACKLOG`` notices is ended; its client reconnects and starts from the queue.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol

from ticker.pubsub import ChannelFollower

logger = logging.getLogger(__name__)
BACKLOG = 1000  # notices a desk stream may have waiting before it is ended


class DeskReader(Protocol):
    """One open desk stream, as the hub sees it."""

    def notice(self, data: bytes) -> bool:
        """Take a notice; False if the reader is too far behind (it will be ended)."""

    def resync(self) -> None:
        """Notices may have been lost: send the queue again."""

    def end(self) -> None: ...


class DeskHub:
    """A node's open desk streams by feed."""

    def __init__(self) -> None:
        self.readers: dict[str, set[DeskReader]] = {}

    def add(self, feed: str, reader: DeskReader) -> None:
        self.readers.setdefault(feed, set()).add(reader)

    def remove(self, feed: str, reader: DeskReader) -> None:
        self.readers.get(feed, set()).discard(reader)

    def deliver(self, feed: str, data: bytes) -> None:
        for reader in list(self.readers.get(feed, ())):
            if not reader.notice(data):
                logger.warning("desk stream of %s fell %d notices behind; ending it", feed, BACKLOG)
                reader.end()

    def resync(self) -> None:
        for readers in self.readers.values():
            for reader in list(readers):
                reader.resync()


class DeskWire:
    """Redis: the desk channels of every feed, followed on one pub/sub connection of this node.
    After every (re)connection the open desk streams resend the queue."""

    def __init__(self, url: str, channels: dict[str, str], deliver: Callable[[str, bytes], None],
                 resync: Callable[[], None]) -> None:
        self._feeds = {channel: feed for feed, channel in channels.items()}
        self._deliver = deliver
        self._resync = resync
        self.follower = ChannelFollower(url, list(self._feeds), self._message, self._connected,
                                        "desk-wire")

    async def start(self) -> None:
        await self.follower.start()

    async def aclose(self) -> None:
        await self.follower.aclose()

    def _message(self, channel: str, data: bytes) -> None:
        feed = self._feeds.get(channel)
        if feed is not None:
            self._deliver(feed, data)

    async def _connected(self) -> None:
        self._resync()  # notices sent while we were away are lost: the queue is the state
