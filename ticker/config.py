"""Settings: environment variables plus an optional TOML file, read once at start-up.

Nothing reads the environment after this module has built a ``Settings``; the object is passed
down explicitly. Precedence: environment > TOML file (``TICKER_CONFIG``) > defaults.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from typing import Literal
from urllib.parse import urlsplit

import msgspec

DEFAULT_CATEGORIES = [
    "politics", "economy", "sports", "arts-culture", "health", "miscellaneous", "technology",
    "environment",
]
DEFAULT_REGIONS = [
    "africa", "asia", "asia-pacific", "europe", "latin-america", "mena", "palestine", "us-canada",
]
FEED_ID = re.compile(r"[a-z0-9-]{1,32}")  # used with fullmatch, like every pattern here
RATE = re.compile(r"\s*([0-9]+)\s*/\s*(second|minute|hour|s|m|h)\s*")
_PERIODS = {"second": 1, "s": 1, "minute": 60, "m": 60, "hour": 3600, "h": 3600}


class ConfigError(Exception):
    """The configuration cannot be used; the message says which setting and why."""


class FeedConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    id: str
    title: str
    lang: str
    direction: Literal["ltr", "rtl"] = "ltr"
    categories: list[str] = msgspec.field(default_factory=lambda: list(DEFAULT_CATEGORIES))
    regions: list[str] = msgspec.field(default_factory=lambda: list(DEFAULT_REGIONS))


def default_feeds() -> list[FeedConfig]:
    return [
        FeedConfig(id="en", title="Breaking news", lang="en", direction="ltr"),
        FeedConfig(id="ar", title="عاجل", lang="ar", direction="rtl"),
        FeedConfig(id="es", title="Última hora", lang="es", direction="ltr"),
    ]


class Limits(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    text_max: int = 400
    source_max: int = 120
    note_max: int = 500
    regions_max: int = 8
    url_max: int = 2048
    body_max: int = 16 * 1024
    frame_max: int = 16 * 1024
    snapshot_size: int = 20
    latest_max: int = 100
    ring_size: int = 1000
    outbox_max_bytes: int = 1024 * 1024
    subscriptions_per_connection: int = 16
    connections_per_ip: int = 0
    frames_per_second: float = 10.0
    frame_burst: int = 30
    header_max_bytes: int = 16 * 1024
    header_max_count: int = 100
    ping_idle_seconds: float = 25.0
    fragments_max: int = 32  # frames in one client WebSocket message
    pong_timeout_seconds: float = 20.0  # a WebSocket ping unanswered this long closes (1011)
    header_timeout_seconds: float = 10.0  # to send a request line and headers (else 408)
    write_timeout_seconds: float = 30.0  # an SSE chunk not taken by the client this long: cut
    # Items readable by id: kept while their last event is among this many latest events of
    # their feed (never fewer than ``history``) or they are among the latest; 0 keeps all.
    item_retention: int = 10_000


DEFAULT_PUSH_SERVICES = [  # the browsers' push services (Chrome, Firefox, Safari, Edge)
    "https://fcm.googleapis.com", "https://updates.push.services.mozilla.com",
    "https://web.push.apple.com", "https://*.notify.windows.com",
]


class WebhookConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``[[webhooks]]`` in ``TICKER_CONFIG``: one endpoint that receives a feed's events."""

    url: str
    name: str | None = None  # for logs, metrics and ``ticker webhooks test``; default: URL host
    secret: str  # "whsec_" + base64
    feeds: list[str]
    events: list[str] | None = None  # event types; None: every type


