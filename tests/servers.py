"""Test helpers: real ``ticker serve`` processes on free ports, and private redis-servers."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import httpx
import redis

SECRET = "test-secret-" + "x" * 40
REDIS_URL = "redis://127.0.0.1:6379/0"
START_TIMEOUT = 20.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def token(sub: str = "alice", role: str = "editor", feeds: str = "en,ar,es",
          ttl: str = "1h") -> str:
    from ticker import auth

    return auth.issue(SECRET, sub=sub, role=role,  # type: ignore[arg-type]
                      feeds=feeds.split(","), ttl=auth.parse_ttl(ttl))


@dataclass
class Server:
    """One ``ticker serve`` subprocess."""

    port: int
    env: dict[str, str]
    process: subprocess.Popen[bytes] | None = None
    log_path: Path = field(default_factory=lambda: Path(f"/tmp/ticker-test-{uuid.uuid4()}.log"))
    log_level: str = "warning"
    args: list[str] = field(default_factory=list)  # more ``ticker serve`` options

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def start(self) -> Server:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "ticker", "serve", "--port", str(self.port),
             "--log-level", self.log_level, *(["--access-log"] if self.log_level == "debug"
                                              else []), *self.args],
            env={**os.environ, **self.env}, stdout=log, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"ticker exited: {self.log_path.read_text()[-2000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    return self
            time.sleep(0.05)
        raise RuntimeError(f"ticker did not become ready: {self.log_path.read_text()[-2000:]}")

    def stop(self, sig: int = signal.SIGTERM) -> int | None:
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        code = self.process.returncode
        self.process = None
        return code

    def logs(self) -> str:
        return self.log_path.read_text() if self.log_path.exists() else ""


def server_env(broker: str, prefix: str | None = None, **extra: str) -> dict[str, str]:
    env = {"TICKER_SECRET": SECRET, "TICKER_PUBLISH_RATE": "100000/minute", **extra}
    if broker == "redis":
        env["REDIS_URL"] = extra.get("REDIS_URL", REDIS_URL)
        env["TICKER_REDIS_PREFIX"] = prefix or f"test:{uuid.uuid4().hex[:12]}:"
    return env


def delete_prefix(url: str, prefix: str) -> None:
    """SCAN + DEL every key under ``prefix``."""
    client = redis.Redis.from_url(url)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        if keys:
            client.delete(*keys)
    except (redis.ConnectionError, OSError):
        pass  # a private server that a test stopped: nothing left to clean
    finally:
        client.close()


@contextlib.contextmanager
def running(broker: str, **extra: str) -> Iterator[Server]:
    env = server_env(broker, **extra)
    server = Server(free_port(), env).start()
    try:
        yield server
    finally:
        server.stop()
        if broker == "redis":
            delete_prefix(env["REDIS_URL"], env["TICKER_REDIS_PREFIX"])


@dataclass
class RedisServer:
    """A private redis-server for tests that stop, restart, pause or cut Redis."""

    port: int
    dir: Path
    appendonly: bool = False
    extra_args: list[str] = field(default_factory=list)  # more redis-server options
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, socket_timeout=2)

    def start(self) -> RedisServer:
        self.dir.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "yes" if self.appendonly else "no", "--appendfsync", "always",
             "--dir", str(self.dir), *self.extra_args],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self.process.returncode}")
            with contextlib.suppress(redis.RedisError), self.client() as probe:
                if probe.ping():
                    return self
            time.sleep(0.02)
        raise RuntimeError("redis-server did not start")

    def stop(self, sig: int = signal.SIGKILL) -> None:
        """Stop the server (SIGKILL by default: no goodbye to the clients)."""
        if self.process is not None:
            self.process.send_signal(signal.SIGCONT)  # in case it was paused
            self.process.send_signal(sig)
            self.process.wait(timeout=10)
            self.process = None

    def pause(self) -> None:
        """SIGSTOP: sockets stay open but nothing answers, like a half-open connection."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)


CLUSTER_WAIT = 30.0  # upper bound on any wait for the cluster; never an expected duration


