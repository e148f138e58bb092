"""RSS and Atom feeds of the incident history, built with feedgen, in Statuspage's layout.

One entry per incident or maintenance, newest first; its content holds every update, newest
first, with the time in the page's time zone. Responses carry an ETag from the page version, so
a reader polling an unchanged page gets a 304 without the feed being built.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, tzinfo
from urllib.parse import urlsplit

from feedgen.feed import FeedGenerator
from flask import Response, current_app, request
from markupsafe import Markup

from . import components as comp
from . import history, vocabulary
from .components import Component
from .dbtypes import as_utc
from .incidents import Incident
from .markup import render_markdown
from .site import PageSettings, get_page_settings, page_version

FEED_LIMIT = 50
CONTENT_TYPES = {
    "rss": "application/rss+xml; charset=utf-8",
    "atom": "application/atom+xml; charset=utf-8",
}
_FIRST_PARAGRAPH = re.compile(r"\s*<p>(.*?)</p>\s*", re.S)


@dataclass(frozen=True)
class Feed:
    """A rendered feed and the time of the latest change it shows."""

    body: bytes
    content_type: str
    updated_at: datetime


def feed_response(kind: str, component_id: int | None = None) -> Response:
    """The history feed (``rss`` or ``atom``), whole or of one component, 304 when unchanged."""
    if kind not in CONTENT_TYPES:
        raise ValueError(f"unknown feed kind {kind!r}")
    # Looked up first so that an unknown component is a 404, even for a reader with an ETag.
    component = comp.get_component(component_id) if component_id is not None else None
    etag = f"{kind}-{component_id or 'all'}-v{page_version()}"
    if request.if_none_match.contains(etag):
        response = Response(status=304)
    else:
        feed = build_feed(kind, component)
        response = Response(feed.body, content_type=feed.content_type)
        response.last_modified = feed.updated_at
    response.set_etag(etag)
    response.cache_control.public = True
    response.cache_control.max_age = current_app.config["PAGE_CACHE_SECONDS"]
    return response.make_conditional(request)


def build_feed(kind: str, component: Component | None = None) -> Feed:
    """Render the feed of the most recent incidents and maintenance (of ``component``)."""
    settings = get_page_settings()
    base_url = current_app.config["BASE_URL"].rstrip("/")
    host = urlsplit(base_url).hostname or "localhost"
    incidents = history.latest(FEED_LIMIT, component.id if component else None)
    updated_at = max([as_utc(settings.updated_at or settings.created_at),
                      *(_last_update(i) for i in incidents)])

    if component is None:
        title = f"{settings.name} Status - Incident History"
        path = f"/history.{kind}"
    else:
        title = f"{settings.name} Status - {component.name} Incident History"
        path = f"/components/{component.id}/history.{kind}"

    fg = FeedGenerator()
    fg.id(f"tag:{host},2005:{path.rsplit('.', 1)[0]}")
    fg.title(title)
    fg.description(title)
    # feedgen takes the RSS channel link from the last link given: the page, not the feed.
    fg.link(href=base_url + path, rel="self")
    fg.link(href=_page_url(settings, base_url), rel="alternate")
    fg.language("en")
    fg.author(name=settings.name)
    fg.generator("statuspage")
    fg.updated(updated_at)
    fg.lastBuildDate(updated_at)

    zone = settings.zone
    for incident in incidents:
        url = f"{base_url}/incidents/{incident.id}"
        content = entry_content(incident, zone)
        entry = fg.add_entry(order="append")
        entry.title(incident.name)
        entry.link(href=url, rel="alternate")
        entry.published(as_utc(incident.created_at))
        entry.updated(_last_update(incident))
        if kind == "rss":
            entry.guid(url, permalink=True)
            entry.description(content)
        else:
            entry.id(f"tag:{host},2005:Incident/{incident.id}")
            entry.content(content, type="html")

    body = fg.rss_str(pretty=True) if kind == "rss" else fg.atom_str(pretty=True)
    return Feed(body, CONTENT_TYPES[kind], updated_at)


def entry_content(incident: Incident, zone: tzinfo) -> str:
    """One HTML paragraph per update, newest first, as Statuspage writes its feed entries."""
    paragraphs = []
    previous = None
    # Walk oldest first, so that an update which keeps the status can be labelled "Update".
    for update in reversed(incident.updates):
        label = ("Update" if update.status == previous
                 else vocabulary.STATUS_LABELS.get(update.status, update.status))
        previous = update.status
        paragraphs.append(_paragraph(update.display_at, label, update.body, zone))
    if incident.postmortem_published_at is not None:
        paragraphs.append(_paragraph(incident.postmortem_published_at, "Postmortem",
                                     incident.postmortem_body, zone))
    return "".join(reversed(paragraphs))


def _paragraph(at: datetime, label: str, body: str | None, zone: tzinfo) -> str:
    html = str(render_markdown(body))
    # The first paragraph of the body joins the heading; blocks after it (lists, quotes,
    # further paragraphs) follow, since a <p> cannot hold them.
    first = _FIRST_PARAGRAPH.match(html)
    head, rest = (first.group(1), html[first.end():]) if first else ("", html.strip())
    heading = Markup("<small>{}</small><br><strong>{}</strong>").format(_local_time(at, zone),
                                                                        label)
    return f"<p>{heading}{' - ' + head if head else ''}</p>{rest}"


def _local_time(value: datetime, zone: tzinfo) -> str:
    local = as_utc(value).astimezone(zone)
    return f"{local:%b} {local.day}, {local:%H:%M} {local.tzname()}"


def _last_update(incident: Incident) -> datetime:
    times = [incident.updated_at, incident.postmortem_published_at,
             *(u.updated_at for u in incident.updates)]
    return max(as_utc(t) for t in times if t is not None)


def _page_url(settings: PageSettings, base_url: str) -> str:
    return settings.url or base_url
