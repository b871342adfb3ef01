"""Token revocation: the deny list on both engines, the endpoint, the CLI, and two nodes.

The nodes check tokens against a local mirror of the deny list; these tests revoke through one
node (or the CLI) and wait, bounded, until every node refuses the token, measuring how long that
took, while a token of the same subject that was not revoked keeps working.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
import redis

from tests import servers
from tests.integration.broker_fixtures import SHARED_REDIS_URL, delete_prefix
from tests.servers import REDIS_URL, SECRET, Server, free_port, server_env, token
from ticker import auth
from ticker.revocation import MemoryDenyList, RedisDenyList

WAIT = 10.0  # upper bound on every wait here; never an expected duration
REVOKED_WITHIN = 2.0  # the contract: every node refuses a revoked token within 2 s
PROBE = "/api/v1/feeds/en/items/no-such-item"  # 404 with a good token, 401 with a revoked one


def bearer(value: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {value}"}


async def probe(client: httpx.AsyncClient, value: str) -> int:
    response = await client.patch(PROBE, json={"text": "x"}, headers=bearer(value))
    return response.status_code


async def refused_after(client: httpx.AsyncClient, value: str, since: float) -> float:
    """Poll until ``value`` is refused, for at most the contract's bound after ``since``;
    the seconds from ``since`` until it was."""
    while time.monotonic() < since + REVOKED_WITHIN:
        if await probe(client, value) == 401:
            return time.monotonic() - since
        await asyncio.sleep(0.01)
    raise AssertionError(f"token still accepted {REVOKED_WITHIN}s after its revocation")


# -- the deny list itself -------------------------------------------------------------------

@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def deny_lists(request: pytest.FixtureRequest) -> AsyncIterator[
        tuple[MemoryDenyList | RedisDenyList, MemoryDenyList | RedisDenyList]]:
    """Two nodes' deny lists: the same one when embedded, two mirrors of one list on Redis."""
    if request.param == "memory":
        one = MemoryDenyList(cap=3)
        yield one, one
        return
    prefix = f"test:{uuid.uuid4().hex[:12]}:"
    lists = [RedisDenyList(SHARED_REDIS_URL, prefix, cap=3) for _ in range(2)]
    for deny_list in lists:
        await deny_list.start()
    try:
        yield lists[0], lists[1]
    finally:
        for deny_list in lists:
            await deny_list.aclose()
        await delete_prefix(SHARED_REDIS_URL, prefix)


async def wait_revoked(deny_list: MemoryDenyList | RedisDenyList, jti: str) -> None:
    for _ in range(int(WAIT / 0.005)):
        if deny_list.is_revoked(jti):
            return
        await asyncio.sleep(0.005)
    raise AssertionError(f"{jti} not on the mirror after {WAIT}s")


async def test_revoke_twice_expired_and_full(
        deny_lists: tuple[MemoryDenyList | RedisDenyList, MemoryDenyList | RedisDenyList]) -> None:
    one, two = deny_lists
    exp = int(time.time()) + 3600
    jti = auth.new_jti(exp)
    assert not one.is_revoked(jti)
    assert (await one.revoke(jti, exp)).status == "revoked"
    assert one.is_revoked(jti)  # on the node that revoked it, before the answer
    await wait_revoked(two, jti)
    assert (await two.revoke(jti, exp)).status == "already"
    assert (await one.revoke(auth.new_jti(1000), 1000)).status == "expired"
    others = [auth.new_jti(exp) for _ in range(3)]
    assert [(await one.revoke(j, exp)).status for j in others] == ["revoked", "revoked", "full"]
    assert not one.is_revoked(others[2])


async def test_a_lost_notice_is_made_up_by_the_generation_poll() -> None:
    """A revocation whose pub/sub notice never arrived reaches the mirror anyway."""
    prefix = f"test:{uuid.uuid4().hex[:12]}:"
    mirror = RedisDenyList(SHARED_REDIS_URL, prefix, poll_interval=0.2)
    await mirror.start()
    client = redis.asyncio.Redis.from_url(SHARED_REDIS_URL)
    try:
        exp = int(time.time()) + 600
        jti = auth.new_jti(exp)
        await client.zadd(mirror.jtis_key, {jti: exp})  # what the script does, minus PUBLISH
        await client.incr(mirror.gen_key)
        await wait_revoked(mirror, jti)
    finally:
        await client.aclose()
        await mirror.aclose()
        await delete_prefix(SHARED_REDIS_URL, prefix)


def test_jti_names_the_expiry_and_garbage_is_refused() -> None:
    value = auth.issue(SECRET, sub="amal", role="editor", feeds=["en"], ttl=60)
    claims = auth.Verifier(SECRET).verify(f"Bearer {value}")
    assert claims.jti is not None and auth.jti_expiry(claims.jti) == claims.exp
    assert auth.Verifier(SECRET).identify(value) == (claims.jti, claims.exp)
    for garbage in ("", "abc", "123-xyz", f"{claims.exp}-{'0' * 23}", "1-" + "g" * 24):
        with pytest.raises(ValueError):
            auth.jti_expiry(garbage)
    with pytest.raises(ValueError):
        auth.Verifier(SECRET).identify(auth.issue("k" * 40, sub="a", role="editor",
                                                  feeds=["en"], ttl=60))
    refused = auth.Verifier(SECRET, revoked=lambda jti: jti == claims.jti)
    with pytest.raises(Exception, match="revoked"):
        refused.verify(f"Bearer {value}")


