"""Redis URLs: the cluster schemes, and a cluster URL pointed at another node."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis, RedisCluster

from ticker.brokers import open_broker
from ticker.brokers.redis import RedisBroker
from ticker.brokers.redis_cluster import RedisClusterBroker
from ticker.brokers.redis_url import command_client, is_cluster, node_url, server_url
from ticker.config import ConfigError, load_settings

SECRET = "s" * 40


def test_cluster_schemes() -> None:
    assert is_cluster("redis+cluster://a:7000") and is_cluster("rediss+cluster://a:7000")
    assert not is_cluster("redis://a:6379") and not is_cluster("unix:///run/redis.sock")
    assert server_url("rediss+cluster://u:p@a:7000/0?x=1") == "rediss://u:p@a:7000/0?x=1"
    assert server_url("redis://a:6379") == "redis://a:6379"


@pytest.mark.parametrize(("url", "expected"), [
    ("redis+cluster://seed:7000", "redis://10.1.2.3:7005"),
    ("rediss+cluster://user:pa%40ss@seed:7000/0?ssl_cert_reqs=none",
     "rediss://user:pa%40ss@10.1.2.3:7005/0?ssl_cert_reqs=none"),
])
def test_node_url_keeps_credentials_and_options(url: str, expected: str) -> None:
    assert node_url(url, "10.1.2.3", 7005) == expected


def test_node_url_brackets_ipv6() -> None:
    assert node_url("redis+cluster://seed:7000", "::1", 7001) == "redis://[::1]:7001"


async def test_the_url_chooses_the_client_and_the_engine() -> None:
    plain = command_client("redis://127.0.0.1:1", timeout=1, connect_timeout=1, max_connections=2)
    cluster = command_client("redis+cluster://127.0.0.1:1", timeout=1, connect_timeout=1,
                             max_connections=2)
    assert isinstance(plain, Redis) and isinstance(cluster, RedisCluster)
    await plain.aclose()
    await cluster.aclose()
    settings = load_settings({"REDIS_URL": "redis+cluster://127.0.0.1:1", "TICKER_SECRET": SECRET})
    broker = open_broker(settings)
    assert isinstance(broker, RedisClusterBroker) and broker.notify_command == "SPUBLISH"
    assert RedisBroker.notify_command == "PUBLISH"
    await broker.aclose()


def test_an_unknown_scheme_is_refused() -> None:
    with pytest.raises(ConfigError, match="redis\\+cluster://"):
        load_settings({"REDIS_URL": "cluster://127.0.0.1:1"})
