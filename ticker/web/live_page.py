"""The HTML of ``/live/{feed}``: the latest items as semantic HTML with their JSON-LD.

A pure function of a feed's state and the public base URL, so the same state renders the same
bytes on every node (the ETag is a hash of them). Item text is only ever text: every value goes
through ``html.escape`` (in elements and attributes) or, inside the JSON-LD block, through a JSON
encoding that escapes ``<``, ``>`` and ``&`` so no item can end the ``<script>`` element.

The list sits inside ``<breaking-ticker mode="list">``: without JavaScript the browser shows the
list as it is; with it, the widget takes over in place (it shows this markup through a slot until
its first snapshot — the same items — arrives) and stays live.
"""

from __future__ import annotations

import html
from datetime import UTC, datetime
from pathlib import Path
from string import Template
from typing import Any, NamedTuple
from urllib.parse import quote

from ticker import codec
from ticker.config import FeedConfig
from ticker.model import Item

TEMPLATE = Template(
    (Path(__file__).resolve().parent.parent / "templates" / "live.html").read_text("utf-8"))
HEADLINE_MAX = 110  # schema.org/Google: a headline longer than this is cut
DESCRIPTION_MAX = 200
# The few words of the page itself, by the feed's language (item text is never translated).
WORDS = {
    "en": {"live": "Live", "pinned": "Pinned", "none": "Nothing has been published yet.",
           "updated": "Updated", "feeds": "Follow", "embed": "Embed this ticker",
           "story": "Full story"},
    "ar": {"live": "مباشر", "pinned": "مثبّت", "none": "لم يُنشر شيء بعد.",
           "updated": "آخر تحديث", "feeds": "تابِع", "embed": "ضمّن هذا الشريط",
           "story": "القصة كاملة"},
    "es": {"live": "En directo", "pinned": "Fijado", "none": "Todavía no se ha publicado nada.",
           "updated": "Actualizado", "feeds": "Seguir", "embed": "Insertar este ticker",
           "story": "Noticia completa"},
}


class LiveView(NamedTuple):
    """What the page shows: the pinned item (if any) and the others, newest first."""

    feed: FeedConfig
    items: list[Item]
    pinned: Item | None
    cursor: str
    updated: str | None  # RFC 3339 time of the feed's latest change, if known


class Urls(NamedTuple):
    page: str
    atom: str
    json: str
    embed: str
    oembed: str


def urls(base: str, feed: str) -> Urls:
    page = f"{base}live/{feed}"
    return Urls(page=page, atom=f"{base}feeds/{feed}.atom", json=f"{base}feeds/{feed}.json",
                embed=f"{base}embed/{feed}",
                oembed=f"{base}oembed?url={quote(page, safe='')}&format=json")


def oembed_link(base: str, page: str, title: str) -> str:
    """The oEmbed discovery ``<link>`` (also on ``/embed/{feed}``)."""
    href = f"{base}oembed?url={quote(page, safe='')}&format=json"
    return (f'<link rel="alternate" type="application/json+oembed" href="{_a(href)}" '
            f'title="{_a(title)}">')


def _t(text: str) -> str:
    return html.escape(text, quote=False)


def _a(text: str) -> str:
    return html.escape(text, quote=True)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def attributed(item: Item) -> str:
    return f"{item.source}: {item.text}" if item.source else item.text


def _shown_time(stamp: str) -> str:
    moment = datetime.fromisoformat(stamp.replace("Z", "+00:00")).astimezone(UTC)
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def words(feed: FeedConfig) -> dict[str, str]:
    return WORDS.get(feed.lang.split("-")[0].lower(), WORDS["en"])


