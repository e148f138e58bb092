"""What other sites and tools embed: status badges, the maintenance calendar and a framable
widget page.

Every answer here follows the page version (ETag) and is read from the same snapshot as the
status page, so a badge in a README always agrees with the banner. Only ``/embed`` may be shown
in a frame (see ``views.init_app``).
"""

from __future__ import annotations

from flask import (
    Blueprint,
    Flask,
    Response,
    redirect,
    render_template,
    url_for,
)

from .. import components as comp
from .. import feeds, page
from ..languages import current_language
from ..site import get_page_settings, page_version
from ..vocabulary import (
    ComponentStatus,
)
from .http import conditional

bp = Blueprint("embeds", __name__)

SVG = "image/svg+xml; charset=utf-8"

# --- the URL surface ----------------------------------------------------------------------------

@bp.get("/badge.svg")
def badge() -> Response:
    """The page's overall status as a shields-style badge."""
    snap = page.snapshot()
    status = snap.status
    return conditional(snap.etag, lambda: feeds.page_badge(status), SVG)


@bp.get("/components/<int:component_id>/badge.svg")
def component_badge(component_id: int) -> Response:
    """One component's status as a shields-style badge; 404 for an unknown component."""
    snap = page.snapshot()
    shown = {c.id: c for c in snap.components}
    # A component hidden while operational still has a badge; the snapshot lacks only those.
    found = shown.get(component_id) or comp.get_component(component_id)
    name, status = found.name, ComponentStatus(found.status)
    return conditional(f"{snap.etag}-c{component_id}",
                      lambda: feeds.component_badge(name, status), SVG)


@bp.get("/favicon.svg")
def favicon() -> Response:
    """The page's icon, with a dot of the current status."""
    snap = page.snapshot()
    settings = get_page_settings()
    return conditional(f"{snap.etag}-{settings.accent_color}", lambda: feeds.favicon(
        snap.status, snap.settings.name, settings.accent_color), SVG)


@bp.get("/favicon.ico")
def favicon_ico() -> Response:
    """Where browsers and crawlers look for an icon without asking the page."""
    return redirect(url_for(".favicon"), 301)


@bp.get("/robots.txt")
def robots() -> Response:
    """What crawlers may read: the public pages, not the console or anyone's own links."""
    body = ("User-agent: *\nDisallow: /admin/\nDisallow: /subscriptions/\n"
            "Disallow: /language/\n")
    return conditional("robots-1", lambda: body, "text/plain; charset=utf-8")


@bp.get("/maintenance.ics")
def maintenance_calendar() -> Response:
    """Scheduled, running and recently completed maintenance windows as iCalendar."""
    response = conditional(f"ics-v{page_version()}", feeds.maintenance_calendar,
                          "text/calendar; charset=utf-8")
    response.headers["Content-Disposition"] = 'inline; filename="maintenance.ics"'
    return response


@bp.get("/embed")
def embed() -> Response:
    """A tiny page for an iframe: the overall status and the open incidents."""
    snap = page.snapshot()
    return conditional(f"{snap.etag}-{current_language()}",
                       lambda: render_template("public/embed.html", snap=snap),
                       "text/html; charset=utf-8")


# --- caching and framing ------------------------------------------------------------------------

def init_app(app: Flask) -> None:
    """Register the blueprint."""
    app.register_blueprint(bp)
