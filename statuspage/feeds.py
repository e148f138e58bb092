"""What other programs read: the history feeds (RSS and Atom, with feedgen, in Statuspage's
layout), status badges (SVG) and the maintenance calendar (iCalendar). Bytes, not responses:
the views add the caching headers.

A feed has one entry per incident or maintenance, newest first; its content holds every
update, newest first, with the time in the page's time zone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo

from feedgen.feed import FeedGenerator
from icalendar import Calendar, Event
from markupsafe import Markup, escape

from . import history, links, times, vocabulary
from . import maintenance as maint
from .components import Component, PageStatus
from .dbtypes import as_utc, utcnow
from .incidents import Incident
from .site import get_page_settings
from .vocabulary import (
    ACTIVE_MAINTENANCE_STATUSES,
    UPCOMING_MAINTENANCE_STATUSES,
    ComponentStatus,
    IncidentKind,
)

FEED_LIMIT = 50
RECENT_COMPLETED = 25  # finished windows kept in the calendar, newest first
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


def build_feed(kind: str, component: Component | None = None) -> Feed:
    """Render the feed of the most recent incidents and maintenance (of ``component``)."""
    if kind not in CONTENT_TYPES:
        raise ValueError(f"unknown feed kind {kind!r}")
    settings = get_page_settings()
    host = links.host()
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
    fg.link(href=links.feed(kind, component.id if component else None), rel="self")
    fg.link(href=settings.url or links.home(), rel="alternate")
    fg.language("en")
    fg.author(name=settings.name)
    fg.generator("statuspage")
    fg.updated(updated_at)
    fg.lastBuildDate(updated_at)

    zone = settings.zone
    for incident in incidents:
        url = links.incident(incident.id)
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
        paragraphs.append(_paragraph(update.display_at, label, update.body_html, zone))
    if incident.postmortem_published_at is not None:
        paragraphs.append(_paragraph(incident.postmortem_published_at, "Postmortem",
                                     incident.postmortem_html, zone))
    return "".join(reversed(paragraphs))


def _paragraph(at: datetime, label: str, body_html: str | None, zone: tzinfo) -> str:
    html = body_html or ""  # rendered when the body was written
    # The first paragraph of the body joins the heading; blocks after it (lists, quotes,
    # further paragraphs) follow, since a <p> cannot hold them.
    first = _FIRST_PARAGRAPH.match(html)
    head, rest = (first.group(1), html[first.end():]) if first else ("", html.strip())
    heading = Markup("<small>{}</small><br><strong>{}</strong>").format(_local_time(at, zone),
                                                                        label)
    return f"<p>{heading}{' - ' + head if head else ''}</p>{rest}"


def _local_time(value: datetime, zone: tzinfo) -> str:
    return times.local(value, zone, times.DAY_TIME)


def _last_update(incident: Incident) -> datetime:
    times = [incident.updated_at, incident.postmortem_published_at,
             *(u.updated_at for u in incident.updates)]
    return max(as_utc(t) for t in times if t is not None)


# --- badges ---------------------------------------------------------------------------------

# shields.io's colours, by page indicator and by component status.
INDICATOR_COLOURS = {"none": "#4c1", "minor": "#dfb317", "major": "#fe7d37",
                     "critical": "#e05d44", "maintenance": "#007ec6"}
STATUS_COLOURS = {
    ComponentStatus.OPERATIONAL: "#4c1",
    ComponentStatus.DEGRADED_PERFORMANCE: "#dfb317",
    ComponentStatus.PARTIAL_OUTAGE: "#fe7d37",
    ComponentStatus.MAJOR_OUTAGE: "#e05d44",
    ComponentStatus.UNDER_MAINTENANCE: "#007ec6",
}




def page_badge(status: PageStatus) -> bytes:
    """The page's overall status: ``status | All Systems Operational``, by indicator colour."""
    return badge_svg("status", status.description,
                     INDICATOR_COLOURS[str(status.indicator)]).encode()


def component_badge(name: str, status: ComponentStatus) -> bytes:
    """One component's name and status, by status colour."""
    return badge_svg(name, status.label, STATUS_COLOURS[status]).encode()


# Approximate advance widths of Verdana at 11px (shields measures text in this font), so the
# badge fits its text without a browser to measure it.
_WIDTHS = {
    **dict.fromkeys(" ", 3.87), **dict.fromkeys("0123456789", 6.99),
    **dict(zip("abcdefghijklmnopqrstuvwxyz",
               (6.65, 6.82, 5.72, 6.82, 6.55, 3.78, 6.82, 6.96, 3.02, 3.79, 6.45, 3.02, 10.65,
                6.96, 6.68, 6.82, 6.82, 4.69, 5.73, 4.33, 6.96, 6.45, 8.98, 6.45, 6.45, 5.72),
               strict=True)),
    **dict(zip("ABCDEFGHIJKLMNOPQRSTUVWXYZ",
               (7.52, 7.54, 7.68, 8.48, 6.96, 6.32, 8.53, 8.27, 4.63, 5.0, 7.62, 6.12, 9.27,
                8.23, 8.66, 6.63, 8.66, 7.65, 7.52, 6.78, 8.05, 7.52, 10.88, 7.54, 6.77, 7.54),
               strict=True)),
    ".": 3.87, ",": 3.87, ":": 4.57, ";": 4.57, "-": 4.98, "_": 6.99, "(": 5.45, ")": 5.45,
    "/": 4.88, "'": 2.96, '"': 5.05, "&": 7.72, "!": 4.57, "?": 5.94, "|": 4.98, "+": 9.16,
}
_WIDE = 11.0  # CJK and other full-width characters
_OTHER = 7.0


