"""Which URLs and addresses outbound requests may reach.

An *origin pattern* is ``scheme://host[:port]``; ``*.example.com`` matches any name below
``example.com`` (not ``example.com`` itself). Scheme, host and port must all match; the port
defaults to the scheme's (443 for ``https``, 80 for ``http``).

An *address* may be reached when it is globally routable (``ipaddress``'s ``is_global``: not
private, loopback, link-local, shared, reserved or unspecified) and not multicast — unless the
operator lists it, or a network containing it, in the allowed networks (tests list
``127.0.0.1``). IPv4-mapped IPv6 addresses are judged as the IPv4 address they carry.

Standard library only: ``publishers/`` (outside the service) imports this module.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

DEFAULT_PORTS = {"https": 443, "http": 80}
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class Refused(Exception):
    """An outbound request that the rules do not allow, or that ran out of time.

    ``reason``: ``scheme``, ``origin``, ``address``, ``unresolvable``, ``redirect`` or
    ``deadline`` — short, stable, used as a metric label.
    """

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class Origin:
    """A URL's origin: lower-case scheme and host, and the port (explicit or the default)."""

    scheme: str
    host: str
    port: int

    def __str__(self) -> str:
        default = DEFAULT_PORTS.get(self.scheme)
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}" + ("" if self.port == default else f":{self.port}")


def origin_of(url: str) -> Origin:
    """The origin of an absolute ``http``/``https`` URL; ``Refused`` for anything else."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise Refused("scheme", f"not a usable URL: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise Refused("scheme", "only http and https URLs can be reached")
    host = (parts.hostname or "").rstrip(".").lower()
    if not host:
        raise Refused("scheme", "the URL has no host")
    if parts.username is not None or parts.password is not None:
        raise Refused("scheme", "credentials in the URL are not allowed")
    return Origin(scheme, host, port if port is not None else DEFAULT_PORTS[scheme])


@dataclass(frozen=True)
class OriginPattern:
    scheme: str
    host: str  # may start with "*." (any name below the rest)
    port: int

    @classmethod
    def parse(cls, text: str) -> OriginPattern:
        """``https://push.example`` or ``https://*.push.example:8443``; ``ValueError`` otherwise."""
        stripped = text.strip()
        wildcard = "://*." in stripped
        probe = stripped.replace("://*.", "://", 1) if wildcard else stripped
        try:
            origin = origin_of(probe)
        except Refused as exc:
            raise ValueError(f"{text!r} is not an origin: {exc}") from None
        rest = probe.split("://", 1)[1]
        if "/" in rest.rstrip("/") or "?" in rest or "#" in rest:
            raise ValueError(f"{text!r} is not an origin: it has a path")
        host = "*." + origin.host if wildcard else origin.host
        return cls(origin.scheme, host, origin.port)

    def matches(self, origin: Origin) -> bool:
        if origin.scheme != self.scheme or origin.port != self.port:
            return False
        if self.host.startswith("*."):
            return origin.host.endswith(self.host[1:]) and len(origin.host) > len(self.host) - 1
        return origin.host == self.host


class OriginList:
    """The origins a kind of request may go to (``None`` patterns: any origin)."""

    def __init__(self, patterns: list[str] | None) -> None:
        self.patterns = None if patterns is None else [OriginPattern.parse(p) for p in patterns]

    def check(self, url: str) -> Origin:
        """The URL's origin if it is allowed; ``Refused`` otherwise."""
        origin = origin_of(url)
        if self.patterns is not None and not any(p.matches(origin) for p in self.patterns):
            raise Refused("origin", f"{origin} is not an allowed origin")
        return origin


def parse_network(text: str) -> IPNetwork:
    """``10.0.0.0/8``, ``127.0.0.1`` or ``::1``; ``ValueError`` naming the text otherwise."""
    try:
        return ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        raise ValueError(f"{text!r} is not an IP address or network") from None


class AddressRules:
    """Public addresses only, plus the networks the operator lists."""

    def __init__(self, allowed: list[str] | None = None) -> None:
        self.allowed = [parse_network(n) for n in allowed or []]

    def check(self, address: str) -> IPAddress:
        """The address if it may be reached; ``Refused`` naming it otherwise."""
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        judged: IPAddress = ip
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            judged = ip.ipv4_mapped
        if any(judged in net for net in self.allowed):
            return ip
        if not judged.is_global or judged.is_multicast:
            raise Refused("address", f"{judged} is not a public address (not allowed)")
        return ip
