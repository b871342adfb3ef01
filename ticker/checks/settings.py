"""Checks of the settings alone: the signing secret and the allowed origins."""

from __future__ import annotations

import math
from collections import Counter
from urllib.parse import urlsplit

from ticker.auth import MIN_SECRET_BYTES
from ticker.checks.result import Context, Result, fail, ok, warn

STRONG_BITS = 100  # estimated entropy below which a secret looks guessable or like a placeholder
MAKE_SECRET = "python -c 'import secrets; print(secrets.token_urlsafe(48))'"
PLACEHOLDERS = ("change-me", "changeme", "example", "secret", "password")


def estimated_bits(secret: str) -> float:
    """Shannon entropy of the secret's characters × its length: a generous estimate (it cannot
    see a dictionary word), but it catches repeated characters and short alphabets."""
    counts = Counter(secret)
    total = len(secret)
    per_char = -sum(n / total * math.log2(n / total) for n in counts.values()) if total else 0.0
    return per_char * total


def check_secret(ctx: Context) -> Result:
    secret = ctx.settings.secret
    name = "secret"
    if not secret:
        if ctx.settings.embedded:
            return warn(name, "TICKER_SECRET is not set: the embedded broker makes one per "
                        "process, so every token dies with the process",
                        f"set TICKER_SECRET to at least {MIN_SECRET_BYTES} random bytes "
                        f"({MAKE_SECRET})")
        return fail(name, "TICKER_SECRET is not set, and REDIS_URL is: ticker serve refuses to "
                    "start (every node must check tokens with the same secret)",
                    f"set the same TICKER_SECRET on every node ({MAKE_SECRET})")
    size = len(secret.encode())
    if size < MIN_SECRET_BYTES:
        return fail(name, f"TICKER_SECRET is {size} bytes, fewer than {MIN_SECRET_BYTES}: ticker "
                    "serve refuses it", f"use at least {MIN_SECRET_BYTES} random bytes "
                    f"({MAKE_SECRET})")
    bits = estimated_bits(secret)
    lowered = secret.lower()
    placeholder = next((word for word in PLACEHOLDERS if word in lowered), None)
    if bits < STRONG_BITS or placeholder:
        why = (f"contains {placeholder!r}" if placeholder
               else f"has about {bits:.0f} bits of entropy (repeated or few distinct characters)")
        return warn(name, f"TICKER_SECRET is {size} bytes but {why}: tokens signed with a "
                    "guessable secret can be forged", f"replace it with random bytes "
                    f"({MAKE_SECRET}) and re-issue every token")
    return ok(name, f"TICKER_SECRET is {size} bytes, about {bits:.0f} bits of entropy")


def origin_problem(origin: str) -> str | None:
    """Why ``origin`` can never match a browser's ``Origin`` header, or None."""
    if origin == "*":
        return None
    parts = urlsplit(origin)
    if parts.scheme not in ("http", "https"):
        return "has no http:// or https:// scheme"
    if not parts.hostname:
        return "has no host"
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        return "has a path; an origin is scheme://host[:port] only"
    if origin.endswith("/"):
        return "ends with '/'; browsers send the origin without it"
    return None


def check_origins(ctx: Context) -> Result:
    name = "allowed-origins"
    origins = ctx.settings.allowed_origins
    if not origins or "*" in origins:
        return warn(name, "TICKER_ALLOWED_ORIGINS is unset: any web page may open live streams "
                    "on this service (fine for a trial, not for production)",
                    "set TICKER_ALLOWED_ORIGINS to the sites that embed the widget, e.g. "
                    "https://news.example.org,https://www.example.org")
    bad = [(origin, problem) for origin in origins
           if (problem := origin_problem(origin)) is not None]
    if bad:
        origin, problem = bad[0]
        return fail(name, f"TICKER_ALLOWED_ORIGINS: {origin!r} {problem}, so no browser will "
                    "ever match it", "write each origin as https://host[:port], comma-separated")
    return ok(name, f"live streams are allowed from {len(origins)} origin(s): "
              + ", ".join(origins))
