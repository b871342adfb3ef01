"""The Redis engine: any number of ticker processes share one Redis.

Theory of operation
-------------------
*Writes* are one Lua script (``publish.lua``): idempotency, the epoch, the next sequence, the
stamped item, the log entry (a stream entry with id ``<seq>-0``) and the live notification
(``PUBLISH``) happen in one atomic step, so the log and the live stream cannot disagree and a
failed publish leaves nothing half-written. The command client never retries a command: re-sending
a script whose reply was lost could publish twice, so every connection failure surfaces as
:class:`BrokerUnavailableError` (HTTP 503) and the publisher retries with its idempotency key.

*Reads* (``read``, ``head``, ``latest``) are small read-side scripts, so the epoch, the last
sequence, the retained range and the entries they return are one consistent view. They open the
feed's epoch exactly as the publish script does, so a feed's epoch exists from its first use.

*Live delivery* is one supervised task per broker (one per process). It holds a dedicated pub/sub
connection subscribed to every feed's channel and calls ``on_event`` for each message, in the order
Redis sent them, which is log order. (The Redis Cluster engine, ``redis_cluster.py``, holds one such
connection per shard that owns a feed, all supervised as one: any failure reconnects them all.)
Pub/sub is at-most-once: a message published while the connection is down is simply gone. So
the listener never hides a disconnect (redis-py's own
transparent reconnect would, which is why its retries are off): on any failure it logs, backs off
(exponential, capped, jittered), reconnects, re-subscribes and then calls ``on_resync`` so the node
reads the log after the last sequence it dispatched. It calls ``on_resync`` after the first
subscribe too, which closes the window between a node's start-up read and its subscription.

A socket can be half-open: the peer is gone but no error ever comes, and a PING written into the
kernel buffer "succeeds" (redis/redis-py#2417, celery/kombu#2590). So the listener PINGs every
``ping_interval`` over the pub/sub connection and requires the PONG to *arrive* within
``pong_timeout``; otherwise it declares the connection dead and reconnects.

The log and idempotency records must never be evicted (centrifugal/centrifugo#888): ``start``
checks ``maxmemory-policy`` and logs a loud warning unless it is ``noeviction``.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from contextlib import suppress
from dataclasses import dataclass
from importlib import resources
from typing import Any, ClassVar, Literal, cast

from redis import exceptions as rex
from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.backoff import EqualJitterBackoff

from ticker.brokers.base import (
    Change,
    Entry,
    Fired,
    Head,
    Idempotency,
    ItemRecord,
    Kind,
    LogSlice,
    OnEvent,
    OnResync,
    PublishResult,
    PublishStatus,
)
from ticker.brokers.redis_keys import check_prefix, feed_keys
from ticker.brokers.redis_url import UNAVAILABLE as _UNAVAILABLE
from ticker.brokers.redis_url import command_client, no_retry
from ticker.brokers.redis_url import unavailable as _unavailable

logger = logging.getLogger(__name__)
DRAIN_BATCH = 256  # pub/sub messages handled per wake-up at most, so HTTP is never starved

PUBLISH_LUA = resources.files("ticker.brokers").joinpath("publish.lua").read_text("utf-8")

# Both read scripts open the feed's epoch like publish.lua step 1 does.
_OPEN_LUA = """
if redis.call('HSETNX', KEYS[1], 'epoch', ARGV[1]) == 1 then
  redis.call('DEL', KEYS[2], KEYS[3])
end
local epoch = redis.call('HGET', KEYS[1], 'epoch')
local seq = tonumber(redis.call('HGET', KEYS[1], 'seq') or '0')
"""

# KEYS: meta, log, latest. ARGV: candidate epoch, wanted epoch, after, limit.
# Returns {epoch, seq, complete (0/1), XRANGE entries}.
_SLICE_LUA = _OPEN_LUA + """
local after, limit = tonumber(ARGV[3]), tonumber(ARGV[4])
local first = seq + 1
local oldest = redis.call('XRANGE', KEYS[2], '-', '+', 'COUNT', 1)
if oldest[1] then
  first = tonumber(string.match(oldest[1][1], '^(%d+)'))
end
if ARGV[2] ~= epoch or after < first - 1 or after > seq then
  return {epoch, seq, 0, {}}
end
local entries = {}
if limit > 0 then
  entries = redis.call('XRANGE', KEYS[2], string.format('%d', after + 1), '+', 'COUNT', limit)