class Settings(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    host: str = "127.0.0.1"
    port: int = 8000
    broker_url: str = "memory://"
    secret: str | None = None
    allowed_origins: list[str] | None = None
    public_url: str | None = None  # e.g. https://ticker.example.com: links in feeds and OpenAPI
    history: int = 1000
    publish_rate: str = "120/minute"
    redis_prefix: str = "ticker:"
    drain_seconds: float = 10.0
    feeds: list[FeedConfig] = msgspec.field(default_factory=default_feeds)
    limits: Limits = msgspec.field(default_factory=Limits)
    push_services: list[str] = msgspec.field(default_factory=lambda: list(DEFAULT_PUSH_SERVICES))
    push_key_file: str | None = None  # VAPID key file (embedded; see docs/push.md)
    push_contact: str = "mailto:ticker@localhost"  # VAPID ``sub``: how push services reach you
    push_subscriptions_max: int = 1_000_000  # per feed; past it, subscribing answers 503
    outbound_allow: list[str] = []  # private networks outbound requests may reach
    webhooks: list[WebhookConfig] = []
    webhook_park_after: int = 10  # failed attempts in a row before an endpoint is parked

    @property
    def embedded(self) -> bool:
        return self.broker_url.startswith("memory:")

    def feed(self, feed_id: str) -> FeedConfig | None:
        for feed in self.feeds:
            if feed.id == feed_id:
                return feed
        return None

    @property
    def item_retention(self) -> int:
        """Events an item outlives in the items store (0: forever); at least ``history``, so
        every event in the log names an item that can still be read."""
        kept = self.limits.item_retention
        return 0 if kept == 0 else max(kept, self.history)

    def rate(self) -> tuple[int, float]:
        """The publish rate as (count, period in seconds)."""
        return parse_rate(self.publish_rate)


def parse_rate(text: str) -> tuple[int, float]:
    match = RATE.fullmatch(text)
    if not match or int(match.group(1)) < 1:
        raise ConfigError(f"TICKER_PUBLISH_RATE: {text!r} is not like '120/minute'")
    return int(match.group(1)), float(_PERIODS[match.group(2)])


_ENV = {
    "HOST": "host",
    "PORT": "port",
    "REDIS_URL": "broker_url",
    "TICKER_SECRET": "secret",
    "TICKER_ALLOWED_ORIGINS": "allowed_origins",
    "TICKER_PUBLIC_URL": "public_url",
    "TICKER_HISTORY": "history",
    "TICKER_PUBLISH_RATE": "publish_rate",
    "TICKER_REDIS_PREFIX": "redis_prefix",
    "TICKER_DRAIN_SECONDS": "drain_seconds",
    "TICKER_PUSH_SERVICES": "push_services",
    "TICKER_PUSH_KEY_FILE": "push_key_file",
    "TICKER_PUSH_CONTACT": "push_contact",
    "TICKER_OUTBOUND_ALLOW": "outbound_allow",
}
_LISTS = ("allowed_origins", "push_services", "outbound_allow")
_LIMITS_ENV = {"TICKER_ITEM_RETENTION": "item_retention"}  # settings under ``limits``


def load_settings(env: Mapping[str, str] | None = None, **overrides: object) -> Settings:
    """Build the settings from ``env`` (default: ``os.environ``), the TOML file, and overrides."""
    env = os.environ if env is None else env
    raw: dict[str, object] = {}
    path = env.get("TICKER_CONFIG")
    if path:
        try:
            with open(path, "rb") as fh:
                raw.update(tomllib.load(fh))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"TICKER_CONFIG={path}: {exc}") from exc
    for name, key in _ENV.items():
        value = env.get(name)
        if value is None or value == "":
            continue
        if key in _LISTS:
            raw[key] = [o.strip() for o in value.split(",") if o.strip()]
        elif key in ("port", "history"):
            raw[key] = _int(name, value)
        elif key == "drain_seconds":
            raw[key] = _float(name, value)
        else:
            raw[key] = value
    for name, key in _LIMITS_ENV.items():
        value = env.get(name)
        if value:
            limits = raw.get("limits")
            raw["limits"] = {**(limits if isinstance(limits, dict) else {}), key: _int(name, value)}
    raw.update({k: v for k, v in overrides.items() if v is not None})
    try:
        settings = msgspec.convert(raw, Settings)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"configuration: {exc}") from exc
    _check(settings)
    return settings


def _int(name: str, value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise ConfigError(f"{name}: {value!r} is not a whole number") from None


def _float(name: str, value: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise ConfigError(f"{name}: {value!r} is not a number") from None


def _check(settings: Settings) -> None:
    if not settings.feeds:
        raise ConfigError("feeds: at least one feed must be configured")
    seen: set[str] = set()
    for feed in settings.feeds:
        if not FEED_ID.fullmatch(feed.id):
            raise ConfigError(f"feeds: {feed.id!r} is not [a-z0-9-]{{1,32}}")
        if feed.id in seen:
            raise ConfigError(f"feeds: {feed.id!r} is configured twice")
        seen.add(feed.id)
    if settings.history < 1:
        raise ConfigError("TICKER_HISTORY: must be at least 1")
    if settings.limits.item_retention < 0:
        raise ConfigError("TICKER_ITEM_RETENTION (limits.item_retention): must be 0 (keep every "
                          "item) or a number of events")
    if not (0 < settings.port < 65536):
        raise ConfigError(f"PORT: {settings.port} is not a TCP port")
    parse_rate(settings.publish_rate)
    if settings.public_url is not None:
        _check_public_url(settings.public_url)
    from ticker.reach.settings import check_reach

    check_reach(settings)
    scheme = settings.broker_url.split("://", 1)[0]
    if scheme not in ("memory", "redis", "rediss", "unix", "redis+cluster", "rediss+cluster"):
        raise ConfigError(f"REDIS_URL: unsupported scheme {scheme!r} (use redis://, rediss:// "
                          "or, for Redis Cluster, redis+cluster://)")


def _check_public_url(url: str) -> None:
    try:
        parts = urlsplit(url)
    except ValueError:
        parts = None
    if (parts is None or parts.scheme not in ("http", "https") or not parts.hostname
            or parts.query or parts.fragment or any(c.isspace() for c in url)):
        raise ConfigError(f"TICKER_PUBLIC_URL: {url!r} is not an absolute http:// or https:// "
                          "URL without query or fragment (e.g. https://ticker.example.com)")