# -- the endpoint, on both engines ----------------------------------------------------------

async def test_revoke_endpoint(server: Server) -> None:
    editor = token("chief", "editor")
    lost, kept = token("amal", "correspondent"), token("amal", "correspondent")
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        assert await probe(client, lost) == 404 and await probe(client, kept) == 404
        revoke = "/api/v1/tokens/revoke"
        answer = await client.post(revoke, json={"token": lost}, headers=bearer(editor))
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["revoked"] is True and body["already"] is False
        assert await probe(client, lost) == 401  # at once on the node that revoked it
        assert await probe(client, kept) == 404  # the same subject's other token still works
        again = await client.post(revoke, json={"jti": body["jti"]}, headers=bearer(editor))
        assert again.status_code == 200 and again.json()["already"] is True
        # garbage, with the field named
        for payload, field in (({"jti": "nonsense"}, "$.jti"), ({"token": "a.b.c"}, "$.token"),
                               ({}, "$"), ({"jti": body["jti"], "token": kept}, "$"),
                               ({"token": auth.issue("k" * 40, sub="x", role="editor",
                                                     feeds=["en"], ttl=60)}, "$.token"),
                               ({"jti": 5}, "$.jti"), ({"other": 1}, "$")):
            bad = await client.post(revoke, json=payload, headers=bearer(editor))
            assert bad.status_code == 422, (payload, bad.text)
            assert bad.json()["errors"][0]["path"] == field
        assert (await client.post(revoke, json={"jti": body["jti"]})).status_code == 401
        forbidden = await client.post(revoke, json={"token": editor}, headers=bearer(kept))
        assert forbidden.status_code == 403
        assert await probe(client, editor) == 404  # the refused request revoked nothing
        # a revoked editor token may not revoke anything either
        assert (await client.post(revoke, json={"token": kept},
                                  headers=bearer(lost))).status_code == 401


# -- two nodes on one Redis, and the CLI ----------------------------------------------------

def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("TICKER_", "REDIS_"))}
    return subprocess.run([sys.executable, "-m", "ticker", *args], env={**clean, **env},
                          capture_output=True, text=True, timeout=30)


@pytest.mark.redis
async def test_revoked_on_one_node_is_refused_by_both_within_two_seconds() -> None:
    prefix = f"test:{uuid.uuid4().hex[:12]}:"
    env = server_env("redis", prefix=prefix)
    one, two = Server(free_port(), env).start(), Server(free_port(), env).start()
    delays: list[float] = []
    try:
        editor = token("chief", "editor")
        async with httpx.AsyncClient(base_url=one.url, timeout=10) as on_one, \
                httpx.AsyncClient(base_url=two.url, timeout=10) as on_two:
            for round_ in range(5):
                lost, kept = token("amal", "correspondent"), token("amal", "correspondent")
                assert await probe(on_two, lost) == 404
                start = time.monotonic()
                answer = await on_one.post("/api/v1/tokens/revoke", json={"token": lost},
                                           headers=bearer(editor))
                assert answer.status_code == 200, answer.text
                delays.append(await refused_after(on_two, lost, start))
                assert await probe(on_one, lost) == 401
                assert await probe(on_one, kept) == 404 and await probe(on_two, kept) == 404
                print(f"revocation round {round_}: refused on the other node after "
                      f"{delays[-1] * 1000:.1f} ms")
    finally:
        one.stop()
        two.stop()
        servers.delete_prefix(REDIS_URL, prefix)


@pytest.mark.redis
async def test_cli_revokes_on_a_redis_deployment() -> None:
    prefix = f"test:{uuid.uuid4().hex[:12]}:"
    env = server_env("redis", prefix=prefix)
    one, two = Server(free_port(), env).start(), Server(free_port(), env).start()
    try:
        lost, kept = token("amal", "correspondent"), token("amal", "correspondent")
        claims = auth.Verifier(SECRET).verify(f"Bearer {lost}")
        cli_env = {"TICKER_SECRET": SECRET, "REDIS_URL": REDIS_URL,
                   "TICKER_REDIS_PREFIX": prefix}
        done = cli("token", "revoke", "--token", lost, env=cli_env)
        assert done.returncode == 0, done.stderr
        start = time.monotonic()
        assert claims.jti is not None and claims.jti in done.stdout
        async with httpx.AsyncClient(base_url=one.url, timeout=10) as on_one, \
                httpx.AsyncClient(base_url=two.url, timeout=10) as on_two:
            for client in (on_one, on_two):
                delay = await refused_after(client, lost, start)
                print(f"CLI revocation: refused {delay * 1000:.1f} ms after the CLI returned")
                assert await probe(client, kept) == 404
        again = cli("token", "revoke", "--jti", claims.jti, env=cli_env)
        assert again.returncode == 0 and "already" in again.stdout
        bad = cli("token", "revoke", "--jti", "nonsense", env=cli_env)
        assert bad.returncode == 2 and "expiry" in bad.stderr
        embedded = cli("token", "revoke", "--jti", claims.jti, env={"TICKER_SECRET": SECRET})
        assert embedded.returncode == 2 and "REDIS_URL" in embedded.stderr
    finally:
        one.stop()
        two.stop()
        servers.delete_prefix(REDIS_URL, prefix)
