"""publishers/: the client against real ticker servers.

Lost answers come from a TCP proxy that throws the server's answer away after the server did the
work (``LossyProxy``). Every wait is bounded; nothing asserts how long anything took.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import random
import threading
from collections.abc import AsyncGenerator
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest

from publishers.client import AsyncTicker, EventsPage, Latest, Ticker
from publishers.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    RateLimited,
    Unauthorized,
    Unavailable,
)
from publishers.retry import NO_RETRY, RetryInfo, RetryPolicy, parse_retry_after
from publishers.sse import SseParser, decode
from tests.integration.publishers_helpers import LossyProxy
from tests.servers import RedisServer, Server, free_port, running, server_env, token
from ticker.model import Item, ItemEvent, RetractEvent, Snapshot, Subscribed, UpdateEvent

FAST = RetryPolicy(attempts=5, backoff=0.05, max_backoff=0.2)
STREAM = RetryPolicy(attempts=60, backoff=0.05, max_backoff=0.3)
WAIT = 20.0  # the longest any single expected event may take


def log_of(url: str, feed: str = "en") -> list[dict[str, Any]]:
    """Every event in the feed's retained log, read with plain httpx."""
    with httpx.Client(base_url=url, timeout=10) as http:
        epoch = http.get(f"/api/v1/feeds/{feed}/items").json()["cursor"].split(":")[0]
        events: list[dict[str, Any]] = http.get(
            f"/api/v1/feeds/{feed}/items", params={"since": f"{epoch}:0"}).json()["events"]
    return events


def items_of(url: str, feed: str = "en") -> list[dict[str, Any]]:
    return [e["item"] for e in log_of(url, feed) if e["type"] == "item"]


class Retries:
    """Records what ``on_retry`` is told."""

    def __init__(self) -> None:
        self.seen: list[RetryInfo] = []

    def __call__(self, info: RetryInfo) -> None:
        self.seen.append(info)


# -- sans-I/O pieces ------------------------------------------------------------------------------


def test_sse_parser_follows_the_rules() -> None:
    parser = SseParser()
    lines = ["retry: 2000", "", ": ping", "", "id: e1:5", "event: item",
             'data: {"type":"item","cursor":"e1:5",', 'data: "x":1}', "",
             "event: subscribed", 'data:{"type":"subscribed","feed":"en","recovered":true}', "",
             "id: e1:6", "event: mystery", "data: {}", ""]
    messages = [m for m in (parser.feed(line) for line in lines) if m is not None]
    assert parser.retry_ms == 2000 and parser.comments == 1
    assert [(m.event, m.id) for m in messages] == [
        ("item", "e1:5"), ("subscribed", "e1:5"), ("mystery", "e1:6")]
    assert messages[0].data == '{"type":"item","cursor":"e1:5",\n"x":1}'
    assert decode(messages[1]) == Subscribed(feed="en", recovered=True)
    assert decode(messages[2]) is None  # unknown types are ignored, not fatal


def test_retry_after_parsing_and_backoff() -> None:
    assert parse_retry_after("3") == 3.0
    date = "Wed, 21 Oct 2026 07:28:00 GMT"
    when = email.utils.parsedate_to_datetime(date).timestamp()
    assert parse_retry_after(date, now=lambda: when - 9.5) == 10  # whole seconds, rounded up
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None
    policy = RetryPolicy(attempts=5, backoff=0.5, max_backoff=4, max_retry_after=30)
    rng = random.Random(7)
    for retry in range(8):
        delay = policy.delay(retry, None, rng)
        ceiling = min(4, 0.5 * 2 ** retry)
        assert delay is not None and ceiling / 2 <= delay <= ceiling
    waited = policy.delay(0, 2.0, rng)
    assert waited is not None and 2.0 <= waited <= 2.5
    assert policy.delay(0, 31.0, rng) is None  # longer than this policy waits: fail now


# -- the client ----------------------------------------------------------------------------------


