"""Helpers shared by the browser tests: a real ``ticker serve`` process and small utilities.

(A module of its own, not conftest, so test modules can import it by a name no other test
directory uses.)
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

CHROMIUM = os.environ.get("TICKER_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
START_TIMEOUT = 30.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def unique(text: str) -> str:
    """``text`` with a short random tag, so tests sharing a server never see each other's items."""
    return f"{text} {uuid.uuid4().hex[:8]}"


class TickerServer:
    """One ``ticker serve`` process on a fixed port that can be stopped and started again."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / "server.log"
        self.env = {
            **os.environ,
            "TICKER_SECRET": secrets.token_urlsafe(48),
            "TICKER_PUBLISH_RATE": "10000/minute",
            "PYTHONUNBUFFERED": "1",
        }
        for name in ("REDIS_URL", "TICKER_CONFIG", "TICKER_ALLOWED_ORIGINS", "HOST", "PORT"):
            self.env.pop(name, None)
        self.proc: subprocess.Popen[bytes] | None = None
        self.http = httpx.Client(base_url=self.base, timeout=10.0)
        self._token: str | None = None

    # ---- process ----
    def start(self) -> None:
        assert self.proc is None, "already running"
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ticker", "serve", "--host", "127.0.0.1",
             "--port", str(self.port)],
            env=self.env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
        log.close()
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                code = self.proc.returncode
                raise RuntimeError(f"ticker serve exited with {code}:\n{self.log()}")
            try:
                if self.http.get("/healthz", timeout=1.0).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"ticker serve did not become healthy:\n{self.log()}")

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    # ---- API ----
    def token(self, sub: str = "desk", role: str = "editor", feeds: str = "en,ar,es") -> str:
        done = subprocess.run(
            [sys.executable, "-m", "ticker", "token", "create", "--sub", sub, "--role", role,
             "--feeds", feeds],
            env=self.env, capture_output=True, text=True, check=True, timeout=30,
        )
        return done.stdout.strip()

    @property
    def editor(self) -> str:
        if self._token is None:
            self._token = self.token()
        return self._token

    def _auth(self, token: str | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.editor}"}

    def publish(
        self, feed: str, text: str, token: str | None = None, **fields: Any
    ) -> dict[str, Any]:
        r = self.http.post(f"/api/v1/feeds/{feed}/items", json={"text": text, **fields},
                           headers=self._auth(token))
        assert r.status_code == (202 if "embargoed_until" in fields else 201), r.text
        item: dict[str, Any] = r.json()
        return item

    def correct(self, feed: str, item_id: str, **fields: Any) -> dict[str, Any]:
        r = self.http.patch(f"/api/v1/feeds/{feed}/items/{item_id}", json=fields,
                            headers=self._auth(None))
        assert r.status_code == 200, r.text
        item: dict[str, Any] = r.json()
        return item

    def retract(self, feed: str, item_id: str) -> dict[str, Any]:
        r = self.http.delete(f"/api/v1/feeds/{feed}/items/{item_id}", headers=self._auth(None))
        assert r.status_code == 200, r.text
        item: dict[str, Any] = r.json()
        return item

    def act(self, method: str, path: str, body: dict[str, Any] | None = None,
            expect: int = 200) -> Any:
        """An editor's lifecycle call (``/hold``, ``/release``, ``/pin``, …) under
        ``/api/v1/feeds/``; its JSON answer, if any."""
        r = self.http.request(method, f"/api/v1/feeds/{path}", json=body,
                              headers=self._auth(None))
        assert r.status_code == expect, r.text
        return r.json() if r.content else None

    def hold(self, feed: str, item_id: str) -> Any:
        return self.act("POST", f"{feed}/items/{item_id}/hold")

    def release(self, feed: str, item_id: str) -> Any:
        return self.act("POST", f"{feed}/items/{item_id}/release")

    def pin(self, feed: str, item_id: str) -> Any:
        return self.act("PUT", f"{feed}/pin", {"id": item_id})

    def unpin(self, feed: str) -> Any:
        return self.act("DELETE", f"{feed}/pin")

    def latest(self, feed: str, limit: int = 100) -> list[dict[str, Any]]:
        r = self.http.get(f"/api/v1/feeds/{feed}/items", params={"limit": limit})
        assert r.status_code == 200, r.text
        body = r.json()
        items: list[dict[str, Any]] = body if isinstance(body, list) else body["items"]
        return items

    def close(self) -> None:
        self.stop()
        self.http.close()
