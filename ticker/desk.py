"""The desk's private live stream: notices of every action on a feed's items, for editors.

Theory of operation
-------------------
The broker's atomic step that changes an item also sends a *desk notice* of it
(``ticker.history``): the embedded engine calls ``MemoryBroker.on_desk``; on Redis
``publish.lua`` PUBLISHes it on the feed's desk channel (``<prefix>{feed}:desk``), which no
public reader ever subscribes to. ``DeskWire`` holds one pub/sub connection per node for every
feed's desk channel and hands each notice to the ``DeskHub``, which passes it to that feed's open
desk streams (``GET /api/v1/feeds/{feed}/desk/events``, ``ticker.web.desk_api``).

Notices are at-most-once (pub/sub), so they are not the desk's state: the queue is. A desk stream
opens with the queue, and whenever the wire reconnects (notices may have been lost meanwhile)
``DeskHub.resync`` makes every open stream send the queue again. A stream whose reader falls
behind by more than ``BACKLOG`` notices is ended; its client reconnects and starts from the queue.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from contextlib import suppress
from typing import Any, Protocol

logger = logging.getLogger(__name__)
BACKLOG = 1000  # notices a desk stream may have waiting before it is ended
PING_EVERY = 5.0  # seconds between the wire's PINGs
SILENT_FOR = 15.0  # seconds without any message or PONG after which the wire reconnects


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
    """Redis: the desk channels of every feed, on one pub/sub connection of this node."""

    def __init__(self, url: str, channels: dict[str, str], deliver: Callable[[str, bytes], None],
                 resync: Callable[[], None]) -> None:
        self._url = url
        self._feeds = {channel.encode(): feed for feed, channel in channels.items()}
        self._deliver = deliver
        self._resync = resync
        self._task: asyncio.Task[None] | None = None
        self.connected = asyncio.Event()  # subscribed (set again after each reconnect)

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="ticker-desk-wire")
        with suppress(TimeoutError):
            await asyncio.wait_for(self.connected.wait(), 5.0)

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _watch(self, pubsub: Any) -> None:
        """Deliver notices; PING every ``PING_EVERY`` s and fail when nothing at all (not even
        the PONG) arrived for ``SILENT_FOR`` s: a half-open connection must not go unnoticed."""
        loop = asyncio.get_running_loop()
        heard = pinged = loop.time()
        while True:
            message = await pubsub.get_message(timeout=1.0)
            now = loop.time()
            if message is not None:
                heard = now
                feed = self._feeds.get(message.get("channel", b""))
                if message.get("type") == "message" and feed is not None:
                    self._deliver(feed, message["data"])
            if now - heard > SILENT_FOR:
                raise TimeoutError(f"desk wire: nothing heard for {SILENT_FOR}s")
            if now - pinged > PING_EVERY:
                pinged = now
                await pubsub.ping()

    async def _run(self) -> None:
        from redis.asyncio import Redis

        from ticker.brokers.redis_url import no_retry, server_url

        delay, first = 0.1, True
        while True:
            client = Redis.from_url(server_url(self._url), retry=no_retry(), socket_timeout=None,
                                    socket_connect_timeout=2.0, health_check_interval=0)
            pubsub = client.pubsub()
            try:
                await pubsub.subscribe(*self._feeds)
                self.connected.set()
                if not first:
                    self._resync()  # notices sent while we were away are lost: resend queues
                first, delay = False, 0.1
                await self._watch(pubsub)
            except Exception as exc:  # the wire outlives every failure
                logger.warning("desk wire: pub/sub connection lost (%r); reconnecting", exc)
            finally:
                self.connected.clear()
                with suppress(Exception):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]  # untyped in redis-py
                with suppress(Exception):
                    await client.aclose()
            first = False
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)