def test_client_publishes_corrects_retracts_and_reads_typed_results(server: Server) -> None:
    with Ticker(server.url, token()) as ticker:
        item = ticker.publish("en", "Toll rises to 3", source="Civil Defence", urgency=2,
                              category="politics", regions=["mena", "palestine"],
                              url="https://example.com/story")
        assert isinstance(item, Item) and item.version == 1 and item.author == "alice"
        assert (item.source, item.urgency, item.category, item.regions) == (
            "Civil Defence", 2, "politics", ["mena", "palestine"])
        fixed = ticker.correct("en", item.id, text="Toll rises to 5", source=None)
        assert (fixed.version, fixed.text, fixed.source) == (2, "Toll rises to 5", None)
        assert ticker.item("en", item.id) == fixed
        latest = ticker.items("en")
        assert isinstance(latest, Latest) and latest.items == [fixed]
        gone = ticker.retract("en", item.id)
        assert gone.status == "canceled"
        epoch = latest.cursor.split(":")[0]
        page = ticker.items("en", since=f"{epoch}:0")
        assert isinstance(page, EventsPage) and page.recovered
        assert [type(e) for e in page.events] == [ItemEvent, UpdateEvent, RetractEvent]
        stale = ticker.items("en", since="gone:1")
        assert not stale.recovered and stale.events == []
        assert [f.id for f in ticker.feeds()] == ["en", "ar", "es"]


def test_errors_are_typed_with_the_failing_paths(server: Server) -> None:
    retries = Retries()
    with Ticker(server.url, token(), retry=FAST, on_retry=retries) as ticker:
        with pytest.raises(InvalidInput) as caught:
            ticker.publish("en", "x", urgency=0, regions=["mena", "mars"], url="ftp://x")
        assert caught.value.status == 422
        assert [e.path for e in caught.value.errors] == ["$.urgency", "$.regions[1]", "$.url"]
        assert "must be between 1" in caught.value.errors[0].message
        assert caught.value.problem is not None and caught.value.problem.instance == \
            "/api/v1/feeds/en/items"
        with pytest.raises(NotFound):
            ticker.publish("xx", "no such feed")
        with pytest.raises(NotFound):
            ticker.correct("en", "nope", text="x")
        with pytest.raises(ValueError):
            ticker.correct("en", "nope")  # nothing to change: refused before any request
        item = ticker.retract("en", ticker.publish("en", "soon gone").id)
        with pytest.raises(Conflict):
            ticker.correct("en", item.id, text="too late")
    with Ticker(server.url, "not-a-token", retry=FAST) as ticker, \
            pytest.raises(Unauthorized) as denied:
        ticker.publish("en", "x")
    assert denied.value.status == 401
    with Ticker(server.url, token("amal", "correspondent", "en"), retry=FAST) as ticker, \
            pytest.raises(Forbidden):
        ticker.publish("ar", "not my desk")
    assert retries.seen == []  # none of these is worth a retry


@pytest.mark.parametrize("broker", ["memory", "redis"])
def test_retry_after_a_lost_answer_posts_once(server: Server) -> None:
    retries = Retries()
    with LossyProxy(server.port) as proxy, \
            Ticker(proxy.url, token(), retry=FAST, on_retry=retries) as ticker:
        proxy.lose_answers(1)
        item = ticker.publish("en", "Explosion reported near the port", urgency=1)
        assert proxy.lost == 1
        assert [(r.operation, r.status) for r in retries.seen] == [("publish", 0)]
        assert "RemoteProtocolError" in retries.seen[0].reason
    assert items_of(server.url) == [msgspec.to_builtins(item)]


async def test_async_retry_after_a_lost_answer_posts_once(server: Server) -> None:
    retries = Retries()
    with LossyProxy(server.port) as proxy:
        async with AsyncTicker(proxy.url, token(), retry=FAST, on_retry=retries) as ticker:
            proxy.lose_answers(2)
            item = await ticker.publish("en", "Second lost, still once", idempotency_key="k-1")
            assert len(retries.seen) == 2 and proxy.lost == 2
            again = await ticker.publish("en", "Second lost, still once", idempotency_key="k-1")
            assert again == item  # the same key is the same logical publish
    assert [i["id"] for i in await asyncio.to_thread(items_of, server.url)] == [item.id]


