"""The ticker client: ``Ticker`` (blocking) and ``AsyncTicker`` (asyncio), on httpx.

Both speak only the public HTTP API and return the wire models (``ticker_publishers.wire``,
the server's ``ticker.model`` shipped with this package)::

    with Ticker("http://127.0.0.1:8000", token) as ticker:
        item = ticker.publish("en", "Toll rises to 5", source="Civil Defence", urgency=2)
        ticker.correct("en", item.id, text="Toll rises to 6")
        ticker.hold("en", item.id); ticker.release("en", item.id); ticker.pin("en", item.id)
        for event in ticker.events("en", since=cursor):
            ...

How a call is made is decided once, without I/O, by a *plan* (a generator that yields the request
to send or the pause to take, and is sent back the answer); the two classes only carry plans out,
one with ``time.sleep`` and a blocking ``httpx.Client``, the other with ``asyncio.sleep`` and an
``httpx.AsyncClient``. So retries behave the same in both.

Retries (see ``ticker_publishers.retry``): connection failures, lost answers, ``429`` (waiting its
``Retry-After``), ``502``/``503``/``504``. They never duplicate anything:

- every publish carries an ``Idempotency-Key`` (yours, or one made for this call and reused on
  each of its retries), so a retry after a lost ``201`` gets the same item back (``200``);
- a correction, retraction, hold or release whose answer was lost (the request may have been
  applied) is not simply sent again: the item is read first, and if it already has the requested
  values (or is already retracted, held, released) that item is the result. Pinning and
  unpinning are idempotent and simply sent again.
"""

from __future__ import annotations

import asyncio
import random
import time
import unicodedata
import uuid
from collections.abc import AsyncGenerator, Callable, Generator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar, overload
from urllib.parse import quote

import httpx
import msgspec
from msgspec import UNSET, UnsetType

from ticker_publishers.errors import TickerError, Unavailable, error_for
from ticker_publishers.retry import (
    RETRY_STATUSES,
    OnRetry,
    RetryInfo,
    RetryPolicy,
    parse_retry_after,
)
from ticker_publishers.sse import SseParser, StreamEvent, StreamProtocolError, decode
from ticker_publishers.wire import Event, FeedInfo, Item, Tombstone

__all__ = [
    "AsyncTicker",
    "EventsPage",
    "Latest",
    "RetryPolicy",
    "StreamEvent",
    "Ticker",
    "When",
    "new_idempotency_key",
    "rfc3339",
]

USER_AGENT = "ticker-publishers/0.1"
DEFAULT_TIMEOUT = 10.0
STREAM_IDLE_TIMEOUT = 60.0  # the server pings an idle stream every 25 s; 60 s of silence: reconnect
DEFAULT_RETRY = RetryPolicy()
STREAM_RETRY = RetryPolicy(attempts=10, backoff=0.5, max_backoff=30.0)

# the request surely never reached the server: safe to send again whatever it was
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
# no point in trying again: the URL or the request itself is wrong
_PERMANENT = (httpx.UnsupportedProtocol, httpx.LocalProtocolError)


class Latest(msgspec.Struct, frozen=True, kw_only=True):
    """``GET …/items``: the latest items, newest last, and the cursor live events continue from."""

    feed: str
    cursor: str
    items: list[Item]


class EventsPage(msgspec.Struct, frozen=True, kw_only=True):
    """``GET …/items?since=C``: the events after ``C``, oldest first.

    ``recovered`` is false when ``C`` is no longer retained: ``events`` is then empty and
    ``items`` holds the latest items to start over with.
    """

    feed: str
    recovered: bool
    cursor: str
    events: list[Event]
    items: list[Item] = []


class PinState(msgspec.Struct, frozen=True, kw_only=True):
    """``PUT``/``DELETE …/pin``: the feed and its pinned item (``None``: none)."""

    feed: str
    pinned: Item | None


When = datetime | str
"""A time for ``embargoed_until`` / ``expires``: an aware ``datetime`` (a naive one is taken as
local time) or an RFC 3339 string, sent as it is."""


def rfc3339(when: When) -> str:
    """``when`` as the API takes it: RFC 3339, UTC, milliseconds."""
    if isinstance(when, str):
        return when
    return when.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


