"""Redis URLs and the command clients made from them, for the broker and the rate limiter.

``redis://`` / ``rediss://`` / ``unix://`` name one Redis server. ``redis+cluster://host:port``
(``rediss+cluster://`` with TLS) names a Redis Cluster through one of its nodes, the seed: the
client asks it for the rest of the cluster and follows the slots from then on. Everything after the
scheme is redis-py's URL syntax (credentials, query options) and applies to every node.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

from redis import exceptions as rex
from redis.asyncio import BlockingConnectionPool, Redis, RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from ticker.brokers.base import BrokerUnavailableError

# Failures that mean "Redis cannot do this right now", for every client made here (the broker's
# and the rate limiter's): a script refused this way wrote nothing.
UNAVAILABLE: tuple[type[BaseException], ...] = (
    rex.ConnectionError,  # includes BusyLoadingError and AuthenticationError
    rex.TimeoutError,
    rex.ReadOnlyError,  # a replica after failover
    rex.OutOfMemoryError,  # maxmemory reached under noeviction: refused before any write
    rex.TryAgainError,
    rex.ClusterError,  # includes ClusterDownError and MasterDownError
    rex.SlotNotCoveredError,  # a cluster whose slot map is moving
    OSError,  # includes the builtin TimeoutError
)

CLUSTER_SCHEMES = {"redis+cluster": "redis", "rediss+cluster": "rediss"}
SCHEMES = frozenset({"redis", "rediss", "unix", *CLUSTER_SCHEMES})


def scheme_of(url: str) -> str:
    return url.split("://", 1)[0].lower()


def is_cluster(url: str) -> bool:
    return scheme_of(url) in CLUSTER_SCHEMES


def server_url(url: str) -> str:
    """The same URL with the scheme redis-py knows (``redis+cluster://`` → ``redis://``)."""
    scheme = scheme_of(url)
    return CLUSTER_SCHEMES.get(scheme, scheme) + "://" + url.split("://", 1)[1]


def node_url(url: str, host: str, port: int) -> str:
    """``url`` pointed at another node: same scheme, credentials and options."""
    parts = urlsplit(server_url(url))
    userinfo = parts.netloc.rpartition("@")[0]
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    netloc = f"{userinfo}@{address}" if userinfo else address
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def no_retry() -> Retry:
    """A lost reply must not re-run a command (a script could run twice): fail instead."""
    return Retry(NoBackoff(), 0)


def command_client(url: str, *, timeout: float, connect_timeout: float,
                   max_connections: int) -> Redis | RedisCluster:
    """A client for commands and scripts that never retries one by itself.

    One server: a blocking pool of ``max_connections`` (more concurrent commands wait up to
    ``timeout`` for one). A cluster: ``max_connections`` per node; a ``MOVED`` or ``ASK``
    redirection is followed (the command did not run), a failed connection is not retried but
    makes the next command refresh the slot map first.
    """
    if is_cluster(url):
        return RedisCluster.from_url(
            server_url(url), retry=no_retry(), max_connections=max_connections,
            socket_timeout=timeout, socket_connect_timeout=connect_timeout)
    pool = BlockingConnectionPool.from_url(
        url, max_connections=max_connections, timeout=timeout, retry=no_retry(),
        socket_timeout=timeout, socket_connect_timeout=connect_timeout)
    return Redis.from_pool(pool)


@contextmanager
def unavailable(operation: str) -> Iterator[None]:
    """Turn any of ``UNAVAILABLE`` into ``BrokerUnavailableError`` naming ``operation``."""
    try:
        yield
    except UNAVAILABLE as exc:
        raise BrokerUnavailableError(f"Redis unreachable during {operation}: {exc!r}") from exc
