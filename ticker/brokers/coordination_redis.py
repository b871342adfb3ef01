"""Coordination on Redis: every node sharing the Redis shares positions, leases and claims.

Keys, all under the configured prefix (``ticker:`` by default)::

    ticker:{reach:<reader>}:lease     string: the holder's id, expires with the lease (PX)
    ticker:{reach:<reader>}:pos:<feed> string: the reader's cursor in that feed
    ticker:claim:<key>                string: "1", expires with the claim
    ticker:secret:<name>              string: a shared secret, set once (SET NX)
    ticker:table:<name>               hash: record key → record
    ticker:memo:<key>                 string: a remembered value, expires (EX)

A reader's lease and position share a hash tag, so the script that moves the position only while
the lease is held is legal on Redis Cluster too. Commands are never retried by the client (a
lost reply surfaces as ``BrokerUnavailableError``); the callers retry with backoff.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

from ticker.brokers.base import BrokerUnavailableError
from ticker.brokers.redis_keys import check_prefix
from ticker.brokers.redis_url import command_client, unavailable

_LEASE_LUA = """
local holder = redis.call('GET', KEYS[1])
if holder == false or holder == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"""

_RELEASE_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
end
return 0
"""

_ADVANCE_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[2], ARGV[2])
  return 1
end
return 0
"""

def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _bytes(value: object) -> bytes:
    return value.encode() if isinstance(value, str) else bytes(value)  # type: ignore[call-overload]


class RedisCoordination:
    def __init__(self, url: str, *, prefix: str = "ticker:", timeout: float = 5.0,
                 max_connections: int = 16) -> None:
        self._prefix = check_prefix(prefix)
        self._redis = command_client(url, timeout=timeout, connect_timeout=min(timeout, 2.0),
                                     max_connections=max_connections)
        self._lease = self._redis.register_script(_LEASE_LUA)
        self._release = self._redis.register_script(_RELEASE_LUA)
        self._advance = self._redis.register_script(_ADVANCE_LUA)

    def _lease_key(self, reader: str) -> str:
        if "{" in reader or "}" in reader:
            raise ValueError(f"reader names must not contain braces: {reader!r}")
        return f"{self._prefix}{{reach:{reader}}}:lease"

    def _position_key(self, reader: str, feed: str) -> str:
        return self._lease_key(reader)[:-len("lease")] + "pos:" + feed

    async def aclose(self) -> None:
        await self._redis.aclose()

    async def position(self, reader: str, feed: str) -> str | None:
        with unavailable("position"):
            value = await self._redis.get(self._position_key(reader, feed))
        return None if value is None else _text(value)

    async def begin(self, reader: str, feed: str, cursor: str) -> None:
        with unavailable("begin"):
            await self._redis.set(self._position_key(reader, feed), cursor, nx=True)

    async def advance(self, reader: str, holder: str, feed: str, cursor: str) -> bool:
        keys = [self._lease_key(reader), self._position_key(reader, feed)]
        with unavailable("advance"):
            return bool(await self._advance(keys=keys, args=[holder, cursor]))

    async def lease(self, reader: str, holder: str, ttl: float) -> bool:
        with unavailable("lease"):
            return bool(await self._lease(keys=[self._lease_key(reader)],
                                          args=[holder, max(1, int(ttl * 1000))]))

    async def release(self, reader: str, holder: str) -> None:
        with unavailable("release"):
            await self._release(keys=[self._lease_key(reader)], args=[holder])

    async def claim(self, key: str, ttl: float) -> bool:
        with unavailable("claim"):
            return bool(await self._redis.set(f"{self._prefix}claim:{key}", b"1", nx=True,
                                              px=max(1, int(ttl * 1000))))

    async def shared_secret(self, name: str, make: Callable[[], bytes]) -> bytes:
        key = f"{self._prefix}secret:{name}"
        with unavailable("shared secret"):
            value = await self._redis.get(key)
            if value is None:
                await self._redis.set(key, make(), nx=True)
                value = await self._redis.get(key)
        if value is None:
            raise BrokerUnavailableError(f"shared secret {name!r} vanished after it was set")
        return _bytes(value)

    async def put(self, table: str, key: str, value: bytes) -> None:
        with unavailable("put"):
            await self._redis.hset(f"{self._prefix}table:{table}", key, value)

    async def delete(self, table: str, key: str) -> bool:
        with unavailable("delete"):
            return bool(await self._redis.hdel(f"{self._prefix}table:{table}", key))

    async def count(self, table: str) -> int:
        with unavailable("count"):
            return int(await self._redis.hlen(f"{self._prefix}table:{table}"))

    async def scan(self, table: str, batch: int = 500) -> AsyncIterator[list[tuple[str, bytes]]]:
        name = f"{self._prefix}table:{table}"
        cursor = 0
        while True:
            with unavailable("scan"):
                cursor, found = await self._redis.hscan(name, cursor, count=batch)
            records: dict[bytes, bytes] = found  # type: ignore[assignment]  # a dict here
            if records:
                yield [(_text(k), _bytes(v)) for k, v in records.items()]
            if cursor == 0:
                return

    async def remember(self, key: str, value: bytes, ttl: float) -> None:
        with unavailable("remember"):
            await self._redis.set(f"{self._prefix}memo:{key}", value,
                                  px=max(1, int(ttl * 1000)))

    async def recall(self, key: str) -> bytes | None:
        with unavailable("recall"):
            value = await self._redis.get(f"{self._prefix}memo:{key}")
        return None if value is None else _bytes(value)