def test_lost_answers_to_corrections_and_retractions_apply_once(server: Server) -> None:
    with LossyProxy(server.port) as proxy, Ticker(proxy.url, token(), retry=FAST) as ticker:
        item = ticker.publish("en", "Toll rises to 3")
        proxy.lose_answers(1)
        fixed = ticker.correct("en", item.id, text="Toll rises to 5", regions=["mena", "mena"])
        assert (fixed.version, fixed.text, fixed.regions) == (2, "Toll rises to 5", ["mena"])
        proxy.lose_answers(1)
        gone = ticker.retract("en", item.id)  # not a 409 for the retraction it already did
        assert gone.status == "canceled" and proxy.lost == 2
    assert [e["type"] for e in log_of(server.url)] == ["item", "update", "retract"]


@pytest.mark.parametrize("broker", ["memory"])
def test_429_is_honoured_then_the_publish_succeeds(broker: str) -> None:
    retries = Retries()
    with running(broker, TICKER_PUBLISH_RATE="2/second") as server, \
            Ticker(server.url, token(), on_retry=retries,
                   retry=RetryPolicy(attempts=6, backoff=0.05, max_retry_after=5)) as ticker:
        published = [ticker.publish("en", f"burst {n}") for n in range(4)]
        limited = [r for r in retries.seen if r.status == 429]
        assert limited, "four publishes at 2/second must meet a 429"
        for info in limited:
            assert info.retry_after is not None and info.retry_after >= 1
            assert info.delay >= info.retry_after  # waited what the server asked, at least
        assert [i["id"] for i in items_of(server.url)] == [p.id for p in published]


@pytest.mark.parametrize("broker", ["memory", "redis"])
def test_rate_limited_when_the_retries_run_out(broker: str) -> None:
    retries = Retries()
    with running(broker, TICKER_PUBLISH_RATE="2/minute") as server:
        with Ticker(server.url, token(), retry=NO_RETRY) as ticker:
            ticker.publish("en", "one")
            ticker.publish("en", "two")
            with pytest.raises(RateLimited) as caught:
                ticker.publish("en", "three")
            assert caught.value.status == 429
            assert caught.value.retry_after is not None and caught.value.retry_after >= 1
        # a Retry-After longer than the policy is willing to wait fails at once, without a wait
        patient = RetryPolicy(attempts=5, max_retry_after=0.5)
        with Ticker(server.url, token(), retry=patient, on_retry=retries) as ticker, \
                pytest.raises(RateLimited):
            ticker.publish("en", "three")
        assert retries.seen == []
        assert len(items_of(server.url)) == 2


def test_unavailable_after_the_retries_when_nothing_listens() -> None:
    retries = Retries()
    with Ticker(f"http://127.0.0.1:{free_port()}", token(), retry=FAST,
                on_retry=retries) as ticker, pytest.raises(Unavailable) as caught:
        ticker.publish("en", "into the void")
    assert caught.value.status == 0 and "after 5 attempts" in str(caught.value)
    assert [r.attempt for r in retries.seen] == [1, 2, 3, 4]


@pytest.mark.redis
def test_503_is_retried_until_the_broker_is_back(tmp_path: Path) -> None:
    redis_server = RedisServer(free_port(), tmp_path / "redis").start()
    retries = Retries()

    def bring_redis_back(info: RetryInfo) -> None:
        retries(info)
        if info.status == 503 and redis_server.process is None:
            redis_server.start()

    try:
        with running("redis", REDIS_URL=redis_server.url) as server, \
                Ticker(server.url, token(), on_retry=bring_redis_back,
                       retry=RetryPolicy(attempts=8, backoff=0.1, max_retry_after=5)) as ticker:
            redis_server.stop()
            item = ticker.publish("en", "published once the broker is back")
            assert retries.seen[0].status == 503 and retries.seen[0].retry_after is not None
            assert [i["id"] for i in items_of(server.url)] == [item.id]
    finally:
        redis_server.stop()


# -- events(): SSE with resume -------------------------------------------------------------------


async def next_event(stream: AsyncGenerator[Any, None]) -> Any:
    return await asyncio.wait_for(anext(stream), WAIT)


async def next_events(stream: AsyncGenerator[Any, None], count: int) -> list[Any]:
    return [await next_event(stream) for _ in range(count)]