def text_width(text: str) -> float:
    """The approximate width in pixels of ``text`` in Verdana 11px."""
    return sum(_WIDTHS.get(ch, _WIDE if ord(ch) >= 0x2E80 else _OTHER) for ch in text)


def badge_svg(label: str, message: str, colour: str) -> str:
    """A shields.io flat badge: a grey label and a coloured message, text escaped."""
    label_text, message_text = round(text_width(label)), round(text_width(message))
    left, right = label_text + 10, message_text + 10
    width = left + right
    title = escape(f"{label}: {message}")
    label, message = escape(label), escape(message)
    # Text is drawn at 10x and scaled down, as shields does, for crisper glyph placement.
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="20" role="img" '
        f'aria-label="{title}"><title>{title}</title>'
        '<linearGradient id="s" x2="0" y2="100%"><stop offset="0" stop-color="#bbb" '
        'stop-opacity=".1"/><stop offset="1" stop-opacity=".1"/></linearGradient>'
        f'<clipPath id="r"><rect width="{width}" height="20" rx="3" fill="#fff"/></clipPath>'
        f'<g clip-path="url(#r)"><rect width="{left}" height="20" fill="#555"/>'
        f'<rect x="{left}" width="{right}" height="20" fill="{colour}"/>'
        f'<rect width="{width}" height="20" fill="url(#s)"/></g>'
        '<g fill="#fff" text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,'
        'sans-serif" text-rendering="geometricPrecision" font-size="110">'
        f'<text aria-hidden="true" x="{left * 5}" y="150" fill="#010101" fill-opacity=".3" '
        f'transform="scale(.1)" textLength="{label_text * 10}">{label}</text>'
        f'<text x="{left * 5}" y="140" transform="scale(.1)" fill="#fff" '
        f'textLength="{label_text * 10}">{label}</text>'
        f'<text aria-hidden="true" x="{left * 10 + right * 5}" y="150" fill="#010101" '
        f'fill-opacity=".3" transform="scale(.1)" textLength="{message_text * 10}">'
        f'{message}</text>'
        f'<text x="{left * 10 + right * 5}" y="140" transform="scale(.1)" fill="#fff" '
        f'textLength="{message_text * 10}">{message}</text></g></svg>'
    )


# --- the maintenance calendar -------------------------------------------------------------------

def maintenance_calendar(now: datetime | None = None) -> bytes:
    """One VEVENT per maintenance window: open ones and the most recently completed."""
    now = now or utcnow()
    settings = get_page_settings()
    host = links.host()
    calendar = Calendar()
    calendar.add("prodid", "-//statuspage//Maintenance calendar//EN")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", f"{settings.name} maintenance")
    calendar.add("x-wr-timezone", "UTC")
    # Subscribed calendars poll by these hints; an hour keeps them fresh enough for windows.
    calendar.add("refresh-interval", timedelta(hours=1), parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", "PT1H")
    windows = maint.windows((*UPCOMING_MAINTENANCE_STATUSES,
                                *ACTIVE_MAINTENANCE_STATUSES))
    done, _ = history.past(IncidentKind.MAINTENANCE, per_page=RECENT_COMPLETED)
    for maintenance in sorted([*windows, *done], key=lambda m: (m.scheduled_for, m.id)):
        if maintenance.scheduled_for and maintenance.scheduled_until:
            calendar.add_component(_event(maintenance, host, now))
    return calendar.to_ical()


def _event(maintenance: Incident, host: str, now: datetime) -> Event:
    latest = maintenance.updates[0] if maintenance.updates else None
    modified = max(as_utc(maintenance.updated_at),
                   *(as_utc(u.updated_at) for u in maintenance.updates))
    url = links.incident(maintenance.id)
    description = latest.body_text if latest else ""
    event = Event()
    event.add("uid", f"maintenance-{maintenance.id}@{host}")
    event.add("dtstamp", now)
    event.add("dtstart", as_utc(maintenance.scheduled_for))
    event.add("dtend", as_utc(maintenance.scheduled_until))
    event.add("summary", maintenance.name)
    event.add("description", f"{description}\n\n{url}".strip())
    event.add("url", url)
    event.add("status", "CANCELLED" if maintenance.cancelled_at else "CONFIRMED")
    event.add("transp", "TRANSPARENT")  # a window on someone else's system; not busy time
    event.add("created", as_utc(maintenance.created_at))
    event.add("last-modified", modified)
    return event
