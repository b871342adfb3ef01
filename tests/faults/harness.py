"""Readers, a retrying publisher and log access for the fault tests.

A :class:`Reader` is a WebSocket client that behaves as the protocol asks a real one to: after any
disconnect it reconnects (to the next node when one refuses) and resumes from its last cursor, and
it handles ``subscribed recovered:false`` + ``snapshot`` by starting over. It checks the stream as
it arrives: within an epoch every event's sequence is the previous one plus one (a duplicate or a
gap is recorded in ``problems``), and an epoch only changes after a ``recovered:false`` snapshot.

:class:`RetryingPublisher` posts items one at a time, retrying ``503`` and connection errors with
the same ``Idempotency-Key`` a bounded number of times, and records what got a ``201``/``200``.

Every wait here is bounded; no test asserts how long anything took.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import httpx
import redis
import websockets
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from tests.frame_schemas import check_server_frame
from tests.servers import token
from ticker.brokers.redis_keys import feed_keys

WAIT = 60.0  # upper bound on a wait for something that should happen; never an expected time
RETRY_DELAY = 0.05  # between a publisher's attempts, and a reader's reconnects
MAX_ATTEMPTS = 400  # per published item: RETRY_DELAY * MAX_ATTEMPTS bounds an outage it rides out
MAX_CONNECT_FAILURES = 200  # in a row, per reader


async def wait_until(predicate: Callable[[], bool], what: str, within: float = WAIT) -> None:
    """Poll ``predicate`` until it holds; fail with ``what`` after ``within`` seconds."""
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


def parse_cursor(cursor: str) -> tuple[str, int]:
    epoch, seq = cursor.rsplit(":", 1)
    return epoch, int(seq)


def seq_of(item_id: str) -> int:
    """An item id is ``<ms as 11 hex digits><seq as 8 hex digits>`` (see publish.lua)."""
    return int(item_id[-8:], 16)


# -- readers ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Delivered:
    """One event as a reader received it."""

    epoch: str
    seq: int
    id: str
    text: str


@dataclass(frozen=True)
class Snapshot:
    epoch: str
    seq: int
    ids: list[str]


class Reader:
    """A WebSocket reader that resumes from its cursor after any disconnect; see the module."""

    def __init__(self, name: str, urls: Sequence[str], feed: str = "en") -> None:
        self.name = name
        self.urls = list(urls)  # nodes in order of preference; a refusal moves to the next
        self.feed = feed
        self.cursor: str | None = None  # the last position received (event or snapshot)
        self.epoch: str | None = None
        self.seq = 0
        self.deliveries: list[Delivered] = []
        self.snapshots: list[Snapshot] = []
        self.recovered: list[bool] = []  # the ``recovered`` flag of every ``subscribed``
        self.problems: list[str] = []  # protocol violations, as they were seen
        self.connects: list[str] = []  # the URL of every connection made
        self.closes: list[int | None] = []  # close code of every lost connection (None: none)
        self._expect_snapshot = False
        self._ws: ClientConnection | None = None
        self._stopping = False
        self._task: asyncio.Task[None] | None = None

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> Reader:
        self._task = asyncio.get_running_loop().create_task(self._run(), name=self.name)
        return self

    async def stop(self) -> None:
        self._stopping = True
        if self._ws is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._ws.close(), 5)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    @property
    def subscribed(self) -> bool:
        """Connected, and the subscription's first frames have arrived."""
        return self._ws is not None and bool(self.recovered) and not self._expect_snapshot

    def ids(self) -> list[str]:
        return [d.id for d in self.deliveries]

    async def _run(self) -> None:
        node = 0
        failures = 0
        while not self._stopping:
            if failures >= MAX_CONNECT_FAILURES:
                self.problems.append(f"gave up after {failures} failed connection attempts")
                return
            url = self.urls[node % len(self.urls)]
            try:
                ws = await websockets.connect(url, open_timeout=5, ping_interval=None,
                                              close_timeout=2, max_size=None, compression=None)
            except (OSError, TimeoutError, InvalidHandshake, InvalidURI):
                failures += 1
                node += 1  # that node is down: try the next one
                await asyncio.sleep(RETRY_DELAY)
                continue
            failures = 0
            self._ws = ws
            self.connects.append(url)
            try:
                frame: dict[str, Any] = {"type": "subscribe", "feed": self.feed}
                if self.cursor is not None:
                    frame["since"] = self.cursor
                await ws.send(json.dumps(frame))
                async for message in ws:
                    parsed = json.loads(message)
                    check_server_frame(parsed)
                    self._frame(parsed)
                self.closes.append(ws.close_code)
            except ConnectionClosed as exc:
                self.closes.append(exc.rcvd.code if exc.rcvd is not None else None)
            finally:
                self._ws = None
            await asyncio.sleep(RETRY_DELAY)

    # -- checking the stream ---------------------------------------------------------------

    def _frame(self, frame: dict[str, Any]) -> None:
        kind = frame.get("type")
        if kind == "ping":
            return
        if kind == "subscribed":
            self.recovered.append(bool(frame["recovered"]))
            if frame["recovered"] and self.cursor is None:
                self.problems.append("recovered:true for a subscription without a cursor")
            self._expect_snapshot = not frame["recovered"]
        elif kind == "snapshot":
            if not self._expect_snapshot:
                self.problems.append(f"a snapshot without subscribed(recovered:false): {frame}")
            self._expect_snapshot = False
            self.epoch, self.seq = parse_cursor(frame["cursor"])
            self.cursor = frame["cursor"]
            self.snapshots.append(Snapshot(self.epoch, self.seq, [i["id"] for i in frame["items"]]))
        elif kind in ("item", "update", "retract"):
            epoch, seq = parse_cursor(frame["cursor"])
            if self._expect_snapshot:
                self.problems.append(f"event {frame['cursor']} before the snapshot")
            elif epoch != self.epoch:
                self.problems.append(f"epoch {self.epoch} → {epoch} at {frame['cursor']} "
                                     "without recovered:false + snapshot")
            elif seq != self.seq + 1:
                what = "duplicate" if seq <= self.seq else "gap"
                self.problems.append(f"{what}: {seq} after {self.seq} (epoch {epoch})")
            item = frame.get("item") or {}
            self.deliveries.append(Delivered(epoch, seq, item.get("id", frame.get("id", "")),
                                             item.get("text", "")))
            self.epoch, self.seq, self.cursor = epoch, seq, frame["cursor"]
        else:
            self.problems.append(f"unexpected frame {frame}")


