"""What other sites and tools embed: status badges, the maintenance calendar, a framable
widget page, and the OpenAPI document with its human page.

Every answer here follows the page version (ETag) and is read from the same snapshot as the
status page, so a badge in a README always agrees with the banner. Only ``/embed`` may be shown
in a frame; every other response forbids it.
"""

from __future__ import annotations

import importlib.resources
import json
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    render_template,
    request,
    send_from_directory,
)
from icalendar import Calendar, Event
from markupsafe import escape

from .. import components as comp
from .. import history, openapi, page
from .. import maintenance as maint
from ..dbtypes import as_utc, utcnow
from ..incidents import Incident
from ..markup import to_plain_text
from ..site import get_page_settings, page_version
from ..vocabulary import (
    ACTIVE_MAINTENANCE_STATUSES,
    UPCOMING_MAINTENANCE_STATUSES,
    ComponentStatus,
    IncidentKind,
)

bp = Blueprint("embeds", __name__)

FRAMABLE_PATHS = frozenset({"/embed"})
SVG = "image/svg+xml; charset=utf-8"
RECENT_COMPLETED = 25  # finished windows kept in the calendar, newest first
SWAGGER_UI_PACKAGE = "flask_swagger_ui"  # ships Swagger UI 5, the first to read OpenAPI 3.1

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


# --- the URL surface ----------------------------------------------------------------------------

@bp.get("/badge.svg")
def badge() -> Response:
    """The page's overall status as a shields-style badge."""
    snap = page.snapshot()
    status = snap.status
    return _versioned(snap.etag, lambda: badge_svg(
        "status", status.description, INDICATOR_COLOURS[str(status.indicator)]), SVG)


@bp.get("/components/<int:component_id>/badge.svg")
def component_badge(component_id: int) -> Response:
    """One component's status as a shields-style badge; 404 for an unknown component."""
    snap = page.snapshot()
    shown = {c.id: c for c in snap.components}
    # A component hidden while operational still has a badge; the snapshot lacks only those.
    found = shown.get(component_id) or comp.get_component(component_id)
    name, status = found.name, ComponentStatus(found.status)
    return _versioned(f"{snap.etag}-c{component_id}",
                      lambda: badge_svg(name, status.label, STATUS_COLOURS[status]), SVG)


@bp.get("/maintenance.ics")
def maintenance_calendar() -> Response:
    """Scheduled, running and recently completed maintenance windows as iCalendar."""
    response = _versioned(f"ics-v{page_version()}", lambda: build_calendar().to_ical(),
                          "text/calendar; charset=utf-8")
    response.headers["Content-Disposition"] = 'inline; filename="maintenance.ics"'
    return response


@bp.get("/embed")
def embed() -> Response:
    """A tiny page for an iframe: the overall status and the open incidents."""
    snap = page.snapshot()
    return _versioned(snap.etag, lambda: render_template("public/embed.html", snap=snap),
                      "text/html; charset=utf-8")


@bp.get("/api/openapi.json")
def openapi_document() -> Response:
    """The OpenAPI 3.1 document of the public and management APIs."""
    document = openapi.document(request.url_root.rstrip("/"), get_page_settings().name)
    response = Response(json.dumps(document, ensure_ascii=False, indent=1),
                        content_type="application/json")
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.cache_control.public = True
    response.cache_control.max_age = 300
    return response


@bp.get("/api/docs")
def api_docs() -> str:
    """The API reference for people, rendered from the OpenAPI document by Swagger UI."""
    return render_template("public/api_docs.html")


@bp.get("/api/docs/assets/<path:filename>")
def api_docs_asset(filename: str) -> Response:
    """Swagger UI's files, served from the Python package that ships them (no CDN)."""
    folder = Path(str(importlib.resources.files(SWAGGER_UI_PACKAGE) / "dist"))
    return send_from_directory(folder, filename, max_age=86400)


# --- badges -------------------------------------------------------------------------------------

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

def build_calendar(now: datetime | None = None) -> Calendar:
    """One VEVENT per maintenance window: open ones and the most recently completed."""
    now = now or utcnow()
    settings = get_page_settings()
    base_url = current_app.config["BASE_URL"].rstrip("/")
    host = urlsplit(base_url).hostname or "localhost"
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
            calendar.add_component(_event(maintenance, base_url, host, now))
    return calendar


def _event(maintenance: Incident, base_url: str, host: str, now: datetime) -> Event:
    latest = maintenance.updates[0] if maintenance.updates else None
    modified = max(as_utc(maintenance.updated_at),
                   *(as_utc(u.updated_at) for u in maintenance.updates))
    url = f"{base_url}/incidents/{maintenance.id}"
    description = to_plain_text(latest.body) if latest else ""
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


# --- caching and framing ------------------------------------------------------------------------

def _versioned(etag: str, build: Callable[[], str | bytes], content_type: str) -> Response:
    """A public, briefly cached response revalidated by ``etag``; built only when needed."""
    if request.if_none_match.contains(etag):
        response = Response(status=304)
    else:
        response = Response(build(), content_type=content_type)
    response.set_etag(etag)
    response.cache_control.public = True
    response.cache_control.max_age = current_app.config["PAGE_CACHE_SECONDS"]
    return response.make_conditional(request)


def forbid_framing(response: Response) -> Response:
    """Refuse frames everywhere but the embed page (clickjacking on the ops console)."""
    if request.path in FRAMABLE_PATHS:
        response.headers["Content-Security-Policy"] = "frame-ancestors *"
        response.headers.pop("X-Frame-Options", None)
    else:
        response.headers["X-Frame-Options"] = "DENY"
        response.headers.setdefault("Content-Security-Policy", "frame-ancestors 'none'")
    return response


def init_app(app: Flask) -> None:
    """Register the blueprint and the framing policy for every response."""
    app.register_blueprint(bp)
    app.after_request(forbid_framing)
