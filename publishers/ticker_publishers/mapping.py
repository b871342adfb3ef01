"""From a feed entry to a ticker item: clean text, trimmed text, and the mapping rules.

Nothing here does I/O; ``ticker_publishers.bridge`` feeds it what feedparser parsed.

- **text**: the entry's title as plain text (tags dropped from HTML titles, entities decoded),
  NFC-normalised, runs of whitespace (newlines, tabs) made one space, and the characters the
  server rejects removed (control, bidi embedding/override/isolate, invisible, private-use,
  unassigned); then trimmed to the limit at a word boundary with an ellipsis.
- **source**: the configured attribution, else the feed's own title.
- **category / regions / urgency**: the source's defaults, then the rules (the source's own rules
  first, then the global ones). A rule matches when one of its ``keywords`` occurs in the title or
  summary as a whole word or phrase (any case), or one of its ``tags`` is among the entry's
  categories. The first matching rule with a ``category`` sets it (else the source's); regions
  add up (the source's first, at most 8); urgency is the most urgent (lowest) of the source's and
  the matching rules'.
"""

from __future__ import annotations

import hashlib
import html
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from html.parser import HTMLParser
from typing import Any

import msgspec

from ticker_publishers.wire import PublishBody

ELLIPSIS = "…"
REGIONS_MAX = 8
SOURCE_MAX = 120
URL_MAX = 2048
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_INVISIBLE = frozenset("\u200b\u2060\u2061\u2062\u2063\u2064\ufeff\u180e")
_SPACE = re.compile(r"\s+")
_JOINERS = "\u200c\u200d"


class Rule(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """``[[rules]]``: when ``keywords`` or ``tags`` match, set category, regions, urgency."""

    keywords: list[str] = []
    tags: list[str] = []
    category: str | None = None
    regions: list[str] = []
    urgency: int | None = None


class SourceMapping(msgspec.Struct, frozen=True, kw_only=True):
    """What a source contributes to every item from it (see ``bridge.Source``)."""

    source: str | None = None
    category: str | None = None
    regions: list[str] = []
    urgency: int | None = None
    lang: str | None = None
    rules: list[Rule] = []


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def html_to_text(markup: str) -> str:
    """The text of an HTML fragment: tags dropped, entities decoded."""
    parser = _Text()
    parser.feed(markup)
    parser.close()
    return "".join(parser.parts)


def clean(text: str) -> str:
    """Plain, single-line text the server accepts (see the module docstring)."""
    text = unicodedata.normalize("NFC", text)
    kept: list[str] = []
    for char in text:
        if char in _BIDI_CONTROLS or char in _INVISIBLE:
            continue
        category = unicodedata.category(char)
        if category in ("Cc", "Zl", "Zp") or char.isspace():
            kept.append(" ")
        elif category not in ("Cs", "Co", "Cn"):
            kept.append(char)
    return _SPACE.sub(" ", "".join(kept)).strip()


def trim(text: str, limit: int) -> str:
    """``text`` if it fits, else cut at a word boundary to at most ``limit`` with an ellipsis.

    A single word longer than half the limit is cut inside the word rather than drop most of it.
    """
    if len(text) <= limit:
        return text
    if limit <= 1:
        return ELLIPSIS[:limit]
    cut = text[:limit - 1]
    if not text[limit - 1].isspace():  # the cut falls inside a word: go back to its start
        space = cut.rfind(" ")
        if space >= limit // 2:
            cut = cut[:space]
    cut = cut.rstrip(" ,;:-–—" + _JOINERS)
    return cut + ELLIPSIS


def entry_field(entry: Mapping[str, Any], key: str) -> Any:
    """``entry[key]`` or ``None``, without feedparser's deprecated key aliases (and warnings)."""
    return dict.get(entry, key) if isinstance(entry, dict) else entry.get(key)


def entry_text(entry: Mapping[str, Any]) -> str:
    """The entry's title as clean plain text ('' if it has none).

    An HTML title loses its tags; entities are decoded in either kind, since many feeds escape
    their plain-text titles twice (``Tom &amp;amp; Jerry``).
    """
    title = str(entry_field(entry, "title") or "")
    detail = entry_field(entry, "title_detail") or {}
    if "html" in str(detail.get("type", "")):
        title = html_to_text(title)
    return clean(html.unescape(title))


def entry_summary(entry: Mapping[str, Any]) -> str:
    return clean(html_to_text(entry_field(entry, "summary") or ""))


def entry_tags(entry: Mapping[str, Any]) -> list[str]:
    terms: list[str] = []
    for tag in entry_field(entry, "tags") or []:
        term = tag.get("term") or tag.get("label")
        if term:
            terms.append(str(term).strip().lower())
    return terms


def entry_id(entry: Mapping[str, Any]) -> str:
    """The entry's identity: its guid/id, else its link, else a hash of its title and date."""
    for key in ("id", "link"):
        value = entry_field(entry, key)
        if value and str(value).strip():
            return str(value).strip()
    date = entry_field(entry, "published") or entry_field(entry, "updated") or ""
    basis = f"{entry_field(entry, 'title') or ''}\n{date}"
    return "sha256:" + hashlib.sha256(basis.encode()).hexdigest()


def entry_signature(entry: Mapping[str, Any]) -> str:
    """Changes when the entry changes: its title, link or updated date."""
    parts = (entry_field(entry, "title") or "", entry_field(entry, "link") or "",
             entry_field(entry, "updated") or entry_field(entry, "published") or "")
    return hashlib.sha256("\n".join(str(p) for p in parts).encode()).hexdigest()[:32]


def _http_url(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    url = value.strip()
    if (len(url) > URL_MAX or not url.lower().startswith(("http://", "https://"))
            or any(c.isspace() or unicodedata.category(c) == "Cc" for c in url)):
        return None
    return url


def _keyword(word: str) -> re.Pattern[str]:
    return re.compile(r"(?<!\w)" + re.escape(word.strip()) + r"(?!\w)", re.IGNORECASE)


def matching(rules: Iterable[Rule], haystack: str, tags: Sequence[str]) -> list[Rule]:
    found: list[Rule] = []
    for rule in rules:
        if any(t.strip().lower() in tags for t in rule.tags) or any(
                k.strip() and _keyword(k).search(haystack) for k in rule.keywords):
            found.append(rule)
    return found


def to_body(entry: Mapping[str, Any], mapping: SourceMapping, global_rules: Sequence[Rule],
            *, text_limit: int, channel_title: str = "") -> PublishBody | None:
    """The item for ``entry``; ``None`` when it has no usable title."""
    title = entry_text(entry)
    text = trim(title, text_limit)
    if not text:
        return None
    hits = matching([*mapping.rules, *global_rules],
                    f"{title}\n{entry_summary(entry)}", entry_tags(entry))
    category = next((r.category for r in hits if r.category), mapping.category)
    regions = list(dict.fromkeys([*mapping.regions, *(g for r in hits for g in r.regions)]))
    urgencies = [u for u in (mapping.urgency, *(r.urgency for r in hits)) if u is not None]
    source = mapping.source or clean(channel_title) or None
    return PublishBody(
        text=text,
        source=trim(source, SOURCE_MAX) if source else None,
        urgency=min(urgencies) if urgencies else 4,
        category=category,
        regions=regions[:REGIONS_MAX],
        url=_http_url(entry_field(entry, "link")),
        lang=mapping.lang,
    )
