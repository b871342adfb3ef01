"""Test helpers: real ``ticker serve`` processes on free ports, and private redis-servers."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

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
                                              else [])],
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
    client = redis.Redis.from_url(url)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        if keys:
            client.delete(*keys)
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
    """A private redis-server for tests that stop, restart or cut Redis."""

    port: int
    dir: Path
    appendonly: bool = False
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        self.dir.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "yes" if self.appendonly else "no", "--appendfsync", "always",
             "--dir", str(self.dir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(redis.RedisError):
                if redis.Redis(port=self.port, socket_timeout=0.5).ping():
                    return self
            time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self, sig: int = signal.SIGKILL) -> None:
        if self.process is not None:
            self.process.send_signal(sig)
            self.process.wait(timeout=10)
            self.process = None
