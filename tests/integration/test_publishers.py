"""publishers/: the client, ``ticker-publish`` and ``ticker-bridge`` against real ticker servers.

Lost answers come from a TCP proxy that throws the server's answer away after the server did the
work (``LossyProxy``); feeds come from a local HTTP server with ETag/Last-Modified
(``FeedServer``). Every wait is bounded; nothing asserts how long anything took.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import json
import logging
import os
import queue
import random
import subprocess
import sys
import threading
from collections.abc import AsyncGenerator, Iterator
from pathlib import Path
from typing import IO, Any

import httpx
import msgspec
import pytest

from tests.integration.publishers_helpers import FeedServer, LossyProxy, atom, rss
from tests.servers import RedisServer, Server, free_port, running, server_env, token
from ticker_publishers import bridge as bridge_mod
from ticker_publishers import state as state_mod
from ticker_publishers.client import AsyncTicker, EventsPage, Latest, Ticker
from ticker_publishers.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    RateLimited,
    Unauthorized,
    Unavailable,
)
from ticker_publishers.mapping import clean, trim
from ticker_publishers.retry import NO_RETRY, RetryInfo, RetryPolicy, parse_retry_after
from ticker_publishers.sse import SseParser, decode
from ticker_publishers.wire import Item, ItemEvent, RetractEvent, Snapshot, Subscribed, UpdateEvent

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


def test_trim_cuts_at_a_word_boundary_with_an_ellipsis() -> None:
    words = " ".join(["breaking"] * 80)  # 719 characters
    cut = trim(words, 400)
    assert len(cut) <= 400 and cut.endswith("breaking…") and "  " not in cut
    assert trim("short", 400) == "short"
    assert trim("x" * 500, 400) == "x" * 399 + "…"  # one long word is cut inside it
    assert trim("alpha beta, gamma", 13) == "alpha beta…"
    assert clean(" Toll\nrises\u202e to\u200b 5 \t") == "Toll rises to 5"
    assert clean("عاجل\u200c: مصدر") == "عاجل\u200c: مصدر"  # joiners stay


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


# -- ticker-publish -------------------------------------------------------------------------------


PUBLISH = str(Path(sys.executable).with_name("ticker-publish"))  # the console scripts
BRIDGE = str(Path(sys.executable).with_name("ticker-bridge"))


def cli(*args: str, env: dict[str, str], stdin: str | None = None,
        timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PUBLISH, *args], env=env, input=stdin, capture_output=True,
                          text=True, timeout=timeout)


def readline_within(stream: IO[str], seconds: float) -> str:
    """The next line of a child's pipe, or '' if none comes in time."""
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: lines.put(stream.readline()), daemon=True).start()
    try:
        return lines.get(timeout=seconds)
    except queue.Empty:
        return ""


@pytest.fixture
def cli_env(server: Server) -> dict[str, str]:
    return {**os.environ, "TICKER_URL": server.url, "TICKER_TOKEN": token()}


