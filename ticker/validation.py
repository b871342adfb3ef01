"""Decoding and validating request bodies, reporting every failing field in one go.

msgspec stops at the first error, so a typed decode alone cannot list every failing field. Bodies
are small and publishing is not the hot path, so the body is decoded to plain JSON once and then
checked field by field (``msgspec.convert`` per field), collecting ``FieldError(path, message)``
for each, so one ``422`` lists everything the client must fix.

Text rules (``text`` and ``source``): NFC-normalised, trimmed; rejected if they contain control
characters (C0/C1, including newlines and tabs), bidi embedding/override/isolate controls
(U+202A–U+202E, U+2066–U+2069: the ticker isolates text itself), invisible characters that hide
or spoof content (U+200B, U+2060–U+2064, U+FEFF, U+180E), lone surrogates, private-use or
unassigned code points. ZWJ/ZWNJ (U+200C/U+200D) and the directional marks LRM/RLM/ALM are
allowed: Arabic, Persian and emoji need them.

Times (``embargoed_until``, ``expires``) are RFC 3339 with a time zone; they are normalised to
UTC with milliseconds (``2026-05-01T12:00:00.000Z``), the form the server stamps. ``expires``
must lie in the future, and after ``embargoed_until`` when both are given; ``embargoed_until``
may lie in the past (the item is then published at once).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import msgspec

from ticker.config import FeedConfig, Limits
from ticker.errors import InvalidInput, MalformedJSON
from ticker.model import FieldError, Filter, PatchBody, PinBody, PublishBody
from ticker.stamp import ms_of, now_ms, rfc3339

_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_INVISIBLE = frozenset("\u200b\u2060\u2061\u2062\u2063\u2064\ufeff\u180e")
# Patterns are used with ``fullmatch``: ``$`` would also match before a final newline.
_LANG = re.compile(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8}){0,4}")
_WHOLE_NUMBER = re.compile(r"[0-9]{1,18}")  # ASCII digits only: ``str.isdigit`` accepts "²"
_RFC3339 = re.compile(
    r"(\d{4}-\d{2}-\d{2})[Tt](\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:\d{2})")
_ITEM_ID = re.compile(r"[0-9a-f]{1,64}")
_json = msgspec.json.Decoder()
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _text_problem(text: str) -> str | None:
    for index, char in enumerate(text):
        if char in _BIDI_CONTROLS:
            return f"bidi control character U+{ord(char):04X} at position {index} is not allowed"
        if char in _INVISIBLE:
            return f"invisible character U+{ord(char):04X} at position {index} is not allowed"
        category = unicodedata.category(char)
        if category == "Cc":
            return f"control character U+{ord(char):04X} at position {index} is not allowed"
        if category in ("Cs", "Co", "Cn"):
            return f"code point U+{ord(char):04X} at position {index} is not allowed"
    return None


def clean_text(value: str, *, limit: int, required: bool) -> tuple[str | None, str | None]:
    """NFC-normalise and trim; return (value, None) or (None, reason)."""
    text = unicodedata.normalize("NFC", value).strip()
    problem = _text_problem(text)
    if problem:
        return None, problem
    if not text:
        return (None, "must not be empty") if required else (None, None)
    if len(text) > limit:
        return None, f"must be at most {limit} characters (got {len(text)})"
    return text, None


def check_url(value: str, limit: int) -> str | None:
    if len(value) > limit:
        return f"must be at most {limit} characters"
    if any(c.isspace() or unicodedata.category(c) == "Cc" for c in value):
        return "must not contain spaces or control characters"
    try:
        parts = urlsplit(value)
    except ValueError:
        return "is not a valid URL"
    if parts.scheme.lower() not in ("http", "https"):
        return "must be an absolute http:// or https:// URL"
    if not parts.hostname:
        return "must name a host"
    return None


def clean_time(value: str | None) -> tuple[str | None, str | None]:
    """An RFC 3339 time with a zone → (UTC with milliseconds, None), or (None, reason)."""
    if value is None:
        return None, None
    match = _RFC3339.fullmatch(value)
    if not match:
        return None, "must be an RFC 3339 time with a time zone, e.g. 2026-05-01T12:00:00Z"
    if int(match.group(1)[:4]) < 1970:
        return None, "must not be before 1970"
    day, clock, fraction, zone = match.groups()
    zone = "+00:00" if zone in ("Z", "z") else zone
    try:
        moment = datetime.fromisoformat(f"{day}T{clock}.{(fraction or '').ljust(6, '0')[:6]}{zone}")
        return rfc3339((moment - _EPOCH) // timedelta(milliseconds=1)), None
    except (ValueError, OverflowError, OSError):
        return None, "is not a valid date and time (up to year 9999, UTC)"


class _Collector:
    """Gathers field errors and cleaned values for one body."""

    def __init__(self, raw: dict[str, Any]) -> None:
        self.raw = raw
        self.errors: list[FieldError] = []
        self.values: dict[str, Any] = {}

    def fail(self, path: str, message: str) -> None:
        self.errors.append(FieldError(path=path, message=message))

    def typed(self, name: str, kind: Any) -> tuple[bool, Any]:
        """Convert ``raw[name]`` to ``kind``; record a type error under ``$.name[...]``."""
        if name not in self.raw:
            return False, None
        value = self.raw[name]
        try:
            return True, msgspec.convert(value, kind)
        except msgspec.ValidationError as exc:
            self.fail(f"$.{name}", str(exc))
            return False, None


def _decode_object(body: bytes) -> dict[str, Any]:
    try:
        raw = _json.decode(body)
    except msgspec.DecodeError as exc:
        raise MalformedJSON(f"the body is not valid JSON: {exc}") from None
    except RecursionError:  # msgspec's guard against deep nesting; no body needs it
        raise MalformedJSON("the body is nested too deeply") from None
    if not isinstance(raw, dict):
        raise InvalidInput([FieldError(path="$", message="must be a JSON object")])
    return raw


def _check_fields(col: _Collector, feed: FeedConfig, limits: Limits, *, partial: bool,
                  allowed: tuple[str, ...]) -> None:
    for key in col.raw:
        if key not in allowed:
            col.fail(f"$.{key}", "is not a known field")
    rules: dict[str, tuple[Any, Callable[[Any], tuple[Any, str | None]]]] = {
        "text": (str, lambda v: clean_text(v, limit=limits.text_max, required=True)),
        "source": (str | None, lambda v: (None, None) if v is None
                   else clean_text(v, limit=limits.source_max, required=False)),
        "urgency": (int, lambda v: (v, None) if 1 <= v <= 9
                    else (None, "must be between 1 (flash) and 9 (lowest)")),
        "category": (str | None, lambda v: _member(v, feed.categories, "category")),
        "regions": (list, lambda v: (v, None)),  # checked by _check_regions
        "url": (str | None, lambda v: (v, None) if v is None else
                ((None, err) if (err := check_url(v, limits.url_max)) else (v, None))),
        "lang": (str | None, lambda v: (v, None) if v is None or _LANG.fullmatch(v)
                 else (None, "must be a BCP 47 language tag such as 'en' or 'ar-LB'")),
        "embargoed_until": (str | None, clean_time),
        "expires": (str | None, clean_time),
        "note": (str | None, lambda v: (None, None) if v is None
                 else clean_text(v, limit=limits.note_max, required=False)),
    }
    for name in allowed:
        if name not in col.raw:
            if name == "text" and not partial:
                col.fail("$.text", "is required")
            continue
        kind, rule = rules[name]
        if name == "regions":
            _check_regions(col, feed, limits)
            continue
        ok, value = col.typed(name, kind)
        if not ok:
            continue
        cleaned, problem = rule(value)
        if problem:
            col.fail(f"$.{name}", problem)
        else:
            col.values[name] = cleaned


def _member(value: str | None, allowed: list[str], what: str) -> tuple[str | None, str | None]:
    if value is None or value in allowed:
        return value, None
    return None, f"unknown {what} {value!r}; one of: {', '.join(allowed)}"


def _check_regions(col: _Collector, feed: FeedConfig, limits: Limits) -> None:
    """Each element on its own path, so every bad region is listed."""
    values = col.raw["regions"]
    if not isinstance(values, list):
        col.fail("$.regions", "must be a list of region names")
        return
    good = True
    if len(values) > limits.regions_max:
        col.fail("$.regions", f"at most {limits.regions_max} regions")
        good = False
    for index, value in enumerate(values):
        if not isinstance(value, str):
            col.fail(f"$.regions[{index}]", "must be a string")
            good = False
        elif value not in feed.regions:
            col.fail(f"$.regions[{index}]",
                     f"unknown region {value!r}; one of: {', '.join(feed.regions)}")
            good = False
    if good:
        col.values["regions"] = list(dict.fromkeys(values))


_PUBLISH_FIELDS = ("text", "source", "urgency", "category", "regions", "url", "lang",
                   "embargoed_until", "expires", "note")
_PATCH_FIELDS = ("text", "source", "urgency", "category", "regions", "url", "expires",
                 "embargoed_until", "note")


def check_times(embargoed_until: str | None, expires: str | None, now: int | None = None,
                path: str = "$.expires") -> str | None:
    """Why ``expires`` cannot be used with ``embargoed_until`` at ``now`` (ms), or ``None``."""
    if expires is None:
        return None
    if ms_of(expires) <= (now_ms() if now is None else now):
        return "must be in the future"
    if embargoed_until is not None and ms_of(expires) <= ms_of(embargoed_until):
        return "must be after embargoed_until"
    return None


def _check_times(col: _Collector) -> None:
    if "expires" in col.values:
        problem = check_times(col.values.get("embargoed_until"), col.values["expires"])
        if problem:
            col.fail("$.expires", problem)


def decode_publish(body: bytes, feed: FeedConfig, limits: Limits) -> PublishBody:
    """Decode and validate a publish body; raise ``MalformedJSON`` or ``InvalidInput``."""
    col = _Collector(_decode_object(body))
    _check_fields(col, feed, limits, partial=False, allowed=_PUBLISH_FIELDS)
    _check_times(col)
    if col.errors:
        raise InvalidInput(col.errors)
    return msgspec.convert(col.values, PublishBody)


def decode_patch(body: bytes, feed: FeedConfig, limits: Limits) -> PatchBody:
    """Decode and validate a correction; at least one field must be given."""
    col = _Collector(_decode_object(body))
    _check_fields(col, feed, limits, partial=True, allowed=_PATCH_FIELDS)
    _check_times(col)
    if not col.errors and not col.raw:
        col.fail("$", f"give at least one of: {', '.join(_PATCH_FIELDS)}")
    if col.errors:
        raise InvalidInput(col.errors)
    return msgspec.convert(col.values, PatchBody)


def decode_pin(body: bytes) -> PinBody:
    """``{"id": ITEM_ID}`` for ``PUT …/pin``."""
    col = _Collector(_decode_object(body))
    for key in col.raw:
        if key != "id":
            col.fail(f"$.{key}", "is not a known field")
    ok, value = col.typed("id", str)
    if "id" not in col.raw:
        col.fail("$.id", "is required")
    elif ok and not _ITEM_ID.fullmatch(value):
        col.fail("$.id", "must be an item id as the server assigned it")
    if col.errors:
        raise InvalidInput(col.errors)
    return PinBody(id=value)


def query_int(params: Mapping[str, str], name: str, low: int, high: int) -> int | None:
    """The whole number in query parameter ``name`` (``None`` when absent), from ``low`` to
    ``high``; anything else is ``422`` naming ``query.<name>``."""
    text = params.get(name)
    if text is None:
        return None
    if not _WHOLE_NUMBER.fullmatch(text) or not low <= int(text) <= high:
        raise InvalidInput([FieldError(path=f"query.{name}",
                                       message=f"must be a whole number from {low} to {high}")])
    return int(text)


def check_filter(flt: Filter | None, feed: FeedConfig, path: str) -> list[FieldError]:
    """Errors in a subscription filter (unknown categories or regions, urgency out of range)."""
    if flt is None:
        return []
    errors = [FieldError(path=f"{path}.categories[{i}]", message=f"unknown category {c!r}")
              for i, c in enumerate(flt.categories or []) if c not in feed.categories]
    errors += [FieldError(path=f"{path}.regions[{i}]", message=f"unknown region {r!r}")
               for i, r in enumerate(flt.regions or []) if r not in feed.regions]
    if flt.max_urgency is not None and not 1 <= flt.max_urgency <= 9:
        errors.append(FieldError(path=f"{path}.max_urgency", message="must be between 1 and 9"))
    return errors
