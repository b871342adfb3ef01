"""Checks of Web Push and webhook configuration (CONTRACT.md, "Reach beyond the open page").

These read settings that the push and webhook code adds (``push_services``, ``webhooks``); on a
build without them they report nothing. The settings are read by name, so this module needs no
change when they land; ``ANSWERS`` is where the webhook sender's own signed ping
(``ticker webhooks test``) plugs in instead of the plain reachability probe below.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

import httpx

from ticker.checks.result import Context, Result, fail, ok, warn


def field_of(entry: Any, key: str) -> Any:
    """``entry[key]`` for a table, ``entry.key`` for a settings struct."""
    if isinstance(entry, dict):
        return entry.get(key)
    return getattr(entry, key, None)


def push_service_problem(origin: str) -> str | None:
    """Why ``origin`` is not a push-service origin (``https://host[:port]``, ``*.`` allowed)."""
    host_at = origin.find("://") + 3
    if "*" in origin:
        if host_at < 3 or not origin.startswith("*.", host_at) or origin.count("*") > 1:
            return "may use '*.' only at the start of the host"
        origin = origin[:host_at] + origin[host_at + 2:]
    parts = urlsplit(origin)
    if parts.scheme not in ("https", "http"):
        return "is not an https:// origin"
    if not parts.hostname:
        return "has no host"
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        return "has a path; an origin is scheme://host[:port] only"
    return None


def check_push(ctx: Context) -> list[Result]:
    services = getattr(ctx.settings, "push_services", None)
    if services is None:
        return []  # this build has no Web Push
    name = "push.services"
    listed = [s.strip() for s in services.split(",")] if isinstance(services, str) else services
    listed = [s for s in listed if s]
    bad = [(s, p) for s in listed if (p := push_service_problem(s)) is not None]
    if bad:
        origin, problem = bad[0]
        return [fail(name, f"TICKER_PUSH_SERVICES: {origin!r} {problem}",
                     "list push-service origins as https://host[:port], '*.' wildcards allowed")]
    plain = [s for s in listed if s.startswith("http://")]
    if plain:
        return [warn(name, f"TICKER_PUSH_SERVICES allows plain http: {', '.join(plain)} "
                     "(subscriptions there are sent unencrypted over the network)",
                     "keep http:// origins for tests only")]
    shown = ", ".join(listed) if listed else "the browsers' default push services"
    return [ok(name, f"pushes go only to {shown}")]


def webhook_problem(entry: Any, feeds: set[str]) -> str | None:
    url = str(field_of(entry, "url") or "")
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return f"url {url!r} is not an http(s) URL with a host"
    secret = str(field_of(entry, "secret") or "")
    if not secret.startswith("whsec_"):
        return "secret does not start with 'whsec_' (Standard Webhooks)"
    try:
        if not base64.b64decode(secret.removeprefix("whsec_"), validate=True):
            return "secret is empty after 'whsec_'"
    except (binascii.Error, ValueError):
        return "secret after 'whsec_' is not base64"
    wanted = set(field_of(entry, "feeds") or [])
    unknown = sorted(wanted - feeds - {"*"})
    if not wanted:
        return "feeds is empty"
    if unknown:
        return f"feeds {unknown} are not configured"
    return None


def probe(url: str, timeout: float) -> tuple[bool, str]:
    """Whether anything answers HTTP at ``url`` (a HEAD; any status counts, redirects are not
    followed). The webhook sender's signed ping replaces this through ``ANSWERS``."""
    try:
        response = httpx.head(url, timeout=timeout, follow_redirects=False)
    except httpx.HTTPError as exc:
        return False, f"{type(exc).__name__}: {exc}"
    return response.status_code < 500, f"answered {response.status_code}"


def _answers(entry: Any, timeout: float) -> tuple[bool, str]:
    return probe(str(field_of(entry, "url")), timeout)


ANSWERS: Callable[[Any, float], tuple[bool, str]] = _answers  # the extension point


def check_webhooks(ctx: Context) -> list[Result]:
    hooks: Iterable[Any] | None = getattr(ctx.settings, "webhooks", None)
    if hooks is None:
        return []  # this build has no webhooks
    feeds = {f.id for f in ctx.settings.feeds}
    results = []
    for index, entry in enumerate(hooks):
        label = str(field_of(entry, "name") or urlsplit(str(field_of(entry, "url"))).hostname
                    or index)
        name = f"webhook.{label}"
        problem = webhook_problem(entry, feeds)
        if problem is not None:
            results.append(fail(name, f"[[webhooks]] #{index + 1}: {problem}",
                                "fix the entry in TICKER_CONFIG (docs/webhooks.md)"))
            continue
        answered, how = ANSWERS(entry, ctx.timeout)
        if not answered:
            results.append(warn(name, f"{field_of(entry, 'url')} {how}: events queue up for it "
                                "(retried, then parked) until it answers",
                                "ask the receiver's owner; ticker webhooks test sends a signed "
                                "ping"))
        else:
            results.append(ok(name, f"{field_of(entry, 'url')} {how}"))
    return results
