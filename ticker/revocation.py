"""The token deny list: revoked token ids (``jti``), kept until each token's own expiry.

Theory of operation
-------------------
Checking a token must not cost a round trip to Redis, so every node keeps a *local mirror* of
the deny list (``LocalDenyList``: ``jti`` → expiry) and ``Verifier.verify`` only looks there.
The mirror is bounded twice: an entry leaves when its token expires (the token is refused for
its ``exp`` anyway), and the deny list itself refuses to grow past ``MAX_REVOKED`` unexpired
entries (revoking that many tokens is a reason to rotate ``TICKER_SECRET``).

Embedded (``memory://``): the mirror is the deny list; there is one node.

Redis: one atomic script (``_REVOKE_LUA``) drops expired entries, adds the ``jti`` to a sorted
set (score: the token's expiry; the key itself expires with the last of them), bumps a generation
counter and ``PUBLISH``es ``"<jti> <exp>"``. Every node

- adds what arrives on that channel to its mirror at once (pub/sub: milliseconds; the
  connection is followed by ``ticker.pubsub.ChannelFollower``, which reloads the list after
  every reconnection), and
- reads the generation every ``poll_interval`` (1 s) and reloads the whole list when it moved,
  after a start, and after any failure: pub/sub is at-most-once, so a notice lost to a dropped
  or half-open connection is made up within about a second.

So a revoked token is refused on every node within ``poll_interval`` plus one round trip even
when its notice is lost, and within milliseconds normally. While Redis is unreachable the mirror
keeps what it had (revoked tokens stay refused) and the revoke endpoint answers ``503``.

Keys (one hash tag, so Redis Cluster can run the script)::

    <prefix>{revoked}:jtis   sorted set: jti -> the token's exp (Unix seconds)
    <prefix>{revoked}:gen    counter: bumped by every revocation
    <prefix>revoked          pub/sub channel: "<jti> <exp>"
"""

from __future__ import annotations

import asyncio
import logging
import time
from contextlib import suppress
from typing import Literal, NamedTuple, Protocol

from ticker.brokers.base import BrokerUnavailableError
from ticker.brokers.redis_url import UNAVAILABLE
from ticker.pubsub import ChannelFollower, stop_task

logger = logging.getLogger(__name__)
MAX_REVOKED = 100_000  # unexpired revocations the deny list holds at most
RevokeStatus = Literal["revoked", "already", "expired", "full"]


class Revocation(NamedTuple):
    """What a revocation did: ``revoked`` (new), ``already`` (was on the list), ``expired``
    (the token has expired: nothing to keep) or ``full`` (refused: ``MAX_REVOKED`` reached)."""

    status: RevokeStatus
    jti: str
    until: int  # the token's expiry: the entry is kept until then


class DenyList(Protocol):
    def is_revoked(self, jti: str) -> bool:
        """Whether ``jti`` is revoked, from this node's mirror (no I/O)."""

    async def revoke(self, jti: str, exp: int) -> Revocation:
        """Put ``jti`` on the list until ``exp``; every node refuses it soon after."""

    async def start(self) -> None:
        """Load the list and keep the mirror current."""

    async def aclose(self) -> None: ...


class LocalDenyList:
    """A node's mirror: ``jti`` → expiry; expired entries are dropped as time passes."""

    def __init__(self) -> None:
        self.entries: dict[str, int] = {}
        self._pruned_at = 0.0

    def __contains__(self, jti: str) -> bool:
        return jti in self.entries

    def add(self, jti: str, exp: int) -> None:
        self.entries[jti] = exp
        self.prune()

    def replace(self, entries: dict[str, int]) -> None:
        self.entries = entries

    def prune(self, now: float | None = None) -> None:
        """Drop expired entries (at most once a second)."""
        now = time.time() if now is None else now
        if now - self._pruned_at < 1.0:
            return
        self._pruned_at = now
        self.entries = {jti: exp for jti, exp in self.entries.items() if exp > now}


class MemoryDenyList:
    """Embedded engine: one node, the mirror is the list."""

    def __init__(self, cap: int = MAX_REVOKED) -> None:
        self.local = LocalDenyList()
        self._cap = cap

    def is_revoked(self, jti: str) -> bool:
        return jti in self.local

    async def revoke(self, jti: str, exp: int) -> Revocation:
        now = time.time()
        if exp <= now:
            return Revocation("expired", jti, exp)
        if jti in self.local:
            return Revocation("already", jti, exp)
        self.local.prune(now)
        if len(self.local.entries) >= self._cap:
            return Revocation("full", jti, exp)
        self.local.add(jti, exp)
        return Revocation("revoked", jti, exp)

    async def start(self) -> None:
        return None

    async def aclose(self) -> None:
        return None


