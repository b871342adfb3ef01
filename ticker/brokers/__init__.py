"""Brokers behind one protocol, chosen by URL: ``memory://`` (default), ``redis://`` or
``redis+cluster://``."""

from __future__ import annotations

from ticker.brokers.base import Broker, BrokerUnavailableError
from ticker.config import Settings

__all__ = ["Broker", "BrokerUnavailableError", "open_broker"]


def open_broker(settings: Settings) -> Broker:
    """The engine for ``settings.broker_url``; engines are imported only when chosen."""
    url = settings.broker_url
    scheme = url.split("://", 1)[0]
    if scheme == "memory":
        from ticker.brokers.memory import MemoryBroker

        return MemoryBroker(history=settings.history, latest_max=settings.limits.latest_max,
                            item_retention=settings.item_retention)
    if scheme in ("redis+cluster", "rediss+cluster"):
        from ticker.brokers.redis_cluster import RedisClusterBroker

        return RedisClusterBroker(url, prefix=settings.redis_prefix, history=settings.history,
                                  latest_max=settings.limits.latest_max,
                                  item_retention=settings.item_retention)
    if scheme in ("redis", "rediss", "unix"):
        from ticker.brokers.redis import RedisBroker

        return RedisBroker(url, prefix=settings.redis_prefix, history=settings.history,
                           latest_max=settings.limits.latest_max,
                           item_retention=settings.item_retention)
    raise ValueError(f"unsupported broker URL scheme {scheme!r}")