@dataclass
class LocalCluster:
    """A private Redis Cluster: ``masters`` primaries with ``replicas`` replicas each, own
    ``redis-server`` processes on free ports, built with ``redis-cli --cluster create``.

    Every node keeps its cluster config file in ``dir``; ``stop`` kills the processes and
    removes ``dir``.
    """

    dir: Path
    masters: int = 3
    replicas: int = 1
    ports: list[int] = field(default_factory=list)
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"redis+cluster://127.0.0.1:{self.ports[0]}"

    def client(self, port: int) -> redis.Redis:
        return redis.Redis(port=port, socket_timeout=5, socket_connect_timeout=2)

    def command(self, port: int, *args: str | int) -> object:
        with self.client(port) as node:
            return node.execute_command(*args)

    def start(self) -> LocalCluster:
        self.dir.mkdir(parents=True, exist_ok=True)
        while len(self.ports) < self.masters * (1 + self.replicas):
            port = free_port()
            if port not in self.ports and port + 10000 < 65536:  # the bus port is port + 10000
                self.ports.append(port)
        for port in self.ports:
            self.processes.append(subprocess.Popen(
                ["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                 "--cluster-enabled", "yes",
                 "--cluster-config-file", str(self.dir / f"nodes-{port}.conf"),
                 "--cluster-node-timeout", "5000", "--save", "", "--appendonly", "no",
                 "--dir", str(self.dir)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        for port in self.ports:
            self._wait(self._pinger(port), f"redis-server on {port}")
        subprocess.run(
            ["redis-cli", "--cluster", "create", *[f"127.0.0.1:{p}" for p in self.ports],
             "--cluster-replicas", str(self.replicas), "--cluster-yes"],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            timeout=CLUSTER_WAIT)
        self.wait_agreed()
        self.wait_replicated()
        return self

    def stop(self) -> None:
        for process in self.processes:
            process.kill()
        for process in self.processes:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=10)
        self.processes = []
        shutil.rmtree(self.dir, ignore_errors=True)

    def _pinger(self, port: int) -> Callable[[], bool]:
        def ping() -> bool:
            with self.client(port) as node:
                return bool(node.ping())

        return ping

    def _wait(self, done: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + CLUSTER_WAIT
        while time.monotonic() < deadline:
            with contextlib.suppress(redis.RedisError, OSError):
                if done():
                    return
            time.sleep(0.05)
        raise RuntimeError(f"cluster: {what} did not happen")

    def owners(self, port: int) -> dict[int, int]:
        """Slot → port of its primary, as the node on ``port`` sees it."""
        slots = cast(list[list[Any]], self.command(port, "CLUSTER", "SLOTS"))
        return {slot: int(entry[2][1]) for entry in slots
                for slot in range(int(entry[0]), int(entry[1]) + 1)}

    def wait_agreed(self) -> None:
        """Until every node says ``cluster_state:ok`` and all see the same slot owners."""
        def agreed() -> bool:
            for port in self.ports:
                info = cast(bytes, self.command(port, "CLUSTER", "INFO")).decode()
                if "cluster_state:ok" not in info:
                    return False
            views = [self.owners(port) for port in self.ports]
            return len(views[0]) == 16384 and all(view == views[0] for view in views)

        self._wait(agreed, "agreement on the slots")

    def wait_replicated(self) -> None:
        """Until every primary has its replicas attached and in sync (a manual failover needs
        it; right after ``--cluster create`` replicas are still connecting)."""
        def replicated() -> bool:
            for port in self.ports:
                info = cast(dict[str, Any], self.command(port, "INFO", "replication"))
                if info["role"] == "master":
                    if info["connected_slaves"] != self.replicas:
                        return False
                elif info.get("master_link_status") != "up":
                    return False
            return True

        self._wait(replicated, "replication")

    def keyslot(self, key: str) -> int:
        return cast(int, self.command(self.ports[0], "CLUSTER", "KEYSLOT", key))

    def owner(self, slot: int) -> int:
        return self.owners(self.ports[0])[slot]

    def node_id(self, port: int) -> str:
        return cast(bytes, self.command(port, "CLUSTER", "MYID")).decode()

    def primaries(self) -> list[int]:
        return sorted(set(self.owners(self.ports[0]).values()))

    def replica_of(self, primary: int) -> int:
        lines: list[bytes] = []

        def known() -> bool:
            nonlocal lines
            lines = cast(list[bytes], self.command(primary, "CLUSTER", "REPLICAS",
                                                   self.node_id(primary)))
            return bool(lines)

        self._wait(known, f"a replica of {primary}")
        address = lines[0].decode().split()[1]  # "127.0.0.1:PORT@BUSPORT"
        return int(address.split("@")[0].rsplit(":", 1)[1])

    def move_slot(self, slot: int, to: int) -> None:
        """Move an empty slot to the primary on port ``to`` (the resharding protocol)."""
        source = self.owner(slot)
        if source == to:
            return
        if cast(int, self.command(source, "CLUSTER", "COUNTKEYSINSLOT", slot)):
            raise RuntimeError(f"slot {slot} is not empty")
        source_id, target_id = self.node_id(source), self.node_id(to)
        self.command(to, "CLUSTER", "SETSLOT", slot, "IMPORTING", source_id)
        self.command(source, "CLUSTER", "SETSLOT", slot, "MIGRATING", target_id)
        for port in (to, source, *[p for p in self.primaries() if p not in (to, source)]):
            self.command(port, "CLUSTER", "SETSLOT", slot, "NODE", target_id)
        self.wait_agreed()

    def failover(self, replica: int) -> None:
        """Promote ``replica`` with ``CLUSTER FAILOVER`` (coordinated: no write is lost)."""
        self.wait_replicated()
        self.command(replica, "CLUSTER", "FAILOVER")

        def promoted() -> bool:
            role = cast(list[Any], self.command(replica, "ROLE"))
            return bool(role[0] == b"master")

        self._wait(promoted, f"the promotion of {replica}")
        self.wait_agreed()