# KEYS: jtis, gen. ARGV: jti, exp, cap, channel. Returns {status, gen}.
_REVOKE_LUA = """
local now = tonumber(redis.call('TIME')[1])
local exp = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if exp <= now then
  return {'expired', 0}
end
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then
  return {'already', 0}
end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then
  return {'full', 0}
end
redis.call('ZADD', KEYS[1], exp, ARGV[1])
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
redis.call('EXPIREAT', KEYS[1], tonumber(last[2]) + 1)
local gen = redis.call('INCR', KEYS[2])
redis.call('PUBLISH', ARGV[4], ARGV[1] .. ' ' .. ARGV[2])
return {'revoked', gen}
"""

# KEYS: jtis, gen. Returns {gen, {jti, exp, jti, exp, ...}} of the unexpired entries.
_LOAD_LUA = """
local now = tonumber(redis.call('TIME')[1])
local gen = redis.call('GET', KEYS[2]) or '0'
return {gen, redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now, '+inf', 'WITHSCORES')}
"""

_UNAVAILABLE = UNAVAILABLE


class RedisDenyList:
    """The list in Redis, mirrored on every node (see the theory of operation)."""

    def __init__(self, url: str, prefix: str, *, poll_interval: float = 1.0,
                 cap: int = MAX_REVOKED) -> None:
        from ticker.brokers.redis_url import command_client

        self._url = url
        self._poll_interval = poll_interval  # how often the generation is checked
        self._cap = cap
        self.jtis_key = f"{prefix}{{revoked}}:jtis"
        self.gen_key = f"{prefix}{{revoked}}:gen"
        self.channel = f"{prefix}revoked"
        self._redis = command_client(url, timeout=2.0, connect_timeout=2.0, max_connections=4)
        self._revoke = self._redis.register_script(_REVOKE_LUA)
        self._load = self._redis.register_script(_LOAD_LUA)
        self.local = LocalDenyList()
        self._gen: bytes | None = None  # the generation the mirror was loaded at
        self._poller: asyncio.Task[None] | None = None
        # notices as they come; after every (re)connection the whole list is read again
        self._follower = ChannelFollower(url, [self.channel], self._apply, self.reload,
                                         "revocations")

    def is_revoked(self, jti: str) -> bool:
        return jti in self.local

    async def revoke(self, jti: str, exp: int) -> Revocation:
        try:
            status, _ = await self._revoke(keys=[self.jtis_key, self.gen_key],
                                           args=[jti, exp, self._cap, self.channel])
        except _UNAVAILABLE as exc:
            raise BrokerUnavailableError(f"Redis unreachable during revoke: {exc!r}") from exc
        text = status.decode() if isinstance(status, bytes) else str(status)
        if text in ("revoked", "already"):
            self.local.add(jti, exp)  # this node refuses it before the answer goes out
        return Revocation(text, jti, exp)  # type: ignore[arg-type]  # the script's statuses

    async def start(self) -> None:
        with suppress(*_UNAVAILABLE):
            await self.reload()
        await self._follower.start()
        self._poller = asyncio.create_task(self._poll(), name="ticker-revocations-poll")

    async def aclose(self) -> None:
        await stop_task(self._poller)
        self._poller = None
        await self._follower.aclose()
        await self._redis.aclose()

    async def reload(self) -> None:
        """Replace the mirror with the list as it is in Redis."""
        gen, flat = await self._load(keys=[self.jtis_key, self.gen_key])
        entries = {flat[i].decode(): int(float(flat[i + 1])) for i in range(0, len(flat), 2)}
        self.local.replace(entries)
        self._gen = gen

    async def _poll(self) -> None:
        """The safety net under pub/sub: reload whenever the generation moved."""
        failing = False
        while True:
            await asyncio.sleep(self._poll_interval)
            try:
                gen = await self._redis.get(self.gen_key) or b"0"
                if failing or gen != self._gen:
                    await self.reload()
                if failing:
                    logger.info("revocations: Redis reachable again, deny list reloaded")
                failing = False
                self.local.prune()
            except _UNAVAILABLE as exc:
                if not failing:
                    logger.warning("revocations: cannot read the deny list (%r); keeping the "
                                   "%d entries this node has", exc, len(self.local.entries))
                failing = True

    def _apply(self, channel: str, data: bytes) -> None:
        try:
            jti, exp = data.decode().split(" ", 1)
            self.local.add(jti, int(exp))
        except ValueError:
            logger.error("revocations: ignoring a malformed notice %r", data[:100])


def open_deny_list(broker_url: str, prefix: str) -> DenyList:
    """The deny list that goes with the broker: in memory when embedded, else in Redis."""
    if broker_url.startswith("memory:"):
        return MemoryDenyList()
    return RedisDenyList(broker_url, prefix)