@pytest.mark.parametrize("broker", ["memory"])
def test_cli_publish_correct_retract_and_exit_codes(server: Server,
                                                     cli_env: dict[str, str]) -> None:
    done = cli("Toll rises to 3", "--feed", "en", "--source", "Civil Defence", "--urgency", "2",
               "--category", "politics", "--region", "mena", "--region", "palestine",
               "--url", "https://example.com/s", env=cli_env)
    assert done.returncode == 0, done.stderr
    item_id = done.stdout.strip()
    (item,) = items_of(server.url)
    assert item["id"] == item_id and item["regions"] == ["mena", "palestine"]
    assert item["source"] == "Civil Defence" and item["urgency"] == 2

    fixed = cli("correct", item_id, "--feed", "en", "--text", "Toll rises to 5", "--json",
                env=cli_env)
    assert fixed.returncode == 0, fixed.stderr
    assert json.loads(fixed.stdout)["version"] == 2

    bad = cli("x", "--feed", "en", "--urgency", "0", "--region", "mena", "--region", "mars",
              env=cli_env)
    assert bad.returncode == 3 and bad.stdout == ""
    assert "rejected: 422" in bad.stderr
    assert "$.urgency (--urgency): must be between 1" in bad.stderr
    assert "$.regions[1] (--region mars): unknown region 'mars'" in bad.stderr

    assert cli("retract", item_id, "--feed", "en", env=cli_env).stdout == f"{item_id} canceled\n"
    again = cli("retract", item_id, "--feed", "en", env=cli_env)
    assert again.returncode == 3 and "409" in again.stderr
    unknown = cli("correct", "nope", "--feed", "en", "--urgency", "1", env=cli_env)
    assert unknown.returncode == 3 and "404" in unknown.stderr

    denied = cli("x", "--feed", "en", env={**cli_env, "TICKER_TOKEN": "garbage"})
    assert denied.returncode == 4 and "not authorized: 401" in denied.stderr
    amal = {**cli_env, "TICKER_TOKEN": token("amal", "correspondent", "en")}
    forbidden = cli("x", "--feed", "ar", env=amal)
    assert forbidden.returncode == 4 and "403" in forbidden.stderr

    gone = cli("x", "--feed", "en", "--retries", "1", "--server",
               f"http://127.0.0.1:{free_port()}", env=cli_env)
    assert gone.returncode == 5 and "unavailable" in gone.stderr and "after 2 attempts" in \
        gone.stderr

    no_url = {k: v for k, v in cli_env.items() if k != "TICKER_URL"}
    assert cli("x", "--feed", "en", env=no_url).returncode == 2
    no_token = {k: v for k, v in cli_env.items() if k != "TICKER_TOKEN"}
    assert "TICKER_TOKEN" in cli("x", "--feed", "en", env=no_token).stderr
    assert cli("x", env=cli_env).returncode == 2  # no feed
    assert cli("--feed", "en", env=cli_env).returncode == 2  # no text
    assert cli("x", "--feed", "en", "--urgency", "high", env=cli_env).returncode == 2
    assert cli("correct", item_id, "--feed", "en", env=cli_env).returncode == 2
    assert cli("x", "--feed", "en", "--server", "ftp://x", env=cli_env).returncode == 2
    assert len(items_of(server.url)) == 1  # nothing else was published


@pytest.mark.parametrize("broker", ["memory"])
def test_cli_stdin_one_item_per_line_and_retry_safe_reruns(server: Server,
                                                            cli_env: dict[str, str]) -> None:
    lines = "First line\n\nSecond line\n" + "x" * 401 + "\nThird line\n"
    first = cli("--stdin", "--feed", "en", "--idempotency-key", "batch-7", env=cli_env,
                stdin=lines)
    assert first.returncode == 3
    ids = first.stdout.split()
    assert len(ids) == 3
    assert "line 4: rejected: 422" in first.stderr and "$.text (line 4)" in first.stderr
    rerun = cli("--stdin", "--feed", "en", "--idempotency-key", "batch-7", env=cli_env,
                stdin=lines)
    assert rerun.stdout.split() == ids  # the same keys: the same items, nothing new
    assert [i["text"] for i in items_of(server.url)] == [
        "First line", "Second line", "Third line"]


@pytest.mark.parametrize("broker", ["memory"])
def test_cli_429_after_the_retries_is_exit_5(broker: str) -> None:
    with running(broker, TICKER_PUBLISH_RATE="1/minute") as server:
        env = {**os.environ, "TICKER_URL": server.url, "TICKER_TOKEN": token(),
               "TICKER_FEED": "en"}
        assert cli("one", env=env).returncode == 0
        limited = cli("two", "--retries", "0", env=env)
        assert limited.returncode == 5 and "429" in limited.stderr


