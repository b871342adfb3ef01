"""Name resolution and connection, checked: httpcore network backends that only ever connect to
an address the rules allow.

The name in the URL is resolved once, *every* address it resolves to is checked (a name that
answers with one public and one private address is refused whole), and the socket is opened to
the checked address itself — not to the name again — so a DNS answer that changes between the
check and the connect (DNS rebinding) cannot slip a private address in. TLS still verifies the
certificate against the name (httpcore passes the URL's host as ``server_hostname``).

``resolver`` is a hook (tests point a name at ``127.0.0.1`` with it); by default the system
resolver (``getaddrinfo``) answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import ipaddress
import socket
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator
from typing import Any

import httpcore

from .rules import AddressRules, IPAddress, Refused

AsyncResolver = Callable[[str, int], Awaitable[list[str]]]
SyncResolver = Callable[[str, int], list[str]]
SocketOptions = Iterable[Any] | None


async def system_resolve(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return _unique(str(info[4][0]) for info in infos)


def system_resolve_sync(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return _unique(str(info[4][0]) for info in infos)


def _unique(addresses: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(addresses))


def _literal(host: str) -> str | None:
    try:
        return str(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        return None


def checked(rules: AddressRules, host: str, addresses: list[str]) -> list[IPAddress]:
    """Every address ``host`` resolved to, each allowed; ``Refused`` if any is not."""
    if not addresses:
        raise Refused("unresolvable", f"{host} resolves to no address")
    return [rules.check(address) for address in addresses]


class GuardedAsyncBackend(httpcore.AsyncNetworkBackend):
    def __init__(self, rules: AddressRules, resolver: AsyncResolver | None = None) -> None:
        self.rules = rules
        self.resolve = resolver or system_resolve
        self._inner = httpcore.AnyIOBackend()

    async def addresses(self, host: str, port: int) -> list[IPAddress]:
        """Every address ``host`` resolves to, each checked; ``Refused`` otherwise."""
        literal = _literal(host)
        if literal is not None:
            return checked(self.rules, host, [literal])
        try:
            return checked(self.rules, host, await self.resolve(host, port))
        except OSError as exc:
            raise Refused("unresolvable", f"{host} cannot be resolved: {exc}") from None

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,  # noqa: ASYNC109 (httpcore interface)
                          local_address: str | None = None,
                          socket_options: SocketOptions = None) -> httpcore.AsyncNetworkStream:
        last: Exception | None = None
        for ip in await self.addresses(host, port):
            try:
                return await self._inner.connect_tcp(str(ip), port, timeout, local_address,
                                                     socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
        assert last is not None
        raise last

    async def connect_unix_socket(self, path: str, timeout: float | None = None,  # noqa: ASYNC109
                                  socket_options: SocketOptions = None
                                  ) -> httpcore.AsyncNetworkStream:
        raise Refused("address", "unix sockets are not reachable")

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


# -- blocking (the bridge) ------------------------------------------------------------------------

_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "outbound_deadline", default=None)


@contextlib.contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Every connect, read and write inside is bounded by one overall deadline: a peer that
    trickles a byte every few seconds cannot stretch a request past it."""
    token = _deadline.set(time.monotonic() + seconds)
    try:
        yield
    finally:
        _deadline.reset(token)


def _bounded(timeout: float | None) -> float | None:
    end = _deadline.get()
    if end is None:
        return timeout
    left = end - time.monotonic()
    if left <= 0:
        raise Refused("deadline", "the overall deadline passed")
    return left if timeout is None else min(timeout, left)


@contextlib.contextmanager
def _deadline_errors() -> Iterator[None]:
    """A timeout cut short by the overall deadline is the deadline's refusal."""
    try:
        yield
    except (httpcore.ReadTimeout, httpcore.WriteTimeout):
        end = _deadline.get()
        if end is not None and time.monotonic() >= end - 0.01:
            raise Refused("deadline", "the overall deadline passed") from None
        raise


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        with _deadline_errors():
            return self._inner.read(max_bytes, _bounded(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        with _deadline_errors():
            self._inner.write(buffer, _bounded(timeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context: Any, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        return _DeadlineStream(self._inner.start_tls(ssl_context, server_hostname,
                                                     _bounded(timeout)))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class GuardedSyncBackend(httpcore.NetworkBackend):
    def __init__(self, rules: AddressRules, resolver: SyncResolver | None = None) -> None:
        self.rules = rules
        self.resolve = resolver or system_resolve_sync
        self._inner = httpcore.SyncBackend()

    def addresses(self, host: str, port: int) -> list[IPAddress]:
        literal = _literal(host)
        if literal is not None:
            return checked(self.rules, host, [literal])
        try:
            return checked(self.rules, host, self.resolve(host, port))
        except OSError as exc:
            raise Refused("unresolvable", f"{host} cannot be resolved: {exc}") from None

    def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                    local_address: str | None = None,
                    socket_options: SocketOptions = None) -> httpcore.NetworkStream:
        last: Exception | None = None
        for ip in self.addresses(host, port):
            try:
                stream = self._inner.connect_tcp(str(ip), port, _bounded(timeout),
                                                 local_address, socket_options)
                return _DeadlineStream(stream)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
        assert last is not None
        raise last

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: SocketOptions = None) -> httpcore.NetworkStream:
        raise Refused("address", "unix sockets are not reachable")

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)