async def start_readers(readers: Sequence[Reader]) -> None:
    for reader in readers:
        reader.start()
    await wait_until(lambda: all(r.subscribed for r in readers), "every reader to subscribe")


async def stop_readers(readers: Sequence[Reader]) -> None:
    await asyncio.gather(*(r.stop() for r in readers))


async def wait_for_cursor(readers: Sequence[Reader], cursor: str, within: float = WAIT) -> None:
    """Wait until every reader has reached ``cursor`` (the feed's last event)."""
    def lagging() -> list[str]:
        return [f"{r.name} at {r.cursor}" for r in readers if r.cursor != cursor]

    try:
        await wait_until(lambda: not lagging(), f"every reader to reach {cursor}", within)
    except AssertionError as exc:
        raise AssertionError(f"{exc}; lagging: {lagging()}") from None


def assert_clean(reader: Reader) -> None:
    """No gap, no duplicate, no epoch change without a snapshot, nothing unexpected."""
    assert not reader.problems, f"{reader.name}: {reader.problems}"
    ids = reader.ids()
    repeated = [i for i, n in Counter(ids).items() if n > 1]
    assert not repeated, f"{reader.name} got {len(repeated)} item(s) twice: {repeated[:5]}"


# -- publishing ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Published:
    """An item that got a 201 (or a 200: an earlier attempt had published it)."""

    n: int
    status: int
    id: str
    seq: int
    attempts: int