_item = msgspec.json.Decoder(Item)
_encoder = msgspec.json.Encoder()
_tombstone = msgspec.json.Decoder(Tombstone)
_pin_state = msgspec.json.Decoder(PinState)
_latest = msgspec.json.Decoder(Latest)
_page = msgspec.json.Decoder(EventsPage)
_feeds = msgspec.json.Decoder(list[FeedInfo])


def new_idempotency_key() -> str:
    """A fresh key for one logical publish (printable ASCII, as the server requires)."""
    return f"tp-{uuid.uuid4().hex}"


def _path(*parts: str) -> str:
    return "/api/v1/feeds/" + "/".join(quote(p, safe="") for p in parts)


# -- plans: the retry logic, without I/O -----------------------------------------------------------


@dataclass(frozen=True)
class _Send:
    method: str
    path: str
    content: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class _Sleep:
    seconds: float


_Reply = httpx.Response | httpx.TransportError
_Plan = Generator[_Send | _Sleep, _Reply | None, httpx.Response]


@dataclass(frozen=True)
class _Check:
    """How to tell, after a lost answer, whether a non-idempotent request was applied."""

    send: _Send
    settled: Callable[[Item], bool]


def _transport_error(exc: httpx.TransportError, url: str) -> TickerError:
    name = type(exc).__name__
    if isinstance(exc, _PERMANENT):
        error = TickerError(f"{name}: {exc}")
    else:
        error = Unavailable(f"cannot reach {url}: {name}: {exc or 'no details'}")
    error.__cause__ = exc
    return error


def _plan(send: _Send, *, operation: str, url: str, policy: RetryPolicy, rng: random.Random,
          on_retry: OnRetry | None, check: _Check | None = None) -> _Plan:
    maybe_applied = False  # an earlier try may have reached the server

    def settled(reply: _Reply | None) -> bool:
        if check is None or not isinstance(reply, httpx.Response) or reply.status_code != 200:
            return False
        return check.settled(_item.decode(reply.content))

    for attempt in range(1, policy.attempts + 1):
        if maybe_applied and check is not None:
            reply = yield check.send
            if settled(reply):
                assert isinstance(reply, httpx.Response)
                return reply
        reply = yield send
        assert reply is not None
        retry_after: float | None = None
        status = 0
        if isinstance(reply, httpx.Response):
            if reply.is_success:
                return reply
            status = reply.status_code
            retry_after = parse_retry_after(reply.headers.get("retry-after"))
            error = error_for(status, reply.headers.get("content-type", ""), reply.content,
                              retry_after)
            if status == 409 and maybe_applied and check is not None:
                again = yield check.send
                if settled(again):
                    assert isinstance(again, httpx.Response)
                    return again
            if status not in RETRY_STATUSES:
                raise error
        else:
            error = _transport_error(reply, url)
            if isinstance(reply, _PERMANENT):
                raise error
            if not isinstance(reply, _NOT_SENT):
                maybe_applied = True
        delay = policy.delay(attempt - 1, retry_after, rng) if attempt < policy.attempts else None
        if delay is None:
            if attempt > 1:
                error.args = (f"{error.args[0]} (after {attempt} attempts)",)
            raise error
        if on_retry is not None:
            on_retry(RetryInfo(operation, attempt, delay, str(error.args[0]), status, retry_after))
        yield _Sleep(delay)
    raise AssertionError("unreachable: the last attempt always returns or raises")


_TIMES = ("embargoed_until", "expires")


def _lifecycle(fields: Mapping[str, When | None], *, keep_none: bool = False) -> dict[str, Any]:
    """``embargoed_until``, ``expires`` (as RFC 3339) and ``note``, leaving out the unset ones
    (``keep_none``: ``None`` is sent, to clear the field)."""
    out: dict[str, Any] = {}
    for name, value in fields.items():
        if value is None:
            if keep_none:
                out[name] = None
        else:
            out[name] = rfc3339(value) if name in _TIMES else value
    return out


def _same_time(have: str | None, want: str | None) -> bool:
    if have is None or want is None:
        return have == want
    try:
        return datetime.fromisoformat(have) == datetime.fromisoformat(want)
    except ValueError:
        return have == want