def _article(item: Item, feed: FeedConfig, pinned: bool) -> str:
    w = words(feed)
    flash = item.urgency <= 2
    classes = " ".join(c for c in ("flash" if flash else "", "pinned" if pinned else "") if c)
    lang = f' lang="{_a(item.lang)}"' if item.lang != feed.lang else ""
    label = f'<strong class="label">{_t(w["pinned"])}</strong> ' if pinned else ""
    source = f'<b class="src">{_t(item.source)}</b>: ' if item.source else ""
    link = (f'<a class="story" href="{_a(item.url)}" rel="noopener">{_t(w["story"])}</a> '
            if item.url else "")
    return (
        f'<li id="item-{_a(item.id)}"{f" class={chr(34)}{classes}{chr(34)}" if classes else ""}>'
        f'<article data-id="{_a(item.id)}" data-version="{item.version}"'
        f' data-urgency="{item.urgency}"{lang}>'
        f'<h2>{label}{source}<bdi class="txt">{_t(item.text)}</bdi></h2>{link}'
        f'<time datetime="{_a(item.published_at)}">{_t(_shown_time(item.published_at))}</time>'
        "</article></li>"
    )


def json_ld(view: LiveView, links: Urls) -> dict[str, Any]:
    """schema.org ``LiveBlogPosting`` with one ``BlogPosting`` per item shown."""
    feed = view.feed
    shown = ([view.pinned] if view.pinned else []) + view.items
    updates = []
    for item in shown:
        update: dict[str, Any] = {
            "@type": "BlogPosting",
            "@id": f"{links.page}#item-{item.id}",
            "headline": _cut(attributed(item), HEADLINE_MAX),
            "articleBody": attributed(item),
            "datePublished": item.published_at,
            "dateModified": item.updated_at,
            "inLanguage": item.lang,
        }
        if item.url:
            update["url"] = item.url
        updates.append(update)
    document: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "LiveBlogPosting",
        "@id": links.page,
        "url": links.page,
        "headline": feed.title,
        "inLanguage": feed.lang,
        "publisher": {"@type": "Organization", "name": feed.title},
        "liveBlogUpdate": updates,
    }
    if shown:
        document["coverageStartTime"] = min(item.published_at for item in shown)
        document["datePublished"] = document["coverageStartTime"]
    if view.updated:
        document["dateModified"] = view.updated
    return document


def _script_json(value: Any) -> str:
    """JSON safe inside a ``<script>`` element: no ``</script>``, no ``<!--``."""
    text = codec.encode(value).decode()
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def render(view: LiveView, base: str, limit: int) -> bytes:
    """The page; ``limit`` is how many items the live widget keeps once it takes over."""
    feed = view.feed
    w = words(feed)
    links = urls(base, feed.id)
    shown = ([view.pinned] if view.pinned else []) + view.items
    description = _cut(attributed(shown[0]), DESCRIPTION_MAX) if shown else w["none"]
    articles = [_article(view.pinned, feed, True)] if view.pinned else []
    articles += [_article(item, feed, False) for item in view.items]
    updated = (f'<p class="updated">{_t(w["updated"])} <time datetime="{_a(view.updated)}">'
               f"{_t(_shown_time(view.updated))}</time></p>" if view.updated else "")
    page = TEMPLATE.substitute(
        lang=_a(feed.lang), dir=_a(feed.direction), title=_t(f"{feed.title} — {w['live']}"),
        og_title=_a(f"{feed.title} — {w['live']}"), description=_a(description),
        locale=_a(feed.lang.replace("-", "_")), site=_a(feed.title),
        page=_a(links.page), atom=_a(links.atom), json=_a(links.json), embed=_a(links.embed),
        oembed=oembed_link(base, links.page, feed.title),
        json_ld=_script_json(json_ld(view, links)),
        heading=_t(feed.title), live=_t(w["live"]), updated=updated, feed=_a(feed.id),
        cursor=_a(view.cursor), limit=str(limit),
        items="\n".join(articles) if articles else f'<li class="none">{_t(w["none"])}</li>',
        follow=_t(w["feeds"]), embed_label=_t(w["embed"]),
    )
    return page.encode("utf-8")
