"""A blocking client with the same rules, for ``ticker-bridge`` (a publisher outside the service).

Redirects may be followed (a feed that moved answers ``301``), but every hop connects through
the same checked backend, so a redirect to an internal address is refused like a direct URL;
``fetching`` puts one overall deadline on a request, its redirects and its body.
"""

from __future__ import annotations

import httpcore
import httpx

from .network import GuardedSyncBackend, SyncResolver, deadline
from .rules import AddressRules

__all__ = ["deadline", "guarded_client"]


class _GuardedSyncTransport(httpx.HTTPTransport):
    def __init__(self, backend: GuardedSyncBackend) -> None:
        super().__init__(trust_env=False)
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False), max_connections=10,
            network_backend=backend)


def guarded_client(addresses: AddressRules, *, timeout: float, headers: dict[str, str],
                   max_redirects: int = 5, resolver: SyncResolver | None = None
                   ) -> httpx.Client:
    """An ``httpx.Client`` that only reaches allowed addresses (each redirect hop too)."""
    transport = _GuardedSyncTransport(GuardedSyncBackend(addresses, resolver))
    return httpx.Client(transport=transport, timeout=timeout, headers=headers,
                        follow_redirects=True, max_redirects=max_redirects, trust_env=False)
