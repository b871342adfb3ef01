"""Checks of the broker: reachable, and on Redis the settings ticker's guarantees rest on.

Every Redis server ticker writes to is asked once (``CONFIG GET``, ``INFO``, ``TIME``); the
checks are pure functions of what it answered. On Redis Cluster every node is asked, since a
replica becomes a primary in a failover.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast
from urllib.parse import urlsplit

import redis
from redis.cluster import RedisCluster

from ticker.brokers.redis_url import is_cluster, node_url, server_url
from ticker.checks.clock import check_clock, measure_offset
from ticker.checks.result import Context, Result, fail, ok, warn

CONFIG_KEYS = ("maxmemory-policy", "maxmemory", "appendonly", "appendfsync", "save", "maxclients")
# Redis connections one ticker process may open to each primary: the broker's command pool
# (RedisBroker max_connections=64), the publish rate limiter's pool (ratelimit.py: 16) and one
# pub/sub connection.
CONNECTIONS_PER_PROCESS = 64 + 16 + 1
STREAMS_VERSION = (5, 0)  # XADD/XRANGE: every feed's log
SHARDED_PUBSUB_VERSION = (7, 0)  # SPUBLISH/SSUBSCRIBE: live events on Redis Cluster


@dataclass
class ServerFacts:
    """What one Redis server answered."""

    address: str
    config: dict[str, str] = field(default_factory=dict)
    config_error: str | None = None  # CONFIG refused (renamed away, or the ACL forbids it)
    info: dict[str, Any] = field(default_factory=dict)
    offset: float = 0.0  # this node's clock minus the server's TIME
    rtt: float = 0.0


def address_of(url: str) -> str:
    """``host:port`` of a Redis URL, without credentials (for messages)."""
    parts = urlsplit(server_url(url))
    if parts.scheme == "unix":
        return parts.path
    return f"{parts.hostname or 'localhost'}:{parts.port or 6379}"


def gather(client: redis.Redis, address: str, now: Callable[[], float]) -> ServerFacts:
    facts = ServerFacts(address)
    facts.info = client.info()
    for key in CONFIG_KEYS:
        try:
            reply = cast(dict[str, str], client.config_get(key))
        except redis.ResponseError as exc:
            facts.config_error = str(exc)
            break
        facts.config.update({str(k): str(v) for k, v in reply.items()})
    facts.offset, facts.rtt = measure_offset(client.time, now)
    return facts


def _client(url: str, ctx: Context) -> redis.Redis:
    return redis.Redis.from_url(server_url(url), socket_timeout=ctx.timeout,
                                socket_connect_timeout=ctx.timeout, decode_responses=True)


def reach(ctx: Context) -> tuple[list[ServerFacts], list[Result]]:
    """Ask every Redis server ticker would use; the facts, or the result saying why not."""
    url = ctx.settings.broker_url
    name = "broker"
    where = address_of(url)
    try:
        if is_cluster(url):
            cluster = RedisCluster.from_url(server_url(url), socket_timeout=ctx.timeout,
                                            socket_connect_timeout=ctx.timeout)
            try:
                nodes = [(n.host, int(n.port))
                         for n in cluster.get_nodes()]  # type: ignore[no-untyped-call]
            finally:
                cluster.close()
            facts = []
            for host, port in sorted(nodes):
                with _client(node_url(url, host, port), ctx) as client:
                    facts.append(gather(client, f"{host}:{port}", ctx.now))
            primaries = sum(1 for f in facts if f.info.get("role") == "master")
            return facts, [ok(name, f"Redis Cluster reached through {where}: {primaries} "
                              f"primaries, {len(facts) - primaries} replicas")]
        with _client(url, ctx) as client:
            client.ping()
            single = gather(client, where, ctx.now)
    except (redis.RedisError, OSError) as exc:
        return [], [fail(name, f"cannot reach Redis at {where}: {type(exc).__name__}: {exc}",
                         "start Redis or fix REDIS_URL; until it answers, ticker serve answers "
                         "/readyz with 503 and refuses publishes")]
    if str(single.info.get("cluster_enabled", "0")) == "1":
        return [], [fail(name, f"{where} is a Redis Cluster node behind a plain redis:// URL: "
                         "ticker serve refuses it", "use REDIS_URL=redis+cluster://" + where)]
    return [single], [ok(name, f"Redis {single.info.get('redis_version', '?')} at {where} "
                         "answers")]


def _named(name: str, facts: ServerFacts, many: bool) -> str:
    return f"{name}@{facts.address}" if many else name


def check_eviction(facts: ServerFacts, name: str = "redis.maxmemory-policy") -> Result:
    if facts.config_error is not None:
        return warn(name, f"cannot read maxmemory-policy ({facts.config_error})",
                    "check by hand that redis.conf says 'maxmemory-policy noeviction'")
    policy = facts.config.get("maxmemory-policy", "")
    if policy != "noeviction":
        return fail(name, f"maxmemory-policy is {policy!r}: when memory runs out Redis evicts "
                    "keys — a feed's log (readers lose their place, the feed restarts) or "
                    "idempotency records (a retried publish publishes twice)",
                    "set 'maxmemory-policy noeviction' in redis.conf and "
                    "CONFIG SET maxmemory-policy noeviction (on every node of a cluster)")
    return ok(name, "maxmemory-policy is noeviction: when full, Redis refuses publishes (503, "
              "publishers retry) and never drops history")


def check_maxmemory(facts: ServerFacts, name: str = "redis.maxmemory") -> Result:
    if facts.config_error is not None or "maxmemory" not in facts.config:
        return warn(name, "cannot read maxmemory", "check redis.conf by hand")
    limit = int(facts.config["maxmemory"])
    used = int(facts.info.get("used_memory", 0))
    if limit == 0:
        return warn(name, f"maxmemory is 0 (no limit; {used / 2**20:.0f} MiB used): Redis grows "
                    "until the operating system kills it, and noeviction never gets to refuse",
                    "set maxmemory below the machine's memory (docs/operations.md sizes it)")
    share = used / limit
    if share > 0.8:
        return warn(name, f"Redis uses {share:.0%} of maxmemory ({used / 2**20:.0f} of "
                    f"{limit / 2**20:.0f} MiB): publishes are refused with 503 when it is full",
                    "raise maxmemory or lower TICKER_HISTORY")
    return ok(name, f"maxmemory {limit / 2**20:.0f} MiB, {share:.0%} used")


def check_persistence(facts: ServerFacts, name: str = "redis.persistence") -> Result:
    if facts.config_error is not None:
        return warn(name, f"cannot read appendonly/appendfsync ({facts.config_error})",
                    "check by hand: 'appendonly yes' and 'appendfsync always' lose nothing")
    aof = facts.config.get("appendonly") == "yes"
    fsync = facts.config.get("appendfsync", "")
    snapshots = facts.config.get("save", "").strip()
    aof_always = ("set 'appendonly yes' and 'appendfsync always' if an acknowledged item must "
                  "never be lost (docs/operations.md, Persistence)")
    if aof and fsync == "always":
        return ok(name, "appendonly yes, appendfsync always: every 201 is on disk before it is "
                  "sent, so after a Redis restart readers resume exactly, nothing lost")
    if aof and fsync == "everysec":
        return warn(name, "appendonly yes, appendfsync everysec: a Redis crash loses up to ~1 s "
                    "of acknowledged items, and readers get recovered:false and a fresh snapshot",
                    aof_always)
    if aof:
        return warn(name, f"appendonly yes, appendfsync {fsync}: the OS decides when to write "
                    "(~30 s), so a crash loses that much; readers get recovered:false and a "
                    "fresh snapshot", aof_always)
    if snapshots:
        return warn(name, f"appendonly no, RDB snapshots ('save {snapshots}'): a crash loses "
                    "everything since the last snapshot; readers get recovered:false and a "
                    "fresh snapshot", aof_always)
    return warn(name, "appendonly no and no snapshots: a Redis restart empties every log; every "
                "feed starts a new epoch and every reader gets recovered:false and a snapshot",
                aof_always + ", or accept this deliberately")


def parse_version(text: str) -> tuple[int, ...]:
    parts = []
    for piece in text.split(".")[:3]:
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)


def check_version(facts: ServerFacts, cluster: bool, name: str = "redis.version") -> Result:
    text = str(facts.info.get("redis_version", "0"))
    version = parse_version(text)
    if cluster and version < SHARDED_PUBSUB_VERSION:
        return fail(name, f"Redis {text} has no sharded pub/sub (SPUBLISH/SSUBSCRIBE, Redis 7), "
                    "which ticker uses on Redis Cluster", "upgrade every node to Redis 7 or later")
    if version < STREAMS_VERSION:
        return fail(name, f"Redis {text} has no streams (Redis 5), which hold every feed's log",
                    "upgrade Redis to 7 or later")
    needs = "streams and sharded pub/sub" if cluster else "streams"
    return ok(name, f"Redis {text} has what ticker uses ({needs})")


def check_maxclients(facts: ServerFacts, nodes: int, name: str = "redis.maxclients") -> Result:
    if facts.config_error is not None or "maxclients" not in facts.config:
        return warn(name, "cannot read maxclients", "check redis.conf by hand")
    limit = int(facts.config["maxclients"])
    now = int(facts.info.get("connected_clients", 0))
    rejected = int(facts.info.get("rejected_connections", 0))
    need = nodes * CONNECTIONS_PER_PROCESS
    found = (f"maxclients {limit}, {now} connected now"
             + (f", {rejected} connections rejected since start" if rejected else "")
             + f"; {nodes} ticker process(es) may open up to {CONNECTIONS_PER_PROCESS} each "
             f"(= {need})")
    action = (f"raise maxclients to at least {need} (and the Redis host's ulimit -n), or pass "
              "--nodes with the number of ticker processes (workers × machines) sharing it")
    if limit < nodes * 2:
        return fail(name, f"{found}: not even a pub/sub and a command connection each", action)
    if limit < need:
        return warn(name, f"{found}: under a publish burst or a reconnect storm Redis refuses "
                    "connections", action)
    return ok(name, found)


def redis_checks(ctx: Context) -> list[Result]:
    """Every broker check, in order; on the embedded broker only the first."""
    if ctx.settings.embedded:
        return [ok("broker", "embedded broker (no REDIS_URL): one process holds the feeds, "
                   "nothing to reach; set REDIS_URL to run more than one")]
    servers, results = reach(ctx)
    cluster = is_cluster(ctx.settings.broker_url)
    many = len(servers) > 1
    for facts in servers:
        results.append(check_eviction(facts, _named("redis.maxmemory-policy", facts, many)))
        results.append(check_maxmemory(facts, _named("redis.maxmemory", facts, many)))
        results.append(check_persistence(facts, _named("redis.persistence", facts, many)))
        results.append(check_version(facts, cluster, _named("redis.version", facts, many)))
        if facts.info.get("role") == "master":
            results.append(check_maxclients(facts, ctx.nodes,
                                            _named("redis.maxclients", facts, many)))
        results.append(check_clock(facts.offset, facts.rtt, _named("clock", facts, many)))
    return results
