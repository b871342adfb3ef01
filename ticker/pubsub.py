"""Following Redis pub/sub channels outside the broker's own listener (the deny list's notices,
the desk's notices): one connection, kept alive for as long as the follower runs.

Pub/sub is at-most-once, so the follower never hides a disconnect: after every (re)subscription
it calls ``on_connect`` (re-read whatever state the notices describe), and it PINGs every
``PING_EVERY`` seconds and reconnects when nothing at all — no message, no PONG — arrived for
``SILENT_FOR`` seconds (a half-open connection raises no error by itself). Failures are logged and
retried with exponential backoff (0.1 s doubling to 5 s).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from contextlib import suppress
from typing import Any

logger = logging.getLogger(__name__)
PING_EVERY = 5.0  # seconds between PINGs
SILENT_FOR = 15.0  # seconds without any message or PONG after which the follower reconnects


async def stop_task(task: asyncio.Task[None] | None) -> None:
    """Cancel a background task and wait until it has ended."""
    if task is not None:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task


class ChannelFollower:
    def __init__(self, url: str, channels: list[str], on_message: Callable[[str, bytes], None],
                 on_connect: Callable[[], Awaitable[None]], name: str) -> None:
        self._url = url
        self._channels = channels
        self._on_message = on_message  # (channel, data)
        self._on_connect = on_connect
        self._name = name  # for logs and the task's name
        self._task: asyncio.Task[None] | None = None
        self.connected = asyncio.Event()  # subscribed (cleared while reconnecting)

    async def start(self, wait: float = 5.0) -> None:
        """Start following; wait up to ``wait`` seconds for the first subscription."""
        self._task = asyncio.create_task(self._run(), name=f"ticker-{self._name}")
        with suppress(TimeoutError):
            async with asyncio.timeout(wait):
                await self.connected.wait()

    async def aclose(self) -> None:
        await stop_task(self._task)
        self._task = None

    async def _run(self) -> None:
        from redis.asyncio import Redis

        from ticker.brokers.redis_url import no_retry, server_url

        delay = 0.1
        while True:
            client = Redis.from_url(server_url(self._url), retry=no_retry(), socket_timeout=None,
                                    socket_connect_timeout=2.0, health_check_interval=0)
            pubsub = client.pubsub()
            try:
                await pubsub.subscribe(*self._channels)
                await self._on_connect()
                self.connected.set()
                delay = 0.1
                await self._watch(pubsub)
            except Exception as exc:  # the follower outlives every failure
                logger.warning("%s: pub/sub connection lost (%r); reconnecting", self._name, exc)
            finally:
                self.connected.clear()
                with suppress(Exception):
                    await pubsub.aclose()  # type: ignore[no-untyped-call]  # untyped in redis-py
                with suppress(Exception):
                    await client.aclose()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5.0)

    async def _watch(self, pubsub: Any) -> None:
        loop = asyncio.get_running_loop()
        heard = pinged = loop.time()
        while True:
            message = await pubsub.get_message(timeout=1.0)
            now = loop.time()
            if message is not None:
                heard = now
                if message.get("type") == "message":
                    channel = message["channel"]
                    self._on_message(channel.decode() if isinstance(channel, bytes) else channel,
                                     message["data"])
            if now - heard > SILENT_FOR:
                raise TimeoutError(f"nothing heard for {SILENT_FOR}s")
            if now - pinged > PING_EVERY:
                pinged = now
                await pubsub.ping()