def _matches(item: Item, wanted: Mapping[str, Any]) -> bool:
    """Does ``item`` already hold the corrected values (as the server would store them)?"""
    for name, value in wanted.items():
        have = getattr(item, name)
        if name in _TIMES:
            if not _same_time(have, value):
                return False
            continue
        if name in ("text", "source", "note") and isinstance(value, str):
            value = unicodedata.normalize("NFC", value).strip() or None
        elif name == "regions":
            value = list(dict.fromkeys(value))
        if have != value:
            return False
    return True


# -- the resumable event stream, without I/O -------------------------------------------------------


class _Resume:
    """One ``events()`` iteration: the cursor to resume from and the reconnection budget."""

    def __init__(self, feed: str, since: str | None, params: dict[str, str], url: str,
                 policy: RetryPolicy, rng: random.Random, on_retry: OnRetry | None) -> None:
        self.path = _path(feed, "events")
        self.last_id = since
        self.params = params
        self.url = url
        self.policy = policy
        self.rng = rng
        self.on_retry = on_retry
        self.failures = 0  # consecutive connections that brought no event
        self.parser = SseParser()

    def request(self) -> _Send:
        headers = {"Accept": "text/event-stream", "Cache-Control": "no-cache"}
        if self.last_id is not None:
            headers["Last-Event-ID"] = self.last_id
        return _Send("GET", self.path, headers=headers, params=self.params)

    def opened(self) -> None:
        self.parser = SseParser()
        self.parser.last_id = self.last_id

    def line(self, line: str) -> StreamEvent | None:
        message = self.parser.feed(line)
        if message is None:
            return None
        self.last_id = message.id  # only a dispatched message moves the resume point
        try:
            event = decode(message)
        except StreamProtocolError as exc:
            raise TickerError(f"{self.url}: {exc}") from None
        if event is not None:
            self.failures = 0
        return event

    def refused(self, response: httpx.Response) -> float:
        status = response.status_code
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        error = error_for(status, response.headers.get("content-type", ""), response.content,
                          retry_after)
        if status not in RETRY_STATUSES:
            raise error
        return self._again(error, status, retry_after)

    def lost(self, reason: str | httpx.TransportError) -> float:
        if isinstance(reason, httpx.TransportError):
            error = _transport_error(reason, self.url)
            if isinstance(reason, _PERMANENT):
                raise error
        else:
            error = Unavailable(f"{self.url}: {reason}")
        return self._again(error, 0, None)

    def _again(self, error: TickerError, status: int, retry_after: float | None) -> float:
        self.failures += 1
        delay = None
        if self.failures < self.policy.attempts:
            delay = self.policy.delay(self.failures - 1, retry_after, self.rng)
        if delay is None:
            error.args = (f"{error.args[0]} (after {self.failures} attempts to reconnect)",)
            raise error
        if self.on_retry is not None:
            self.on_retry(RetryInfo("events", self.failures, delay, str(error.args[0]), status,
                                    retry_after))
        return delay


# -- the shared front: building calls --------------------------------------------------------------


_T = TypeVar("_T")


