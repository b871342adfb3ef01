"""The Redis Cluster engine: the Redis engine on a sharded Redis (``redis+cluster://``).

Theory of operation
-------------------
Everything but live delivery is the Redis engine's (``redis.py``), through redis-py's
``RedisCluster`` client: every key of a feed carries the hash tag ``{feed}`` (``redis_keys.py``),
so a feed lives on one shard and its scripts run there as they do on one server. A ``MOVED``
redirection is followed (the command did not run); a lost connection is not retried, it makes the
next command refresh the slot map first, and the publisher retries with its idempotency key.

*Live delivery* is sharded pub/sub (Redis 7): ``publish.lua`` runs ``SPUBLISH`` on the feed's
channel, which carries the same hash tag, so the message reaches only the subscribers on the
shard that owns the feed. The listener asks the cluster for each feed's slot owner, opens one
pub/sub connection per owning primary and ``SSUBSCRIBE``\\s there, one channel per command
(channels of different slots cannot share one). After every subscription is confirmed it checks
that each node is still a primary: a subscription made on a node that was being demoted could
miss messages. All connections are supervised as one, by the plain engine's loop: a failure of
any (lost connection, a PONG that does not come, a ``MOVED`` to ``SSUBSCRIBE``, or the server
ending a subscription because the slot moved — a failover or a resharding) closes them all; the
listener backs off, reads the slot map again, re-subscribes and calls ``on_resync``, so the node
reads the log for whatever it missed while it was moving. The log is written by the same script
on the same shard, so a failover that keeps the shard's data (``CLUSTER FAILOVER``, or an
automatic one with the replica in sync) loses nothing; readers resume from their cursors.
"""

from __future__ import annotations

from typing import ClassVar

from redis import exceptions as rex
from redis.asyncio import RedisCluster

from ticker.brokers.redis import RedisBroker, Session
from ticker.brokers.redis_url import node_url


class RedisClusterBroker(RedisBroker):
    """Engine for ``redis+cluster://`` URLs: the Redis engine, delivered by sharded pub/sub."""

    notify_command: ClassVar[str] = "SPUBLISH"

    def _cluster(self) -> RedisCluster:
        assert isinstance(self._redis, RedisCluster)
        return self._redis

    async def healthy(self) -> bool:
        """Every primary answers (a replica being down does not stop the service)."""
        try:
            return bool(await self._cluster().execute_command(
                "PING", target_nodes=RedisCluster.PRIMARIES))
        except (rex.RedisError, OSError):
            return False

    async def _open_sessions(self) -> list[Session]:
        """One connection per primary that owns a feed's slot, from a fresh slot map."""
        cluster = self._cluster()
        await cluster.nodes_manager.initialize()  # the map may predate a failover
        by_node: dict[tuple[str, int], list[bytes]] = {}
        for channel in self._channels:
            node = cluster.get_node_from_key(channel.decode())
            if node is None:
                raise rex.ClusterDownError(f"no primary serves {channel.decode()!r}")
            by_node.setdefault((node.host, int(node.port)), []).append(channel)
        return [self._session(node_url(self._url, host, port), channels)
                for (host, port), channels in by_node.items()]

    async def _subscribe(self, session: Session) -> None:
        for channel in session.channels:  # one slot per SSUBSCRIBE
            await session.pubsub.ssubscribe(channel)

    async def _check_sessions(self, sessions: list[Session]) -> None:
        for session in sessions:
            role = await session.client.execute_command("ROLE")  # type: ignore[no-untyped-call]
            if role[0] not in (b"master", "master"):
                kwargs = session.client.connection_pool.connection_kwargs
                raise rex.ConnectionError(f"{kwargs.get('host')}:{kwargs.get('port')} is no "
                                          "longer a primary (failover in progress)")
