"""The command line: start-up rules, the newcomer's banner, and tokens."""

from __future__ import annotations

import os
import pty
import re
import select
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


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("TICKER_", "REDIS_"))}


def _read_until(fd: int, marker: str, seconds: float = 20) -> str:
    """What ``fd`` says until ``marker`` appears (or the bounded wait ends)."""
    text = ""
    deadline = time.monotonic() + seconds
    while marker not in text and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # the pty closed: the process ended
                break
            if not chunk:
                break
            text += chunk.decode(errors="replace")
    return text


def _wait_ready(port: int) -> None:
    for _ in range(400):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz").status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise AssertionError("ticker did not become ready")


def test_embedded_default_prints_a_working_token_and_curl_to_a_terminal() -> None:
    port = free_port()
    leader, follower = pty.openpty()
    process = subprocess.Popen([sys.executable, "-m", "ticker", "serve", "--port", str(port)],
                               env=_clean_env(), stdout=follower, stderr=subprocess.STDOUT)
    os.close(follower)
    try:
        banner = _read_until(leader, "Watch it live")
        match = re.search(r"Authorization: Bearer ([\w.-]+)", banner)
        assert match and "curl -X POST" in banner, banner
        _wait_ready(port)
        response = httpx.post(f"http://127.0.0.1:{port}/api/v1/feeds/en/items",
                              json={"text": "Hello from the newsroom", "urgency": 2},
                              headers={"Authorization": f"Bearer {match.group(1)}"})
        assert response.status_code == 201, response.text
    finally:
        process.terminate()
        process.wait(timeout=15)
        os.close(leader)


def test_embedded_default_prints_no_token_when_stdout_is_not_a_terminal() -> None:
    """Under a process manager stdout lands in logs: say how to get a token, print none."""
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "ticker", "serve", "--port", str(port)],
                               env=_clean_env(), stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT)
    try:
        assert process.stdout is not None
        _wait_ready(port)
        process.terminate()
        output, _ = process.communicate(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=5)
    text = output.decode()
    assert "ticker token create" in text and "TICKER_SECRET" in text, text
    assert "Bearer" not in text and not re.search(r"eyJ[\w-]+\.[\w-]+\.[\w-]+", text), text
