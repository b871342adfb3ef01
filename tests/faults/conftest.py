"""Fixtures for the fault tests: a private redis-server and ticker nodes sharing it.

Every test gets its own ``redis-server`` on a free port (never the machine's shared one, since
these tests kill, restart and cut it) and its own ``ticker serve`` processes, all on loopback.
At teardown every process still running is stopped and the tail of each node's log is printed,
which pytest shows when the test failed.
"""

from __future__ import annotations

import signal
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.faults.harness import LogEvent, read_log
from tests.servers import RedisServer, Server, free_port, server_env


@dataclass
class Cluster:
    """A private Redis and the ticker nodes that share it (one key prefix)."""

    redis: RedisServer
    prefix: str
    env: dict[str, str]
    nodes: list[Server] = field(default_factory=list)

    def add_node(self, **extra: str) -> Server:
        node = Server(free_port(), {**self.env, **extra}).start()
        self.nodes.append(node)
        return node

    def log(self, feed: str = "en") -> tuple[str, int, list[LogEvent]]:
        return read_log(self.redis.url, self.prefix, feed)


@pytest.fixture
def make_cluster(tmp_path: Path) -> Iterator[Callable[..., Cluster]]:
    made: list[Cluster] = []

    def make(nodes: int = 2, appendonly: bool = False, **extra: str) -> Cluster:
        redis_server = RedisServer(free_port(), tmp_path / f"redis-{len(made)}",
                                   appendonly=appendonly).start()
        prefix = f"fault:{uuid.uuid4().hex[:8]}:"
        env = server_env("redis", prefix=prefix, REDIS_URL=redis_server.url, **extra)
        cluster = Cluster(redis_server, prefix, env)
        made.append(cluster)
        for _ in range(nodes):
            cluster.add_node()
        return cluster

    yield make
    for cluster in made:
        for node in cluster.nodes:
            if node.process is not None and node.process.poll() is None:
                node.stop(signal.SIGKILL)
            tail = node.logs()[-3000:]
            print(f"--- node :{node.port} log ({node.log_path}) ---\n{tail}")
        cluster.redis.stop()
