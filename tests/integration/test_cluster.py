"""Two ticker processes on a local Redis Cluster (3 primaries + 3 replicas, own redis-servers).

The three default feeds are placed on three different shards (``redis-cli --cluster create``
splits the slots evenly, which puts ``{en}`` and ``{es}`` on the same primary, so the test moves
``{es}``'s empty slot to the primary that has no feed, as an operator would with a resharding).
Then: every item reaches readers on both nodes, a reader moves between nodes with its cursors,
and a primary that owns a feed is replaced by its replica (``CLUSTER FAILOVER``) while items are
published: every item that was accepted arrives exactly once, in order, on both nodes.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.integration.wsclient import FeedReader, publish_until_accepted
from tests.servers import LocalCluster, Server, free_port, server_env, token

FEEDS = ["en", "ar", "es"]


def channel(feed: str) -> str:
    return f"ticker:{{{feed}}}:events"  # the hash tag, not the prefix, decides the slot


@pytest.fixture(scope="module")
def cluster() -> Iterator[tuple[LocalCluster, Server, Server]]:
    cluster = LocalCluster(Path(tempfile.mkdtemp(prefix="ticker-cluster-")))
    servers: list[Server] = []
    try:
        cluster.start()
        slots = {feed: cluster.keyslot(channel(feed)) for feed in FEEDS}
        used = {cluster.owner(slot) for slot in slots.values()}
        free = [port for port in cluster.primaries() if port not in used]
        if cluster.owner(slots["es"]) == cluster.owner(slots["en"]) and free:
            cluster.move_slot(slots["es"], free[0])
        env = server_env("redis", prefix=f"test:{uuid.uuid4().hex[:12]}:", REDIS_URL=cluster.url)
        for _ in range(2):
            servers.append(Server(free_port(), env).start())
        yield cluster, servers[0], servers[1]
    finally:
        for server in servers:
            server.stop()
        cluster.stop()


def test_the_three_feeds_live_on_three_shards(
        cluster: tuple[LocalCluster, Server, Server]) -> None:
    local, _, _ = cluster
    owners = {feed: local.owner(local.keyslot(channel(feed))) for feed in FEEDS}
    assert len(set(owners.values())) == 3, owners
    for feed in FEEDS:  # every key of a feed is in its channel's slot
        slot = local.keyslot(channel(feed))
        assert {local.keyslot(f"ticker:{{{feed}}}:{name}")
                for name in ("meta", "log", "items", "latest", "idem:x")} == {slot}


async def test_delivery_on_both_nodes_and_resume_on_the_other(
        cluster: tuple[LocalCluster, Server, Server]) -> None:
    _, one, two = cluster
    on_one = FeedReader(one.ws_url, FEEDS).start()
    on_two = FeedReader(two.ws_url, FEEDS).start()
    clients = [httpx.AsyncClient(base_url=server.url, timeout=10,
                                 headers={"Authorization": f"Bearer {token()}"})
               for server in (one, two)]
    try:
        await on_one.wait_subscribed()
        await on_two.wait_subscribed()
        published: dict[str, list[str]] = {feed: [] for feed in FEEDS}
        for n in range(6):  # through both nodes, into all three shards
            for feed in FEEDS:
                item = await publish_until_accepted(clients[n % 2], feed, f"{feed} {n}",
                                                    uuid.uuid4().hex)
                published[feed].append(item["id"])
        await on_one.wait_items(published)
        await on_two.wait_items(published)
        assert on_one.items == published and on_two.items == published

        # the reader on node two leaves; items go on; it comes back on node one with its cursors
        await on_two.stop()
        missed: dict[str, list[str]] = {feed: [] for feed in FEEDS}
        for n in range(4):
            for feed in FEEDS:
                item = await publish_until_accepted(clients[1], feed, f"{feed} missed {n}",
                                                    uuid.uuid4().hex)
                missed[feed].append(item["id"])
        on_two.url = one.ws_url
        on_two.start()
        expected = {feed: published[feed] + missed[feed] for feed in FEEDS}
        await on_two.wait_items(expected)
        await on_one.wait_items(expected)
        assert on_two.items == expected and on_one.items == expected
        assert on_two.unrecovered == 0
    finally:
        await on_one.stop()
        await on_two.stop()
        for client in clients:
            await client.aclose()


async def test_failover_of_a_feeds_primary_loses_nothing(
        cluster: tuple[LocalCluster, Server, Server]) -> None:
    local, one, two = cluster
    slot = local.keyslot(channel("ar"))
    primary = local.owner(slot)
    replica = local.replica_of(primary)
    readers = [FeedReader(server.ws_url, FEEDS).start() for server in (one, two)]
    clients = [httpx.AsyncClient(base_url=server.url, timeout=10,
                                 headers={"Authorization": f"Bearer {token()}"})
               for server in (one, two)]
    accepted: dict[str, list[str]] = {feed: [] for feed in FEEDS}
    failover_started = asyncio.Event()
    publisher: asyncio.Task[None] | None = None

    async def publish_all(rounds: int) -> None:
        for n in range(rounds):
            if n == rounds // 3:
                failover_started.set()
            for feed in FEEDS:
                item = await publish_until_accepted(clients[n % 2], feed, f"{feed} round {n}",
                                                    uuid.uuid4().hex)
                accepted[feed].append(item["id"])
            await asyncio.sleep(0.02)

    try:
        for reader in readers:
            await reader.wait_subscribed()
        publisher = asyncio.create_task(publish_all(60))
        await asyncio.wait_for(failover_started.wait(), 60)
        await asyncio.to_thread(local.failover, replica)
        await asyncio.wait_for(publisher, 120)
        assert local.owner(slot) == replica  # the replica now owns the feed's slot
        for reader in readers:
            await reader.wait_items(accepted, wait=60)
        for reader in readers:
            assert reader.items == accepted  # exactly once, in publish order, every feed
            assert reader.unrecovered == 0
        async with httpx.AsyncClient(timeout=10) as probe:
            for server in (one, two):
                assert (await probe.get(f"{server.url}/readyz")).status_code == 200
        assert "lost its connection" in one.logs() + two.logs()  # the move was noticed
    finally:
        for reader in readers:
            await reader.stop()
        for client in clients:
            await client.aclose()
        if publisher is not None:
            publisher.cancel()
            with contextlib.suppress(BaseException):
                await publisher


async def test_revocation_reader_counts_and_the_desk_on_a_cluster(
        cluster: tuple[LocalCluster, Server, Server]) -> None:
    """Issue 13's parts on Redis Cluster: the deny list's and the desk's notices are published
    from scripts (broadcast to every shard's subscribers), reader counts are read with one MGET
    under one hash tag."""
    from tests.integration.test_contributions import auth, desk_stream, next_of
    from tests.integration.test_presence import readers_on, settled_readers, wait_counts
    from tests.integration.test_revocation import probe, refused_after

    _, one, two = cluster
    editor, stringer = token("erin", "editor"), token("carla", "contributor", "en")
    lost, kept = token("amal", "correspondent"), token("amal", "correspondent")
    async with httpx.AsyncClient(base_url=one.url, timeout=10) as on_one, \
            httpx.AsyncClient(base_url=two.url, timeout=10) as on_two:
        assert await probe(on_two, lost) == 404
        start = time.monotonic()
        assert (await on_one.post("/api/v1/tokens/revoke", json={"token": lost},
                                  headers=auth(editor))).status_code == 200
        await refused_after(on_two, lost, start)
        assert await probe(on_two, kept) == 404

        before = await settled_readers(on_one, on_two, "es")
        async with readers_on(two, ["es", "es"]):
            await wait_counts(on_one, {"es": before + 2})

        async with desk_stream(two.url, editor) as desk:
            await next_of(desk, "queue")
            sent = await on_one.post("/api/v1/feeds/en/items", json={"text": "via the cluster"},
                                     headers=auth(stringer))
            assert sent.status_code == 202, sent.text
            notice = await next_of(desk, "desk")
            assert (notice.data["action"], notice.data["id"]) == ("submitted", sent.json()["id"])
