"""The command line: start-up rules, the newcomer's banner, and tokens."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time

import httpx

from tests.servers import SECRET, free_port
from ticker import auth


def ticker(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("TICKER_", "REDIS_"))}
    return subprocess.run([sys.executable, "-m", "ticker", *args], env={**clean, **(env or {})},
                          capture_output=True, text=True, timeout=30)


def test_token_create_prints_the_token_alone() -> None:
    done = ticker("token", "create", "--sub", "amal", "--role", "correspondent", "--feeds",
                  "en,ar", "--ttl", "2h", env={"TICKER_SECRET": SECRET})
    assert done.returncode == 0, done.stderr
    token = done.stdout.strip()
    assert done.stdout == token + "\n"
    claims = auth.Verifier(SECRET).verify(f"Bearer {token}")
    assert (claims.sub, claims.role, claims.feeds) == ("amal", "correspondent", ["en", "ar"])
    assert claims.iat is not None and claims.exp - claims.iat == 7200


def test_token_create_without_a_secret_or_with_a_bad_ttl_says_why() -> None:
    done = ticker("token", "create", "--sub", "a", "--role", "editor", "--feeds", "en")
    assert done.returncode == 2 and "TICKER_SECRET" in done.stderr and done.stdout == ""
    done = ticker("token", "create", "--sub", "a", "--role", "editor", "--feeds", "en",
                  "--ttl", "5w", env={"TICKER_SECRET": SECRET})
    assert done.returncode == 2 and "--ttl" in done.stderr


def test_redis_without_a_secret_refuses_to_start() -> None:
    done = ticker("serve", "--port", str(free_port()),
                  env={"REDIS_URL": "redis://127.0.0.1:6379/0"})
    assert done.returncode == 2
    assert "TICKER_SECRET" in done.stderr and "REDIS_URL" in done.stderr


def test_a_short_secret_or_bad_setting_refuses_to_start() -> None:
    done = ticker("serve", "--port", str(free_port()), env={"TICKER_SECRET": "short"})
    assert done.returncode == 2 and "32 bytes" in done.stderr
    done = ticker("serve", env={"PORT": "eighty"})
    assert done.returncode == 2 and "PORT" in done.stderr


def test_embedded_default_prints_a_working_token_and_curl() -> None:
    port = free_port()
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("TICKER_", "REDIS_"))}
    process = subprocess.Popen([sys.executable, "-m", "ticker", "serve", "--port", str(port)],
                               env=clean, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True)
    try:
        assert process.stdout is not None
        banner = ""
        deadline = time.monotonic() + 20
        while "Watch it live" not in banner and time.monotonic() < deadline:
            banner += process.stdout.readline()
        match = re.search(r"Authorization: Bearer ([\w.-]+)", banner)
        assert match and "curl -X POST" in banner, banner
        for _ in range(200):
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz").status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.05)
        response = httpx.post(f"http://127.0.0.1:{port}/api/v1/feeds/en/items",
                              json={"text": "Hello from the newsroom", "urgency": 2},
                              headers={"Authorization": f"Bearer {match.group(1)}"})
        assert response.status_code == 201, response.text
    finally:
        process.terminate()
        process.wait(timeout=15)
