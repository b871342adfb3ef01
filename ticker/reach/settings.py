"""Checks of the push, webhook and outbound settings, called by ``ticker.config`` at load."""

from __future__ import annotations

import base64
import binascii
import re
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from ticker.outbound.rules import OriginList, Refused, origin_of, parse_network

if TYPE_CHECKING:
    from ticker.config import Settings, WebhookConfig

EVENT_TYPE = re.compile(r"^[a-z][a-z-]{0,31}$")
NAME = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def webhook_name(hook: WebhookConfig) -> str:
    """The endpoint's name: configured, or its URL's host."""
    return hook.name or (urlsplit(hook.url).hostname or "webhook")


def webhook_secret(text: str) -> bytes:
    """The key inside ``whsec_<base64>``; ``ValueError`` saying why it is not one."""
    if not text.startswith("whsec_"):
        raise ValueError("must start with 'whsec_'")
    try:
        key = base64.b64decode(text[len("whsec_"):], validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("after 'whsec_' must come base64") from None
    if len(key) < 16:
        raise ValueError("the key must be at least 16 bytes (24 base64 characters)")
    return key


def check_reach(settings: Settings) -> None:
    from ticker.config import ConfigError

    try:
        OriginList(settings.push_services)
    except ValueError as exc:
        raise ConfigError(f"TICKER_PUSH_SERVICES: {exc}") from None
    if not settings.push_contact.startswith(("mailto:", "https://")):
        raise ConfigError("TICKER_PUSH_CONTACT: must be a mailto: or https: URL (RFC 8292)")
    for network in settings.outbound_allow:
        try:
            parse_network(network)
        except ValueError as exc:
            raise ConfigError(f"TICKER_OUTBOUND_ALLOW: {exc}") from None
    if settings.webhook_park_after < 1:
        raise ConfigError("webhook_park_after: must be at least 1")
    names: set[str] = set()
    for number, hook in enumerate(settings.webhooks, start=1):
        where = f"webhooks[{number}]"
        name = webhook_name(hook)
        if not NAME.match(name):
            raise ConfigError(f"{where}.name: {name!r} is not [A-Za-z0-9._-]{{1,64}}")
        if name in names:
            raise ConfigError(f"{where}.name: {name!r} is used twice (name each endpoint)")
        names.add(name)
        try:
            origin_of(hook.url)
        except Refused as exc:
            raise ConfigError(f"{where}.url: {exc}") from None
        try:
            webhook_secret(hook.secret)
        except ValueError as exc:
            raise ConfigError(f"{where}.secret: {exc}") from None
        if not hook.feeds:
            raise ConfigError(f"{where}.feeds: name at least one feed")
        for feed in hook.feeds:
            if settings.feed(feed) is None:
                raise ConfigError(f"{where}.feeds: {feed!r} is not a configured feed")
        for kind in hook.events or []:
            if not EVENT_TYPE.match(kind):
                raise ConfigError(f"{where}.events: {kind!r} is not an event type")