end
return {epoch, seq, 1, entries}
"""

# KEYS: meta, log, latest, items. ARGV: candidate epoch, items, tail.
# Returns {epoch, seq, item JSONs oldest first, XREVRANGE entries newest first, pinned item}.
_HEAD_LUA = _OPEN_LUA + """
local want, tail = tonumber(ARGV[2]), tonumber(ARGV[3])
local items = {}
if want > 0 then
  local ids = redis.call('ZRANGE', KEYS[3], -want, -1)
  for i = 1, #ids do
    local item = redis.call('HGET', KEYS[4], ids[i])
    if item then
      items[#items + 1] = item
    end
  end
end
local entries = {}
if tail > 0 then
  entries = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', tail)
end
local pinned = false
local pinned_id = redis.call('HGET', KEYS[1], 'pinned')
if pinned_id then
  local item = redis.call('HGET', KEYS[4], pinned_id)
  if item then
    pinned = '{"pinned":true,' .. string.sub(item, 2)
  end
end
return {epoch, seq, items, entries, pinned}
"""

# KEYS: items, notes, meta. ARGV: item id. Returns {item JSON, note, pinned (0/1)}.
_RECORD_LUA = """
local item = redis.call('HGET', KEYS[1], ARGV[1])
if not item then
  return {false, false, 0}
end
local pinned = redis.call('HGET', KEYS[3], 'pinned') == ARGV[1] and 1 or 0
return {item, redis.call('HGET', KEYS[2], ARGV[1]), pinned}
"""

_STATUSES = frozenset({"published", "duplicate", "mismatch", "conflict", "not_found", "canceled",
                       "illegal"})

ListenerState = Literal["idle", "connecting", "connected", "reconnecting", "closed"]

# Pub/sub replies: plain (PUBLISH) and sharded (SPUBLISH) pub/sub are handled alike.
_CONFIRMED = frozenset({"subscribe", "ssubscribe"})
_MESSAGE = frozenset({"message", "smessage"})
_DROPPED = frozenset({"unsubscribe", "sunsubscribe"})  # never asked for: the server dropped us


def _entries(raw: list[Any]) -> list[Entry]:
    """Stream entries ``[id, [field, value, ...]]`` → ``Entry(seq, event JSON)``."""
    out = []
    for ident, fields in raw:
        data = next(fields[i + 1] for i in range(0, len(fields), 2) if fields[i] == b"d")
        out.append(Entry(int(ident.split(b"-", 1)[0]), data))
    return out


@dataclass
class Session:
    """One pub/sub connection of the listener and the channels it must carry."""

    client: Redis  # owned by the session: closed with it
    pubsub: PubSub
    channels: list[bytes]

    async def aclose(self) -> None:
        with suppress(Exception):
            await self.pubsub.aclose()  # type: ignore[no-untyped-call]  # untyped in redis-py
        with suppress(Exception):
            await self.client.aclose()


class RedisBroker:
    """Engine for ``redis://`` URLs: a Redis stream per feed, delivered to every process."""

    notify_command: ClassVar[str] = "PUBLISH"  # how publish.lua notifies the nodes

    def __init__(self, url: str, *, prefix: str = "ticker:", history: int = 1000,
                 latest_max: int = 1000, item_retention: int = 0, command_timeout: float = 5.0,
                 connect_timeout: float = 2.0, ping_interval: float = 5.0,
                 pong_timeout: float = 3.0, backoff_base: float = 0.1, backoff_cap: float = 5.0,
                 max_connections: int = 64) -> None:
        """Create the engine; nothing connects before the first command or ``start``.

        Args:
            url: ``redis://`` or ``rediss://`` URL (redis-py syntax, options in the query).
            prefix: put in front of every key and channel; must not contain braces.
            history: events retained per feed (``XADD MAXLEN ~``: a little more may be kept).
            latest_max: usable items kept in a feed's latest set.
            item_retention: events an item outlives in the items store (0: forever); see
                publish.lua step 8.
            command_timeout: seconds a command may take before it counts as unavailable.
            connect_timeout: seconds to open a connection.
            ping_interval: seconds between watchdog PINGs on the pub/sub connection.
            pong_timeout: seconds a watchdog PONG may take before the connection counts as dead.
            backoff_base: first reconnect delay of the listener, doubled per failure.
            backoff_cap: longest reconnect delay of the listener.
            max_connections: command connections; more concurrent commands wait for one.
        """
        self._prefix = check_prefix(prefix)  # in front of every key and channel
        self._history = history  # MAXLEN ~ of every feed's stream
        self._latest_max = latest_max  # size of every feed's latest set
        self._item_retention = item_retention  # events an item outlives (0: forever)
        self._command_timeout = command_timeout  # per command, and for SUBSCRIBE confirmations
        self._connect_timeout = connect_timeout  # per connection attempt
        self._ping_interval = ping_interval  # watchdog period
        self._pong_timeout = pong_timeout  # watchdog deadline
        self._backoff = EqualJitterBackoff(cap=backoff_cap, base=backoff_base)  # reconnect delay
        self._url = url  # for the listener's own connections
        self._redis = command_client(  # commands and scripts; never retries one by itself
            url, timeout=command_timeout, connect_timeout=connect_timeout,
            max_connections=max_connections)
        self._publish = self._redis.register_script(PUBLISH_LUA)  # EVALSHA, loads on NOSCRIPT
        self._slice = self._redis.register_script(_SLICE_LUA)
        self._head = self._redis.register_script(_HEAD_LUA)
        self._record = self._redis.register_script(_RECORD_LUA)
        self._channels: dict[bytes, str] = {}  # subscribed channel → feed
        self._on_event: OnEvent | None = None  # the node's live delivery callback
        self._on_resync: OnResync | None = None  # the node's "read the log now" callback
        self._task: asyncio.Task[None] | None = None  # the supervised listener
        self._subscribed = asyncio.Event()  # set once the first SUBSCRIBE is confirmed
        self._policy_checked = False  # maxmemory-policy seen (or found uncheckable)
        self._failures = 0  # consecutive listener failures, for the backoff
        self.listener_state: ListenerState = "idle"  # for /readyz and metrics
        self.reconnects = 0  # times the live connection was lost (each one starts a reconnect)
        self.last_error: str | None = None  # the listener's last failure, for operators

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self, feeds: list[str], on_event: OnEvent, on_resync: OnResync) -> None:
        """Check the eviction policy and start live delivery of ``feeds``.

        Waits (up to the connect and command timeouts) for the first subscription, so events
        published after ``start`` returns are delivered live; if Redis is down it returns anyway
        and the listener keeps trying in the background (``listener_state`` says so).
        """
        self._on_event, self._on_resync = on_event, on_resync
        self._channels = {feed_keys(self._prefix, f).channel.encode(): f for f in feeds}
        await self._check_server()
        await self._check_eviction_policy()
        if not self._channels:
            return
        self.listener_state = "connecting"
        self._task = asyncio.create_task(self._supervise(), name="ticker-redis-listener")
        self._task.add_done_callback(self._listener_ended)
        with suppress(TimeoutError):
            await asyncio.wait_for(self._subscribed.wait(),
                                   self._connect_timeout + self._command_timeout)
        if not self._subscribed.is_set():
            logger.warning("redis listener not connected yet; it keeps retrying in the background")

    async def aclose(self) -> None:
        """Stop the listener and close every connection."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task
        self.listener_state = "closed"
        await self._redis.aclose()

    async def healthy(self) -> bool:
        try:
            return bool(await asyncio.wait_for(self._redis.ping(), self._connect_timeout))
        except (rex.RedisError, OSError):
            return False

    async def _check_server(self) -> None:
        """Refuse a Redis Cluster node behind a plain URL: most feeds would answer ``MOVED``."""
        if not isinstance(self._redis, Redis):
            return  # the cluster engine
        try:
            info = await self._redis.info("cluster")
        except (rex.RedisError, OSError):
            return  # unreachable (the listener keeps trying) or INFO disabled: nothing to tell
        if info.get("cluster_enabled") in (1, "1"):
            raise RuntimeError(
                f"{self._url.split('://', 1)[0]}:// points at a Redis Cluster node: use "
                "redis+cluster://host:port (rediss+cluster:// with TLS)")

    async def _check_eviction_policy(self) -> None:
        """Warn loudly unless Redis is set never to evict keys; tolerate CONFIG being disabled."""
        if self._policy_checked:
            return
        try:
            reply = await self._redis.config_get("maxmemory-policy")
        except rex.ResponseError as exc:  # CONFIG renamed away, or the ACL forbids it
            self._policy_checked = True
            logger.warning("cannot read Redis maxmemory-policy (%s); make sure it is "
                           "'noeviction', or feed logs and idempotency records may be evicted", exc)
            return
        except _UNAVAILABLE as exc:
            logger.warning("cannot reach Redis to check maxmemory-policy yet: %r", exc)
            return  # the listener checks again once it is connected
        self._policy_checked = True
        values = {_text(k): _text(v) for k, v in dict(reply).items()}
        policy = values.get("maxmemory-policy", "")
        if policy != "noeviction":
            logger.warning(
                "REDIS MAXMEMORY-POLICY IS %r, NOT 'noeviction': under memory pressure Redis may "
                "evict feed logs (readers then lose their place) and idempotency records (retried "
                "publishes may then publish twice). Set 'maxmemory-policy noeviction'.", policy)

    # -- writes and reads --------------------------------------------------------------------

    async def publish(self, feed: str, change: Change,
                      idempotency: Idempotency | None = None) -> PublishResult:
        result = (await self._step(feed, change, idempotency))[0]
        if result is None:
            raise RuntimeError("publish.lua answered 'idle' to a change")
        return result

    async def next_due(self, feed: str) -> int | None:
        with _unavailable("next_due"):
            first = await self._redis.zrangebyscore(feed_keys(self._prefix, feed).due, "-inf",
                                                    "+inf", start=0, num=1, withscores=True)
        return int(first[0][1]) if first else None

    async def fire_due(self, feed: str) -> Fired:
        result, next_ms = await self._step(feed, Change(cast(Kind, "due")), None)
        return Fired(result, next_ms)

    async def _step(self, feed: str, change: Change, idempotency: Idempotency | None,
                    ) -> tuple[PublishResult | None, int | None]:
        """Run publish.lua: the result (``None``: kind ``due`` found nothing due), and (kind
        ``due``) when the next entry is due."""
        keys = feed_keys(self._prefix, feed)
        names = [keys.meta, keys.log, keys.items, keys.latest, keys.notes, keys.drafts,
                 keys.due, keys.expired, keys.retention, keys.history]
        fingerprint, ttl = "", 0
        if idempotency is not None:
            names.append(keys.idem(idempotency.scope, idempotency.key))
            fingerprint, ttl = idempotency.fingerprint, idempotency.ttl_seconds
        args: list[bytes | str | int] = [
            change.kind, change.body, change.item_id or "", _optional(change.expected_version),
            secrets.token_hex(6), self._history, self._latest_max, keys.channel, feed,
            fingerprint, ttl, self.notify_command, change.live, _optional(change.embargo_ms),
            _optional(change.expires_ms), _optional(change.place_ms), _note_op(change.note),
            change.by, self._item_retention, keys.desk, change.require_status or ""]
        with _unavailable("publish"):
            status, epoch, seq, item, *rest = await self._publish(keys=names, args=args)
        text = _text(status)
        next_ms = int(float(rest[0])) if rest and rest[0] is not None else None
        if text == "idle":
            return None, next_ms
        if text not in _STATUSES:
            raise RuntimeError(f"publish.lua returned an unknown status {text!r}")
        return PublishResult(cast(PublishStatus, text), _text(epoch), int(seq), item), next_ms

    async def recall(self, feed: str, idempotency: Idempotency) -> PublishResult | None:
        keys = feed_keys(self._prefix, feed)
        with _unavailable("recall"):
            fingerprint, item_id = await self._redis.hmget(
                keys.idem(idempotency.scope, idempotency.key), ["f", "i"])
            if fingerprint is None or item_id is None:
                return None
            if _text(fingerprint) != idempotency.fingerprint:
                return PublishResult("mismatch", "", 0, None)
            item = await self._redis.hget(keys.items, item_id)
        # item None: it left the store (item retention); the key still published it
        return PublishResult("duplicate", "", 0, cast(bytes | None, item))

    async def read(self, feed: str, epoch: str | None, after: int, limit: int) -> LogSlice:
        keys = feed_keys(self._prefix, feed)
        args: list[str | int] = [secrets.token_hex(6), epoch or "", after, limit]
        with _unavailable("read"):
            current, seq, complete, raw = await self._slice(
                keys=[keys.meta, keys.log, keys.latest], args=args)
        return LogSlice(_text(current), int(seq), _entries(raw), bool(complete))

    async def head(self, feed: str, items: int, tail: int) -> Head:
        keys = feed_keys(self._prefix, feed)
        with _unavailable("head"):
            epoch, seq, latest, raw, *pinned = await self._head(
                keys=[keys.meta, keys.log, keys.latest, keys.items],
                args=[secrets.token_hex(6), items, tail])
        return Head(_text(epoch), int(seq), list(latest), _entries(raw)[::-1],
                    pinned[0] if pinned else None)

    async def get_item(self, feed: str, item_id: str) -> bytes | None:
        with _unavailable("get_item"):
            item = await self._redis.hget(feed_keys(self._prefix, feed).items, item_id)
        return cast("bytes | None", item)

    async def item_record(self, feed: str, item_id: str) -> ItemRecord | None:
        keys = feed_keys(self._prefix, feed)
        with _unavailable("item_record"):
            data, note, pinned = await self._record(
                keys=[keys.items, keys.notes, keys.meta], args=[item_id])
        if data is None:
            return None
        return ItemRecord(data, None if note is None else _text(note), bool(pinned))

    async def get_items(self, feed: str, item_ids: list[str]) -> list[bytes | None]:
        if not item_ids:
            return []
        with _unavailable("get_items"):
            found = await self._redis.hmget(feed_keys(self._prefix, feed).items, item_ids)
        return cast("list[bytes | None]", found)

    async def latest(self, feed: str, limit: int) -> list[bytes]:
        return (await self.head(feed, limit, 0)).items

    async def queue(self, feed: str) -> list[ItemRecord]:
        """(issue 13) The desk items are the drafts' ids; ids sort by time."""
        keys = feed_keys(self._prefix, feed)
        with _unavailable("queue"):
            ids = sorted(cast("list[bytes]", await self._redis.hkeys(keys.drafts)))
            if not ids:
                return []
            found = cast("list[bytes | None]", await self._redis.hmget(keys.items, ids))
            notes = await self._redis.hmget(keys.notes, ids)
        return [ItemRecord(data, None if note is None else _text(note), False)
                for data, note in zip(found, notes, strict=True) if data is not None]

    async def history(self, feed: str, item_id: str) -> bytes | None:
        with _unavailable("history"):
            found = await self._redis.hget(feed_keys(self._prefix, feed).history, item_id)
        return cast("bytes | None", found)

    # -- live delivery -----------------------------------------------------------------------

    async def _supervise(self) -> None:
        """Run the listener forever: every failure is logged, backed off and reconnected."""
        while True:
            try:
                await self._listen()
            except Exception as exc:  # the listener must outlive every failure; it logs each
                self.last_error = f"{type(exc).__name__}: {exc}"  # redis-py's repr hides the text
                logger.warning("redis listener lost its connection: %s", self.last_error)
            self._failures += 1
            if self.listener_state == "connected":
                self.reconnects += 1
            self.listener_state = "reconnecting"
            await asyncio.sleep(self._backoff.compute(self._failures))

    def _listener_ended(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            self.listener_state = "closed"
            logger.critical("redis listener died; live delivery stopped",
                            exc_info=task.exception())

    async def _listen(self) -> None:
        """One connection's life: subscribe, confirm, resync, then deliver until it fails."""
        sessions: list[Session] = []
        limit = self._connect_timeout + self._command_timeout
        try:
            async with asyncio.timeout(limit):
                sessions = await self._open_sessions()
            for session in sessions:
                async with asyncio.timeout(limit):
                    await self._subscribe(session)
            for session in sessions:
                await self._confirm(session)
            async with asyncio.timeout(limit):
                await self._check_sessions(sessions)
            self.listener_state = "connected"
            self._failures = 0
            self._subscribed.set()
            logger.info("redis listener subscribed to %d feed channel(s) on %d connection(s)",
                        len(self._channels), len(sessions))
            await self._check_eviction_policy()
            self._call(self._on_resync)
            await self._watch_all(sessions)
        finally:
            for session in sessions:
                await session.aclose()

    def _session(self, url: str, channels: list[bytes]) -> Session:
        """A pub/sub connection to the server at ``url`` (not connected yet)."""
        client = Redis.from_url(url, retry=no_retry(), socket_timeout=self._command_timeout,
                                socket_connect_timeout=self._connect_timeout,
                                health_check_interval=0)
        return Session(client, client.pubsub(), channels)

    async def _open_sessions(self) -> list[Session]:
        """One server: one connection carries every feed's channel."""
        return [self._session(self._url, list(self._channels))]

    async def _subscribe(self, session: Session) -> None:
        await session.pubsub.subscribe(*session.channels)

    async def _check_sessions(self, sessions: list[Session]) -> None:
        """After every subscription is confirmed: anything else that must hold (cluster)."""

    async def _confirm(self, session: Session) -> None:
        """Wait until the server has confirmed every channel of ``session``."""
        loop = asyncio.get_running_loop()
        pending = set(session.channels)
        deadline = loop.time() + self._command_timeout
        while pending:
            if loop.time() >= deadline:
                raise rex.TimeoutError("SUBSCRIBE was not confirmed in time")
            message = await self._next(session.pubsub, deadline - loop.time())
            if message is None:
                continue
            if message["type"] in _CONFIRMED:
                pending.discard(message["channel"])
            else:
                self._handle(message)

    async def _watch_all(self, sessions: list[Session]) -> None:
        """Watch every connection; the first that fails ends them all."""
        tasks = [asyncio.create_task(self._watch(session.pubsub)) for session in sessions]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
            for task in done:
                task.result()  # raises the failure
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _watch(self, pubsub: PubSub) -> None:
        """Deliver messages; PING every interval and fail when a PONG does not arrive in time."""
        loop = asyncio.get_running_loop()
        ping_at = loop.time() + self._ping_interval
        pong_by: float | None = None  # deadline of the outstanding PING, if any
        token = b""
        while True:
            now = loop.time()
            if pong_by is not None and now >= pong_by:
                raise rex.TimeoutError(f"no PONG within {self._pong_timeout}s: half-open pub/sub")
            if pong_by is None and now >= ping_at:
                token = secrets.token_hex(4).encode()
                async with asyncio.timeout(self._command_timeout):
                    await pubsub.ping(token)
                pong_by = now + self._pong_timeout
            wake = pong_by if pong_by is not None else ping_at
            message = await self._next(pubsub, wake - loop.time())
            drained = 0
            while message is not None:
                if message["type"] == "pong" and message["data"] == token:
                    pong_by, ping_at = None, loop.time() + self._ping_interval
                else:
                    if pong_by is not None:
                        # Messages still arriving prove the connection is alive: under load the
                        # PONG may be queued behind many of them, so its deadline moves on.
                        pong_by = loop.time() + self._pong_timeout
                    self._handle(message)
                drained += 1
                if drained >= DRAIN_BATCH:
                    break
                # take what is already buffered without going round the event loop: a burst
                # is dispatched together, and the fan-out writes it together
                message = cast("dict[str, Any] | None", await pubsub.get_message(timeout=0.0))

    async def _next(self, pubsub: PubSub, seconds: float) -> dict[str, Any] | None:
        """The next pub/sub message within ``seconds``, or None.

        ``asyncio.timeout``, not ``wait_for``: on Python 3.11 ``wait_for`` returns the result
        instead of raising when the task is cancelled just as the message arrives, so the
        listener lost ``aclose``'s cancel and shutdown waited for it forever."""
        seconds = max(seconds, 0.001)
        async with asyncio.timeout(seconds + self._command_timeout):
            message = await pubsub.get_message(timeout=seconds)
        return cast("dict[str, Any] | None", message)

    def _handle(self, message: dict[str, Any]) -> None:
        """Deliver a message; a subscription the server ended (its slot moved) is a failure."""
        if message["type"] in _MESSAGE:
            self._deliver(message)
        elif message["type"] in _DROPPED:
            raise rex.ConnectionError(
                f"Redis ended the subscription to {message['channel']!r} (slot moved?)")

    def _deliver(self, message: dict[str, Any]) -> None:
        feed = self._channels.get(message["channel"])
        try:
            epoch, seq, data = cast(bytes, message["data"]).split(b" ", 2)
            entry = Entry(int(seq), data)
        except (ValueError, AttributeError):
            logger.error("ignoring a malformed message on %r", message.get("channel"))
            return
        if feed is not None and self._on_event is not None:
            on_event = self._on_event
            self._call(lambda: on_event(feed, epoch.decode(), entry))

    @staticmethod
    def _call(callback: OnResync | None) -> None:
        """Run a node callback; its failure is the node's bug, logged, never the listener's end."""
        if callback is None:
            return
        try:
            callback()
        except Exception:
            logger.exception("broker callback failed")


def _optional(value: int | None) -> str:
    return "" if value is None else str(value)


def _note_op(note: str | None) -> str:
    """publish.lua's note argument: "" leave it, "-" remove it, "=text" set it."""
    if note is None:
        return ""
    return "=" + note if note else "-"


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
