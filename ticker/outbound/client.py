"""The service's one outbound HTTP client, shared by push and webhooks.

Every request: the URL's origin must be in the caller's allowed list (``OriginList``), the
connection goes only to a checked address (``network``), redirects are never followed (a ``3xx``
is an answer like any other: the caller treats it as a failure), and one overall deadline covers
connect, send, answer and body — not only each read. Concurrency is bounded by a semaphore and
the pool's connection limit, so a push to 100,000 subscribers queues instead of opening 100,000
sockets (the connections are spread over several small pools, see ``POOL_SIZE``). The
environment's proxy settings are ignored (``trust_env=False``): the checked address
is the one connected to.
"""

from __future__ import annotations

import asyncio
import itertools
import ssl
from collections.abc import Mapping
from dataclasses import dataclass

import httpcore
import httpx

from .network import AsyncResolver, GuardedAsyncBackend
from .rules import AddressRules, OriginList, Refused

ANSWER_MAX = 4096  # bytes of an answer body kept (for logs); the rest is read and dropped
POOL_SIZE = 8  # connections per httpx client: httpcore's pool does O(connections × waiting)
               # work per request, so many small pools beat one large one (docs/push.md)


@dataclass(frozen=True)
class Answer:
    status: int
    headers: Mapping[str, str]
    body: bytes


class _GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport on a connection pool whose network backend checks every address."""

    def __init__(self, backend: GuardedAsyncBackend, limits: httpx.Limits,
                 ssl_context: ssl.SSLContext) -> None:
        super().__init__(verify=ssl_context, trust_env=False, limits=limits)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=backend,
        )


class Outbound:
    """One shared client; ``post`` is the only way out."""

    def __init__(self, addresses: AddressRules, *, concurrency: int = 64,
                 deadline: float = 10.0, resolver: AsyncResolver | None = None) -> None:
        self.deadline = deadline
        self._slots = asyncio.Semaphore(concurrency)
        self._backend = GuardedAsyncBackend(addresses, resolver)
        size = min(POOL_SIZE, concurrency)
        tls = httpx.create_ssl_context(trust_env=False)  # one for all pools (loading CAs is slow)
        limits = httpx.Limits(max_connections=size, max_keepalive_connections=size,
                              keepalive_expiry=30.0)
        self._clients = [
            httpx.AsyncClient(transport=_GuardedTransport(self._backend, limits, tls),
                              follow_redirects=False, trust_env=False,
                              timeout=httpx.Timeout(deadline))
            for _ in range(-(-concurrency // size))]
        self._turn = itertools.cycle(self._clients)

    async def aclose(self) -> None:
        for client in self._clients:
            await client.aclose()

    async def vet(self, url: str, origins: OriginList) -> None:
        """Refuse (``Refused``) a URL that ``post`` would refuse for its origin or addresses —
        checked when it is handed in (a push subscription), and again on every send."""
        origin = origins.check(url)
        try:
            async with asyncio.timeout(self.deadline):
                await self._backend.addresses(origin.host, origin.port)
        except TimeoutError:
            raise Refused("unresolvable", f"{origin.host} did not resolve in time") from None

    async def post(self, url: str, origins: OriginList, body: bytes,
                   headers: Mapping[str, str], deadline: float | None = None) -> Answer:
        """POST ``body``; the answer, or ``Refused`` (rules, deadline) or ``httpx.HTTPError``."""
        origins.check(url)
        seconds = self.deadline if deadline is None else deadline
        async with self._slots:
            try:
                async with asyncio.timeout(seconds):
                    return await self._send(url, body, headers)
            except TimeoutError:
                raise Refused("deadline", f"no complete answer within {seconds:g} s") from None

    async def _send(self, url: str, body: bytes, headers: Mapping[str, str]) -> Answer:
        client = next(self._turn)
        async with client.stream("POST", url, content=body, headers=headers) as response:
            kept = bytearray()
            async for chunk in response.aiter_raw():
                if len(kept) < ANSWER_MAX:
                    kept += chunk[:ANSWER_MAX - len(kept)]
            return Answer(response.status_code, dict(response.headers), bytes(kept))