@dataclass
class RetryingPublisher:
    """Posts items, retrying 503 and connection errors with the item's Idempotency-Key."""

    urls: list[str]
    sub: str = "fault-publisher"
    feed: str = "en"
    body: Callable[[int], dict[str, Any]] = field(default=lambda n: {"text": f"item {n}"})
    published: list[Published] = field(default_factory=list)
    outcomes: Counter[str] = field(default_factory=Counter)  # failed attempts, by kind
    run: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    _clients: list[httpx.AsyncClient] = field(default_factory=list)

    def __post_init__(self) -> None:
        headers = {"Authorization": f"Bearer {token(self.sub, 'editor', self.feed)}"}
        self._clients = [httpx.AsyncClient(base_url=u, timeout=5, headers=headers)
                         for u in self.urls]

    @property
    def failed_attempts(self) -> int:
        return sum(self.outcomes.values())

    async def publish(self, n: int) -> Published:
        """Publish item ``n``; on a 503 or a connection error, retry (on the next URL)."""
        key = f"{self.run}-{n}"
        for attempt in range(MAX_ATTEMPTS):
            client = self._clients[(n + attempt) % len(self._clients)]
            try:
                response = await client.post(f"/api/v1/feeds/{self.feed}/items",
                                             json=self.body(n), headers={"Idempotency-Key": key})
            except httpx.TransportError as exc:
                self.outcomes[type(exc).__name__] += 1
                await asyncio.sleep(RETRY_DELAY)
                continue
            if response.status_code in (200, 201):
                item_id = response.json()["id"]
                done = Published(n, response.status_code, item_id, seq_of(item_id), attempt + 1)
                self.published.append(done)
                return done
            if response.status_code == 503:
                self.outcomes["503"] += 1
                await asyncio.sleep(RETRY_DELAY)
                continue
            raise AssertionError(f"item {n}: unexpected {response.status_code}: {response.text}")
        raise AssertionError(f"item {n}: no 201/200 after {MAX_ATTEMPTS} attempts "
                             f"({dict(self.outcomes)})")

    async def publish_many(self, count: int, start: int = 0) -> None:
        for n in range(start, start + count):
            await self.publish(n)

    def ids(self) -> list[str]:
        return [p.id for p in self.published]

    async def aclose(self) -> None:
        for client in self._clients:
            await client.aclose()


# -- the log, read straight from Redis --------------------------------------------------------


@dataclass(frozen=True)
class LogEvent:
    epoch: str
    seq: int
    id: str
    text: str


def read_log(url: str, prefix: str, feed: str = "en") -> tuple[str, int, list[LogEvent]]:
    """The feed's epoch, last sequence and every retained event, from Redis itself."""
    keys = feed_keys(prefix, feed)
    client = redis.Redis.from_url(url, socket_timeout=5)
    try:
        epoch = cast("bytes | None", client.hget(keys.meta, "epoch"))
        seq = cast("bytes | None", client.hget(keys.meta, "seq"))
        entries = cast("list[tuple[bytes, dict[bytes, bytes]]]", client.xrange(keys.log))
    finally:
        client.close()
    events = []
    for _ident, fields in entries:
        event = json.loads(fields[b"d"])
        e_epoch, e_seq = parse_cursor(event["cursor"])
        item = event.get("item") or {}
        events.append(LogEvent(e_epoch, e_seq, item.get("id", event.get("id", "")),
                               item.get("text", "")))
    return (epoch or b"").decode(), int(seq or 0), events


def command_calls(url: str) -> dict[str, int]:
    """``INFO commandstats`` as {command: calls}."""
    client = redis.Redis.from_url(url, socket_timeout=5)
    try:
        stats = client.info("commandstats")
    finally:
        client.close()
    return {name.removeprefix("cmdstat_"): int(value["calls"]) for name, value in stats.items()}


# -- the server process ----------------------------------------------------------------------


def metric(text: str, name: str, **labels: str) -> float:
    """One sample from a Prometheus text exposition (0 when it is not there yet)."""
    want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith("#") or " " not in line:
            continue
        series, value = line.rsplit(" ", 1)
        metric_name, _, rest = series.partition("{")
        if metric_name == name and rest.rstrip("}") == want:
            return float(value)
    return 0.0


def rss_bytes(pid: int) -> int:
    """Resident set size of a process, from /proc."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for process {pid}")


def report(fault: str, published: int, delivered: list[int], lost: int, duplicated: int,
           note: str = "") -> None:
    """One line for the closing table (pytest shows it with ``-s`` or on failure)."""
    print(f"FAULT-REPORT | {fault} | published {published} | delivered per reader "
          f"{min(delivered)}..{max(delivered)} x{len(delivered)} | lost {lost} | "
          f"duplicated {duplicated} | {note}")