@pytest.mark.parametrize("broker", ["memory"])
def test_cli_tail_prints_one_line_per_event_and_resumes(server: Server,
                                                        cli_env: dict[str, str]) -> None:
    with Ticker(server.url, token()) as ticker:
        old = ticker.publish("en", "already there")
        tail = subprocess.Popen([PUBLISH, "tail", "en", "--count", "3"], env=cli_env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            assert tail.stderr is not None
            note = readline_within(tail.stderr, WAIT)  # the snapshot note: the stream is open
            assert "snapshot of 1 items" in note
            new = ticker.publish("en", "Toll rises to 3", source="Civil Defence", urgency=2)
            ticker.correct("en", new.id, text="Toll rises to 5")
            ticker.retract("en", old.id)
            out, _ = tail.communicate(timeout=WAIT)
        finally:
            if tail.poll() is None:
                tail.kill()
                tail.wait(timeout=5)
        assert tail.returncode == 0
        assert out.splitlines() == [
            f"item    {new.id} v1 u2 Civil Defence: Toll rises to 3",
            f"update  {new.id} v2 u2 Civil Defence: Toll rises to 5",
            f"retract {old.id}",
        ]
        epoch = ticker.items("en").cursor.split(":")[0]
    resumed = cli("tail", "en", "--since", f"{epoch}:1", "--count", "2", "--json", env=cli_env,
                  timeout=WAIT)
    assert resumed.returncode == 0
    events = [json.loads(line) for line in resumed.stdout.splitlines()]
    assert [e["type"] for e in events] == ["subscribed", "item", "update"]
    assert events[0]["recovered"] is True and events[1]["item"]["id"] == new.id
    missing = cli("tail", "xx", "--count", "1", env=cli_env, timeout=WAIT)
    assert missing.returncode == 3 and "404" in missing.stderr


# -- ticker-bridge --------------------------------------------------------------------------------


LONG_TITLE = ("Ministry of Health: " + " ".join(f"word{n}" for n in range(120)))  # > 400


def wire_items() -> list[dict[str, str]]:
    return [  # newest first, as feeds do
        {"title": "Ceasefire talks resume in Cairo", "guid": "urn:wire:3",
         "link": "https://wire.example/3", "pubDate": "Wed, 25 Nov 2026 10:03:00 GMT",
         "description": "Delegations from Gaza arrive"},
        {"title": LONG_TITLE, "guid": "urn:wire:2", "link": "https://wire.example/2",
         "pubDate": "Wed, 25 Nov 2026 10:02:00 GMT", "category": "Health"},
        {"title": "Markets open  lower\n after  the announcement", "guid": "urn:wire:1",
         "link": "javascript:alert(1)", "pubDate": "Wed, 25 Nov 2026 10:01:00 GMT"},
    ]


def atom_entries() -> list[dict[str, str]]:
    return [
        {"id": "urn:desk:2", "title": "<b>Quake</b> of magnitude 5.1 &amp; aftershocks",
         "title_type": "html", "updated": "2026-11-25T10:05:00Z",
         "link": "https://desk.example/2"},
        {"id": "urn:desk:1", "title": "Storm warning for the coast",
         "updated": "2026-11-25T10:04:00Z"},
    ]


def bridge_config(tmp_path: Path, base: str, server: str,
                  extra_sources: tuple[str, ...] = ()) -> Path:
    config = tmp_path / "bridge.toml"
    sources = "".join(f'\n[[sources]]\nurl = "{base}{path}"\n' for path in extra_sources)
    config.write_text(f"""
server = "{server}"
feed = "en"
state = "state/bridge.json"
interval = 0.05
retries = 1
allow_networks = ["127.0.0.1"]  # the feed server is on loopback

[[rules]]
keywords = ["gaza", "west bank"]
regions = ["palestine", "mena"]
category = "politics"
urgency = 2

[[rules]]
tags = ["health"]
category = "health"

[[sources]]
url = "{base}/wire.rss"
source = "Agency Wire"
regions = ["mena"]

[[sources]]
url = "{base}/desk.atom"
category = "environment"
{sources}""")
    (tmp_path / "state").mkdir(exist_ok=True)
    return config


@contextlib.contextmanager
def feeds_served(validators: bool = True) -> Iterator[tuple[FeedServer, str]]:
    feeds = FeedServer(validators=validators)
    feeds.put("/wire.rss", rss(wire_items()))
    feeds.put("/desk.atom", atom(atom_entries()), "application/atom+xml")
    with feeds.running() as base:
        yield feeds, base


def run_bridge(config: Path, *args: str) -> int:
    return bridge_mod.main(["--config", str(config), "--once", *args])


@pytest.fixture
def bridge_env(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("TICKER_TOKEN", token("wire", "correspondent", "en"))
    caplog.set_level(logging.INFO, logger="ticker_publishers.bridge")


@pytest.mark.parametrize("broker", ["memory"])
@pytest.mark.usefixtures("bridge_env")
def test_bridge_maps_rss_and_atom_and_uses_conditional_gets(server: Server,
                                                            tmp_path: Path) -> None:
    with feeds_served() as (feeds, base):
        config = bridge_config(tmp_path, base, server.url)
        assert run_bridge(config) == 0
        posted = {i["url"] if "url" in i else i["text"]: i for i in items_of(server.url)}
        assert len(posted) == 5
        talks = posted["https://wire.example/3"]
        assert talks["text"] == "Ceasefire talks resume in Cairo"
        assert (talks["source"], talks["category"], talks["urgency"]) == (
            "Agency Wire", "politics", 2)  # "Gaza" in the description matched the rule
        assert talks["regions"] == ["mena", "palestine"]
        long = posted["https://wire.example/2"]
        assert len(long["text"]) <= 400 and long["text"].endswith("…")
        assert LONG_TITLE.startswith(long["text"][:-1])
        assert LONG_TITLE[len(long["text"]) - 1] == " "  # cut at a word boundary
        assert long["category"] == "health"  # by the entry's RSS category
        markets = posted["Markets open lower after the announcement"]
        assert "url" not in markets  # a javascript: link is not passed on
        quake = posted["https://desk.example/2"]
        assert quake["text"] == "Quake of magnitude 5.1 & aftershocks"
        assert (quake["source"], quake["category"]) == ("Atom Desk", "environment")
        # oldest first: the ticker shows them in the order the sources published them
        order = [i["text"] for i in items_of(server.url)]
        assert order.index(markets["text"]) < order.index(talks["text"])
        assert order.index("Storm warning for the coast") < order.index(quake["text"])

        assert run_bridge(config) == 0
        assert feeds.statuses("/wire.rss") == [200, 304]
        assert feeds.statuses("/desk.atom") == [200, 304]
        second = [h for h in feeds.hits if h.path == "/wire.rss"][1]
        assert second.if_none_match is not None
        assert len(items_of(server.url)) == 5


@pytest.mark.parametrize("broker", ["memory"])
@pytest.mark.usefixtures("bridge_env")
def test_bridge_reports_a_malformed_feed_and_goes_on(server: Server, tmp_path: Path,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    with feeds_served() as (feeds, base):
        feeds.put("/broken.rss", '<?xml version="1.0"?><rss version="2.0"><channel>'
                  "<item><title>Half an item</title><guid>b1</guid>")
        feeds.put("/page.html", "<html><body>not a feed</body></html>", "text/html")
        feeds.put("/down.rss", "", status=500)
        config = bridge_config(tmp_path, base, server.url,
                               ("/broken.rss", "/page.html", "/down.rss", "/missing.rss"))
        assert run_bridge(config) == bridge_mod.PARTLY
        texts = [i["text"] for i in items_of(server.url)]
        assert len(texts) == 5 and "Half an item" not in texts
        warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert any(f"{base}/broken.rss: malformed feed" in w for w in warnings)
        assert any(f"{base}/page.html: not an RSS or Atom feed" in w for w in warnings)
        assert any(f"{base}/down.rss: HTTP 500" in w for w in warnings)
        assert any(f"{base}/missing.rss: HTTP 404" in w for w in warnings)
        state = state_mod.load(tmp_path / "state" / "bridge.json")
        assert f"{base}/broken.rss" not in state.sources
        # fixed later: read and posted on the next pass
        feeds.put("/broken.rss", rss([{"title": "Now well-formed", "guid": "urn:b:1"}]))
        assert run_bridge(config) == bridge_mod.PARTLY  # the others are still broken
        assert "Now well-formed" in [i["text"] for i in items_of(server.url)]


@pytest.mark.parametrize("broker", ["memory", "redis"])
def test_bridge_restarts_without_duplicates(server: Server, tmp_path: Path) -> None:
    env = {**os.environ, "TICKER_TOKEN": token("wire", "correspondent", "en")}

    def bridge(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([BRIDGE, "--config", str(config), *args], env=env,
                              capture_output=True, text=True, timeout=60)

    # no validators: every run reads and parses every entry again
    with feeds_served(validators=False) as (feeds, base):
        config = bridge_config(tmp_path, base, server.url)
        first = bridge("--once")
        assert first.returncode == 0, first.stderr
        assert "pass 1: 2 read, 0 not modified, 0 failed; 5 posted" in first.stderr
        before = log_of(server.url)
        assert len(before) == 5
        again = bridge("--passes", "3")
        assert again.returncode == 0, again.stderr
        assert "0 posted" in again.stderr and "pass 3:" in again.stderr
        # the state file lost: the Idempotency-Keys still stop duplicates (within 24 h)
        (tmp_path / "state" / "bridge.json").unlink()
        lost = bridge("--once")
        assert lost.returncode == 0, lost.stderr
        assert log_of(server.url) == before
        assert set(feeds.statuses("/wire.rss")) == {200}


@pytest.mark.parametrize("broker", ["memory"])
@pytest.mark.usefixtures("bridge_env")
def test_bridge_posts_a_changed_entry_as_a_correction(server: Server, tmp_path: Path) -> None:
    with feeds_served() as (feeds, base):
        config = bridge_config(tmp_path, base, server.url)
        assert run_bridge(config) == 0
        before = {i["text"]: i for i in items_of(server.url)}
        changed = wire_items()
        changed[0]["title"] = "Ceasefire talks resume in Cairo; Qatar joins"
        changed[2]["pubDate"] = "Wed, 25 Nov 2026 10:09:00 GMT"  # updated, same text: no PATCH
        feeds.put("/wire.rss", rss(changed))
        desk = atom_entries()
        desk[1]["title"] = "Storm warning for the coast lifted"
        desk[1]["updated"] = "2026-11-25T11:00:00Z"
        feeds.put("/desk.atom", atom(desk), "application/atom+xml")
        with Ticker(server.url, token()) as editor:  # the desk pulled the storm item meanwhile
            editor.retract("en", before["Storm warning for the coast"]["id"])
        assert run_bridge(config) == 0
        log = log_of(server.url)
        assert [e["type"] for e in log] == ["item"] * 5 + ["retract", "update"]
        update = log[-1]["item"]
        assert update["id"] == before["Ceasefire talks resume in Cairo"]["id"]
        assert update["text"] == "Ceasefire talks resume in Cairo; Qatar joins"
        assert update["version"] == 2
        state = state_mod.load(tmp_path / "state" / "bridge.json")
        storm = state.sources[f"{base}/desk.atom"].entries["urn:desk:1"]
        assert storm.status == "retracted"
        assert run_bridge(config) == 0  # nothing changes on a pass with nothing new
        assert len(log_of(server.url)) == 7


@pytest.mark.parametrize("broker", ["memory"])
@pytest.mark.usefixtures("bridge_env")
def test_bridge_survives_a_crash_and_an_outage_without_duplicates(
        server: Server, tmp_path: Path) -> None:
    with feeds_served() as (feeds, base):
        config = bridge_config(tmp_path, base, server.url)
        # ticker unreachable: exit 5, entries written down as pending, validators not kept
        dead = f"http://127.0.0.1:{free_port()}"
        assert run_bridge(config, "--server", dead) == bridge_mod.UNAVAILABLE
        state_path = tmp_path / "state" / "bridge.json"
        state = state_mod.load(state_path)
        pending = [e for s in state.sources.values() for e in s.entries.values()]
        assert [e.status for e in pending] == ["pending"]
        assert all(s.etag is None for s in state.sources.values())
        assert items_of(server.url) == []
        # now it is up: the pending entry and the rest go out once
        assert run_bridge(config) == 0
        assert len(items_of(server.url)) == 5
        # a crash after posting and before writing down the answer: the entry is pending again
        state = state_mod.load(state_path)
        record = state.sources[f"{base}/wire.rss"].entries["urn:wire:3"]
        posted_id = record.item
        record.status, record.item = "pending", None
        state_mod.save(state_path, state)
        assert run_bridge(config) == 0
        assert feeds.statuses("/wire.rss")[-1] == 200  # not a conditional GET this time
        assert len(items_of(server.url)) == 5
        again = state_mod.load(state_path).sources[f"{base}/wire.rss"].entries["urn:wire:3"]
        assert (again.status, again.item) == ("posted", posted_id)


@pytest.mark.parametrize("broker", ["memory"])
@pytest.mark.usefixtures("bridge_env")
def test_bridge_backfill_and_configuration_errors(server: Server, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    with feeds_served() as (_, base):
        config = bridge_config(tmp_path, base, server.url)
        assert run_bridge(config, "--backfill", "1") == 0
        assert [i["text"] for i in items_of(server.url)] == [
            "Ceasefire talks resume in Cairo", "Quake of magnitude 5.1 & aftershocks"]
        # a token that may not write to the feed: reported per source, nothing crashes
        monkeypatch.setenv("TICKER_TOKEN", token("wire", "correspondent", "ar"))
        other = tmp_path / "other"
        other.mkdir()
        assert bridge_mod.main([f"{base}/wire.rss", "--feed", "en", "--server", server.url,
                                "--allow-network", "127.0.0.1",
                                "--state", str(other / "s.json"), "--once"]) == \
            bridge_mod.PARTLY
        monkeypatch.setenv("TICKER_TOKEN", "garbage")
        assert bridge_mod.main([f"{base}/wire.rss", "--feed", "en", "--server", server.url,
                                "--allow-network", "127.0.0.1",
                                "--state", str(other / "t.json"), "--once"]) == bridge_mod.AUTH
    assert bridge_mod.main(["--once"]) == bridge_mod.USAGE  # no sources
    bad = tmp_path / "bad.toml"
    bad.write_text('[[sources]]\nurl = "https://x.example/rss"\nfeed = "en"\nfrequency = 3\n')
    assert bridge_mod.main(["--config", str(bad), "--once"]) == bridge_mod.USAGE
    damaged = tmp_path / "damaged.json"
    damaged.write_text("{not json")
    assert bridge_mod.main(["https://x.example/rss", "--feed", "en", "--server", server.url,
                            "--state", str(damaged), "--once"]) == bridge_mod.USAGE