class _Base:
    def __init__(self, base_url: str, token: str | None, *, retry: RetryPolicy | None,
                 on_retry: OnRetry | None, seed: int | None) -> None:
        self.base_url = base_url.rstrip("/")
        self.retry = retry or DEFAULT_RETRY
        self.on_retry = on_retry
        self._rng = random.Random(seed)
        self._headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
        if token:
            self._headers["Authorization"] = f"Bearer {token}"

    def _plan(self, send: _Send, operation: str, check: _Check | None = None,
              retry: RetryPolicy | None = None) -> _Plan:
        return _plan(send, operation=operation, url=self.base_url, policy=retry or self.retry,
                     rng=self._rng, on_retry=self.on_retry, check=check)

    @staticmethod
    def _json(body: Mapping[str, Any], headers: Mapping[str, str] | None = None) -> dict[str, Any]:
        return {"content": _encoder.encode(body),
                "headers": {"Content-Type": "application/json", **(headers or {})}}

    def _publish(self, feed: str, text: str, source: str | None, urgency: int | None,
                 category: str | None, regions: Sequence[str] | None, url: str | None,
                 lang: str | None, idempotency_key: str | None,
                 lifecycle: Mapping[str, When | None]) -> _Plan:
        body: dict[str, Any] = {"text": text}
        optional = {"source": source, "urgency": urgency, "category": category, "url": url,
                    "lang": lang, **_lifecycle(lifecycle)}
        body.update({k: v for k, v in optional.items() if v is not None})
        if regions:
            body["regions"] = list(regions)
        key = idempotency_key or new_idempotency_key()
        send = _Send("POST", _path(feed, "items"),
                     **self._json(body, {"Idempotency-Key": key}))
        return self._plan(send, "publish")

    def _correct(self, feed: str, item_id: str, fields: dict[str, Any]) -> _Plan:
        patch = {k: v for k, v in fields.items() if v is not UNSET}
        if not patch:
            raise ValueError("correct() needs at least one field to change")
        patch.update(_lifecycle({k: patch[k] for k in _TIMES if k in patch}, keep_none=True))
        send = _Send("PATCH", _path(feed, "items", item_id), **self._json(patch))
        check = _Check(_Send("GET", _path(feed, "items", item_id)),
                       lambda item: item.status != "canceled" and _matches(item, patch))
        return self._plan(send, "correct", check)

    def _transition(self, feed: str, item_id: str, action: str, status: str) -> _Plan:
        """``hold`` or ``release``: a POST without a body; after a lost answer the item is read,
        and if it already has ``status`` that is the result (a second POST would be a 409)."""
        send = _Send("POST", _path(feed, "items", item_id, action))
        check = _Check(_Send("GET", _path(feed, "items", item_id)),
                       lambda item: item.status == status)
        return self._plan(send, action, check)

    def _pin(self, feed: str, item_id: str | None) -> _Plan:
        if item_id is None:
            return self._plan(_Send("DELETE", _path(feed, "pin")), "unpin")
        return self._plan(_Send("PUT", _path(feed, "pin"), **self._json({"id": item_id})), "pin")

    def _retract(self, feed: str, item_id: str) -> _Plan:
        send = _Send("DELETE", _path(feed, "items", item_id))
        check = _Check(_Send("GET", _path(feed, "items", item_id)),
                       lambda item: item.status == "canceled")
        return self._plan(send, "retract", check)

    def _items(self, feed: str, since: str | None, limit: int | None) -> _Plan:
        params: dict[str, str] = {}
        if since is not None:
            params["since"] = since
        if limit is not None:
            params["limit"] = str(limit)
        return self._plan(_Send("GET", _path(feed, "items"), params=params), "read")

    def _resume(self, feed: str, since: str | None, categories: Sequence[str] | None,
                regions: Sequence[str] | None, max_urgency: int | None,
                retry: RetryPolicy | None) -> _Resume:
        params: dict[str, str] = {}
        if categories:
            params["categories"] = ",".join(categories)
        if regions:
            params["regions"] = ",".join(regions)
        if max_urgency is not None:
            params["max_urgency"] = str(max_urgency)
        return _Resume(feed, since, params, self.base_url, retry or STREAM_RETRY, self._rng,
                       self.on_retry)

    @staticmethod
    def _stream_timeout(timeout: float, idle: float) -> httpx.Timeout:
        return httpx.Timeout(timeout, read=idle)


def _read(response: httpx.Response) -> Item | Tombstone:
    """A read by id: the whole item, or (held or retracted, read without a token for its feed)
    its tombstone."""
    try:
        return _item.decode(response.content)
    except msgspec.DecodeError:
        return _decode(_tombstone, response)


def _decode(decoder: msgspec.json.Decoder[_T], response: httpx.Response) -> _T:
    try:
        return decoder.decode(response.content)
    except msgspec.DecodeError as exc:
        raise TickerError(f"unexpected answer from {response.request.url}: {exc}",
                          status=response.status_code) from None


# -- blocking --------------------------------------------------------------------------------------


