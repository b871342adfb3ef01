"""The people-side parts across a Redis restart: the desk stream resends the queue (notices may
have been lost) and carries notices again; a token revoked before the restart (with AOF) stays
refused and one revoked after it is refused too."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx

from tests.faults.conftest import Cluster
from tests.integration.test_contributions import auth, desk_stream, next_of
from tests.integration.test_revocation import probe, refused_after
from tests.servers import token


async def test_desk_stream_and_revocations_survive_a_redis_restart(
        make_cluster: Callable[..., Cluster]) -> None:
    cluster = make_cluster(nodes=1, appendonly=True)
    (node,) = cluster.nodes
    editor, stringer = token("erin", "editor"), token("carla", "contributor", "en")
    before, after = token("amal", "correspondent"), token("amal", "correspondent")
    async with httpx.AsyncClient(base_url=node.url, timeout=10) as client, \
            desk_stream(node.url, editor) as desk:
        await next_of(desk, "queue")
        assert (await client.post("/api/v1/tokens/revoke", json={"token": before},
                                  headers=auth(editor))).status_code == 200
        cluster.redis.stop()
        cluster.redis.start()
        again = await next_of(desk, "queue")  # resent after the desk wire reconnected
        assert again.data["items"] == []
        submitted = await client.post("/api/v1/feeds/en/items", json={"text": "after"},
                                      headers=auth(stringer))
        assert submitted.status_code == 202, submitted.text
        notice = await next_of(desk, "desk")
        assert (notice.data["action"], notice.data["id"]) == ("submitted",
                                                              submitted.json()["id"])
        assert await probe(client, before) == 401
        revoked = await client.post("/api/v1/tokens/revoke", json={"token": after},
                                    headers=auth(editor))
        assert revoked.status_code == 200
        await refused_after(client, after, time.monotonic())