async def test_events_resume_exactly_after_the_stream_drops(server: Server) -> None:
    retries = Retries()
    async with AsyncTicker(server.url, token()) as direct:
        await direct.publish("en", "before")
        with LossyProxy(server.port) as proxy:
            async with AsyncTicker(proxy.url, on_retry=retries) as reader:
                async with contextlib.aclosing(reader.events("en", retry=STREAM)) as stream:
                    assert await next_event(stream) == Subscribed(feed="en", recovered=False)
                    snapshot = await next_event(stream)
                    assert isinstance(snapshot, Snapshot)
                    assert [i.text for i in snapshot.items] == ["before"]
                    live = await direct.publish("en", "live")
                    (event,) = await next_events(stream, 1)
                    assert isinstance(event, ItemEvent) and event.item == live
                    assert proxy.cut() == 1
                    missed = [await direct.publish("en", f"missed {n}") for n in range(3)]
                    fixed = await direct.correct("en", live.id, text="live, corrected")
                    got = await next_events(stream, 5)
        assert got[0] == Subscribed(feed="en", recovered=True)
        assert [e.item for e in got[1:4]] == missed
        assert isinstance(got[4], UpdateEvent) and got[4].item == fixed
        assert [r.operation for r in retries.seen] == ["events"]
        assert proxy.connections == 2


@pytest.mark.parametrize("broker", ["memory", "redis"])
async def test_events_resume_after_the_server_restarts(broker: str) -> None:
    env = server_env(broker)
    server = await asyncio.to_thread(Server(free_port(), env).start)
    try:
        async with AsyncTicker(server.url, token()) as ticker:
            first = await ticker.publish("en", "before the restart")
            async with contextlib.aclosing(ticker.events("en", retry=STREAM)) as stream:
                await next_events(stream, 2)  # subscribed, snapshot
                await ticker.publish("en", "seen live")
                seen = await next_event(stream)
                assert isinstance(seen, ItemEvent)
                await asyncio.to_thread(server.stop)
                await asyncio.to_thread(server.start)
                after = await ticker.publish("en", "after the restart")
                head = await next_event(stream)
                if broker == "redis":  # the log survived: exactly the missed event follows
                    assert head == Subscribed(feed="en", recovered=True)
                    event = await next_event(stream)
                    assert isinstance(event, ItemEvent) and event.item == after
                else:  # the embedded log died with the process: start over from a snapshot
                    assert head == Subscribed(feed="en", recovered=False)
                    snapshot = await next_event(stream)
                    assert isinstance(snapshot, Snapshot)
                    assert first.id not in [i.id for i in snapshot.items]
                    assert after in snapshot.items or \
                        (await next_event(stream)).item == after
    finally:
        await asyncio.to_thread(server.stop)
        if broker == "redis":
            from tests.servers import delete_prefix

            delete_prefix(env["REDIS_URL"], env["TICKER_REDIS_PREFIX"])


def test_events_live_through_pings_without_reconnecting(tmp_path: Path) -> None:
    config = tmp_path / "ticker.toml"
    config.write_text("[limits]\nping_idle_seconds = 0.2\n")
    retries = Retries()
    with running("memory", TICKER_CONFIG=str(config)) as server, \
            Ticker(server.url, token(), on_retry=retries) as ticker:
        stream = ticker.events("en", idle_timeout=1.0, retry=STREAM)
        with contextlib.closing(stream):
            assert isinstance(next(stream), Subscribed)
            assert isinstance(next(stream), Snapshot)
            # silence but for pings, longer than the idle timeout, before the next event
            def publish() -> None:
                with Ticker(server.url, token()) as publisher:
                    publisher.publish("en", "after the pings")

            timer = threading.Timer(2.5, publish)
            timer.start()
            try:
                event = next(stream)
            finally:
                timer.cancel()
            assert isinstance(event, ItemEvent) and event.item.text == "after the pings"
    assert retries.seen == []  # the pings kept the stream alive


def test_events_errors_are_typed(server: Server) -> None:
    with Ticker(server.url) as ticker:
        with pytest.raises(NotFound):
            next(ticker.events("xx"))
        with pytest.raises(InvalidInput) as caught:
            next(ticker.events("en", regions=["mena", "mars"]))
        assert [e.path for e in caught.value.errors] == ["query.regions[1]"]