class Ticker(_Base):
    """A blocking client. Use it as a context manager, or call ``close()``.

    ``retry`` sets the policy for every call (``ticker_publishers.retry.NO_RETRY`` to fail fast);
    ``on_retry`` is told about each retry before its wait; ``transport`` replaces httpx's (tests,
    proxies, mounts).
    """

    def __init__(self, base_url: str, token: str | None = None, *,
                 timeout: float = DEFAULT_TIMEOUT, retry: RetryPolicy | None = None,
                 on_retry: OnRetry | None = None, transport: httpx.BaseTransport | None = None,
                 seed: int | None = None) -> None:
        super().__init__(base_url, token, retry=retry, on_retry=on_retry, seed=seed)
        self.timeout = timeout
        self._http = httpx.Client(base_url=self.base_url, headers=self._headers,
                                  timeout=timeout, transport=transport)

    def __enter__(self) -> Ticker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _run(self, plan: _Plan) -> httpx.Response:
        reply: _Reply | None = None
        try:
            while True:
                action = plan.send(reply)
                if isinstance(action, _Sleep):
                    time.sleep(action.seconds)
                    reply = None
                    continue
                try:
                    reply = self._http.request(action.method, action.path,
                                               content=action.content, headers=action.headers,
                                               params=action.params)
                except httpx.TransportError as exc:
                    reply = exc
        except StopIteration as stop:
            response: httpx.Response = stop.value
            return response

    def publish(self, feed: str, text: str, *, source: str | None = None,
                urgency: int | None = None, category: str | None = None,
                regions: Sequence[str] | None = None, url: str | None = None,
                lang: str | None = None, idempotency_key: str | None = None,
                embargoed_until: When | None = None, expires: When | None = None,
                note: str | None = None) -> Item:
        """Publish one item; retried safely under one ``Idempotency-Key``.

        ``embargoed_until`` in the future: the item is ``scheduled`` and goes live by itself
        then; ``expires``: it leaves the air then; ``note``: for the desk, never public.
        """
        times = {"embargoed_until": embargoed_until, "expires": expires, "note": note}
        return _decode(_item, self._run(self._publish(
            feed, text, source, urgency, category, regions, url, lang, idempotency_key, times)))

    def correct(self, feed: str, item_id: str, *, text: str | UnsetType = UNSET,
                source: str | UnsetType | None = UNSET, urgency: int | UnsetType = UNSET,
                category: str | UnsetType | None = UNSET,
                regions: Sequence[str] | UnsetType = UNSET,
                url: str | UnsetType | None = UNSET,
                expires: When | UnsetType | None = UNSET,
                embargoed_until: When | UnsetType | None = UNSET,
                note: str | UnsetType | None = UNSET) -> Item:
        """Correct the given fields (``None`` clears an optional one); the item as it now is.

        ``embargoed_until`` may change only while the item is ``scheduled`` or ``submitted``.
        """
        fields = {"text": text, "source": source, "urgency": urgency, "category": category,
                  "regions": list(regions) if not isinstance(regions, UnsetType) else UNSET,
                  "url": url, "expires": expires, "embargoed_until": embargoed_until,
                  "note": note}
        return _decode(_item, self._run(self._correct(feed, item_id, fields)))

    def retract(self, feed: str, item_id: str) -> Item:
        """Retract (kill) an item; the canceled item."""
        return _decode(_item, self._run(self._retract(feed, item_id)))

    def hold(self, feed: str, item_id: str) -> Item:
        """Take a ``usable`` item off the air while it is checked (editors); ``withheld``."""
        return _decode(_item, self._run(self._transition(feed, item_id, "hold", "withheld")))

    def release(self, feed: str, item_id: str) -> Item:
        """Put a ``withheld`` item back on the air, in its place (editors); ``usable``."""
        return _decode(_item, self._run(self._transition(feed, item_id, "release", "usable")))

    def pin(self, feed: str, item_id: str) -> Item:
        """Make a ``usable`` item the feed's pinned item (editors); the pinned item."""
        state = _decode(_pin_state, self._run(self._pin(feed, item_id)))
        if state.pinned is None:
            raise TickerError(f"the server pinned nothing for {item_id}", status=200)
        return state.pinned

    def unpin(self, feed: str) -> None:
        """Leave the feed without a pinned item (editors)."""
        self._run(self._pin(feed, None))

    def item(self, feed: str, item_id: str) -> Item | Tombstone:
        """One item, retracted and held ones too. Without a token valid for the feed, a
        ``withheld`` or ``canceled`` item is a ``Tombstone`` (no text, source, url or note)."""
        plan = self._plan(_Send("GET", _path(feed, "items", item_id)), "read")
        return _read(self._run(plan))

    @overload
    def items(self, feed: str, *, limit: int | None = None) -> Latest: ...

    @overload
    def items(self, feed: str, *, since: str, limit: int | None = None) -> EventsPage: ...

    def items(self, feed: str, *, since: str | None = None,
              limit: int | None = None) -> Latest | EventsPage:
        """Without ``since``: the latest items. With it: the events after that cursor."""
        response = self._run(self._items(feed, since, limit))
        return _decode(_latest, response) if since is None else _decode(_page, response)

    def feeds(self) -> list[FeedInfo]:
        """The configured feeds."""
        return _decode(_feeds, self._run(self._plan(_Send("GET", "/api/v1/feeds"), "read")))

    def events(self, feed: str, *, since: str | None = None,
               categories: Sequence[str] | None = None, regions: Sequence[str] | None = None,
               max_urgency: int | None = None, retry: RetryPolicy | None = None,
               idle_timeout: float = STREAM_IDLE_TIMEOUT) -> Generator[StreamEvent, None, None]:
        """The feed's live events, over SSE, resuming after the last cursor seen on reconnect.

        Without ``since`` (or when it is no longer retained) the stream starts with
        ``Subscribed(recovered=False)`` and a ``Snapshot``; after a reconnection it continues with
        ``Subscribed(recovered=True)`` and exactly the events missed, or, if the server lost its
        history meanwhile, with a new ``Snapshot`` to start over from. Gives up with
        ``Unavailable`` after ``retry.attempts`` reconnections in a row that brought nothing.
        """
        resume = self._resume(feed, since, categories, regions, max_urgency, retry)
        timeout = self._stream_timeout(self.timeout, idle_timeout)
        while True:
            send = resume.request()
            try:
                with self._http.stream(send.method, send.path, params=send.params,
                                       headers=send.headers, timeout=timeout) as response:
                    if response.status_code != 200:
                        response.read()
                        delay = resume.refused(response)
                    else:
                        resume.opened()
                        for line in response.iter_lines():
                            event = resume.line(line)
                            if event is not None:
                                yield event
                        delay = resume.lost("the stream ended")
            except httpx.TransportError as exc:
                delay = resume.lost(exc)
            time.sleep(delay)


