"""Publish rate limits per token: GCRA (a token bucket kept as one timestamp).

``count`` requests per ``period`` seconds, with bursts of up to ``count``. The state of a key is
its *theoretical arrival time*; a request is allowed when it would not push that more than
``period`` into the future. Embedded: a dict in memory. On Redis: the same rule in one Lua script,
so every process shares the limit.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol


def gcra(tat: float, now: float, count: int, period: float) -> tuple[float, float]:
    """Return ``(new_tat, retry_after)``; ``retry_after == 0`` means allowed."""
    interval = period / count
    new_tat = max(tat, now) + interval
    if new_tat - now > period:
        return tat, new_tat - now - period
    return new_tat, 0.0


class RateLimiter(Protocol):
    async def hit(self, key: str) -> float:
        """Count one request for ``key``; return 0 if allowed, else seconds to wait.
        Raises ``BrokerUnavailableError`` when the shared store cannot be reached."""

    async def aclose(self) -> None: ...


class MemoryRateLimiter:
    def __init__(self, count: int, period: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.count = count
        self.period = period
        self._clock = clock
        self._tat: dict[str, float] = {}

    async def hit(self, key: str) -> float:
        now = self._clock()
        if len(self._tat) > 10_000:  # forget keys whose bucket is full again
            self._tat = {k: v for k, v in self._tat.items() if v > now}
        tat, retry = gcra(self._tat.get(key, now), now, self.count, self.period)
        self._tat[key] = tat
        return retry

    async def aclose(self) -> None:
        return None


_GCRA_LUA = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000 + math.floor(tonumber(now_parts[2]) / 1000)
local count = tonumber(ARGV[1])
local period = tonumber(ARGV[2])
local interval = period / count
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + interval
if new_tat - now > period then
  return tostring(new_tat - now - period)
end
redis.call('SET', KEYS[1], tostring(new_tat), 'PX', math.ceil(period))
return '0'
"""


class RedisRateLimiter:
    """The same GCRA in one script; times in milliseconds from Redis' clock."""

    def __init__(self, url: str, prefix: str, count: int, period: float) -> None:
        from ticker.brokers.redis_url import command_client  # a cluster client on a cluster

        self._redis = command_client(url, timeout=2, connect_timeout=2, max_connections=16)
        self._script = self._redis.register_script(_GCRA_LUA)
        self._prefix = prefix
        self.count = count
        self.period_ms = period * 1000

    async def hit(self, key: str) -> float:
        from ticker.brokers.redis_url import unavailable  # the broker's list of failures

        with unavailable("rate limit"):
            result = await self._script(keys=[f"{self._prefix}rate:{key}"],
                                        args=[self.count, self.period_ms])
        return float(result) / 1000

    async def aclose(self) -> None:
        await self._redis.aclose()