# -- asyncio ---------------------------------------------------------------------------------------


class AsyncTicker(_Base):
    """The same client for asyncio. ``async with AsyncTicker(url, token) as ticker: ...``"""

    def __init__(self, base_url: str, token: str | None = None, *,
                 timeout: float = DEFAULT_TIMEOUT, retry: RetryPolicy | None = None,
                 on_retry: OnRetry | None = None,
                 transport: httpx.AsyncBaseTransport | None = None,
                 seed: int | None = None) -> None:
        super().__init__(base_url, token, retry=retry, on_retry=on_retry, seed=seed)
        self.timeout = timeout
        self._http = httpx.AsyncClient(base_url=self.base_url, headers=self._headers,
                                       timeout=timeout, transport=transport)

    async def __aenter__(self) -> AsyncTicker:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _run(self, plan: _Plan) -> httpx.Response:
        reply: _Reply | None = None
        try:
            while True:
                action = plan.send(reply)
                if isinstance(action, _Sleep):
                    await asyncio.sleep(action.seconds)
                    reply = None
                    continue
                try:
                    reply = await self._http.request(action.method, action.path,
                                                     content=action.content,
                                                     headers=action.headers,
                                                     params=action.params)
                except httpx.TransportError as exc:
                    reply = exc
        except StopIteration as stop:
            response: httpx.Response = stop.value
            return response

    async def publish(self, feed: str, text: str, *, source: str | None = None,
                      urgency: int | None = None, category: str | None = None,
                      regions: Sequence[str] | None = None, url: str | None = None,
                      lang: str | None = None, idempotency_key: str | None = None,
                      embargoed_until: When | None = None, expires: When | None = None,
                      note: str | None = None) -> Item:
        """Publish one item; retried safely under one ``Idempotency-Key``.

        ``embargoed_until`` in the future: the item is ``scheduled`` and goes live by itself
        then; ``expires``: it leaves the air then; ``note``: for the desk, never public.
        """
        times = {"embargoed_until": embargoed_until, "expires": expires, "note": note}
        return _decode(_item, await self._run(self._publish(
            feed, text, source, urgency, category, regions, url, lang, idempotency_key, times)))

    async def correct(self, feed: str, item_id: str, *, text: str | UnsetType = UNSET,
                      source: str | UnsetType | None = UNSET, urgency: int | UnsetType = UNSET,
                      category: str | UnsetType | None = UNSET,
                      regions: Sequence[str] | UnsetType = UNSET,
                      url: str | UnsetType | None = UNSET,
                      expires: When | UnsetType | None = UNSET,
                      embargoed_until: When | UnsetType | None = UNSET,
                      note: str | UnsetType | None = UNSET) -> Item:
        """Correct the given fields (``None`` clears an optional one); the item as it now is.

        ``embargoed_until`` may change only while the item is ``scheduled`` or ``submitted``.
        """
        fields = {"text": text, "source": source, "urgency": urgency, "category": category,
                  "regions": list(regions) if not isinstance(regions, UnsetType) else UNSET,
                  "url": url, "expires": expires, "embargoed_until": embargoed_until,
                  "note": note}
        return _decode(_item, await self._run(self._correct(feed, item_id, fields)))

    async def retract(self, feed: str, item_id: str) -> Item:
        """Retract (kill) an item; the canceled item."""
        return _decode(_item, await self._run(self._retract(feed, item_id)))

    async def hold(self, feed: str, item_id: str) -> Item:
        """Take a ``usable`` item off the air while it is checked (editors); ``withheld``."""
        return _decode(_item, await self._run(self._transition(feed, item_id, "hold", "withheld")))

    async def release(self, feed: str, item_id: str) -> Item:
        """Put a ``withheld`` item back on the air, in its place (editors); ``usable``."""
        return _decode(_item, await self._run(self._transition(feed, item_id, "release", "usable")))

    async def pin(self, feed: str, item_id: str) -> Item:
        """Make a ``usable`` item the feed's pinned item (editors); the pinned item."""
        state = _decode(_pin_state, await self._run(self._pin(feed, item_id)))
        if state.pinned is None:
            raise TickerError(f"the server pinned nothing for {item_id}", status=200)
        return state.pinned

    async def unpin(self, feed: str) -> None:
        """Leave the feed without a pinned item (editors)."""
        await self._run(self._pin(feed, None))

    async def item(self, feed: str, item_id: str) -> Item | Tombstone:
        """One item, retracted and held ones too. Without a token valid for the feed, a
        ``withheld`` or ``canceled`` item is a ``Tombstone`` (no text, source, url or note)."""
        plan = self._plan(_Send("GET", _path(feed, "items", item_id)), "read")
        return _read(await self._run(plan))

    @overload
    async def items(self, feed: str, *, limit: int | None = None) -> Latest: ...

    @overload
    async def items(self, feed: str, *, since: str, limit: int | None = None) -> EventsPage: ...

    async def items(self, feed: str, *, since: str | None = None,
                    limit: int | None = None) -> Latest | EventsPage:
        """Without ``since``: the latest items. With it: the events after that cursor."""
        response = await self._run(self._items(feed, since, limit))
        return _decode(_latest, response) if since is None else _decode(_page, response)

    async def feeds(self) -> list[FeedInfo]:
        """The configured feeds."""
        plan = self._plan(_Send("GET", "/api/v1/feeds"), "read")
        return _decode(_feeds, await self._run(plan))

    async def events(self, feed: str, *, since: str | None = None,
                     categories: Sequence[str] | None = None,
                     regions: Sequence[str] | None = None, max_urgency: int | None = None,
                     retry: RetryPolicy | None = None, idle_timeout: float = STREAM_IDLE_TIMEOUT,
                     ) -> AsyncGenerator[StreamEvent, None]:
        """As ``Ticker.events``. Close it when done early: ``contextlib.aclosing(...)``."""
        resume = self._resume(feed, since, categories, regions, max_urgency, retry)
        timeout = self._stream_timeout(self.timeout, idle_timeout)
        while True:
            send = resume.request()
            try:
                async with self._http.stream(send.method, send.path, params=send.params,
                                             headers=send.headers,
                                             timeout=timeout) as response:
                    if response.status_code != 200:
                        await response.aread()
                        delay = resume.refused(response)
                    else:
                        resume.opened()
                        async for line in response.aiter_lines():
                            event = resume.line(line)
                            if event is not None:
                                yield event
                        delay = resume.lost("the stream ended")
            except httpx.TransportError as exc:
                delay = resume.lost(exc)
            await asyncio.sleep(delay)
