"""What other sites and tools embed: status badges, the maintenance calendar and a framable
widget page.

Every answer here is built once per page version (``http.cached``) from the same snapshot as
the status page, so a badge in a README always agrees with the banner. Only ``/embed`` may be shown
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
from ..builds import Built
from ..pagecache import Resource
from ..site import get_page_settings
from ..vocabulary import (
    ComponentStatus,
)
from .http import built, cached

bp = Blueprint("embeds", __name__)

SVG = "image/svg+xml; charset=utf-8"

# --- the URL surface ----------------------------------------------------------------------------

@bp.get("/badge.svg")
def badge() -> Response:
    """The page's overall status as a shields-style badge."""
    return cached(Resource("/badge.svg", lambda: built(
        feeds.page_badge(page.snapshot().status), SVG)))


@bp.get("/components/<int:component_id>/badge.svg")
def component_badge(component_id: int) -> Response:
    """One component's status as a shields-style badge; 404 for an unknown component."""
    return cached(Resource(f"/components/{component_id}/badge.svg",
                           lambda: _component_badge(component_id)))


@bp.get("/favicon.svg")
def favicon() -> Response:
    """The page's icon, with a dot of the current status."""
    return cached(Resource("/favicon.svg", lambda: built(_favicon(), SVG)))


@bp.get("/favicon.ico")
def favicon_ico() -> Response:
    """Where browsers and crawlers look for an icon without asking the page."""
    return redirect(url_for(".favicon"), 301)


@bp.get("/robots.txt")
def robots() -> Response:
    """What crawlers may read: the public pages, not the console or anyone's own links."""
    body = ("User-agent: *\nDisallow: /admin/\nDisallow: /subscriptions/\n"
            "Disallow: /language/\n")
    return cached(Resource("/robots.txt", lambda: built(body, "text/plain; charset=utf-8")))


@bp.get("/maintenance.ics")
def maintenance_calendar() -> Response:
    """Scheduled, running and recently completed maintenance windows as iCalendar."""
    return cached(Resource("/maintenance.ics", lambda: built(
        feeds.maintenance_calendar(), "text/calendar; charset=utf-8",
        headers=(("Content-Disposition", 'inline; filename="maintenance.ics"'),))))


@bp.get("/embed")
def embed() -> Response:
    """A tiny page for an iframe: the overall status and the open incidents."""
    return cached(Resource("/embed", lambda: built(
        render_template("public/embed.html", snap=page.snapshot()))))


def _favicon() -> bytes:
    snap = page.snapshot()
    return feeds.favicon(snap.status, snap.settings.name, get_page_settings().accent_color)


def _component_badge(component_id: int) -> Built:
    snap = page.snapshot()
    shown = {c.id: c for c in snap.components}
    # A component hidden while operational still has a badge; the snapshot lacks only those.
    found = shown.get(component_id) or comp.get_component(component_id)
    return built(feeds.component_badge(found.name, ComponentStatus(found.status)), SVG)


# --- caching and framing ------------------------------------------------------------------------

def init_app(app: Flask) -> None:
    """Register the blueprint."""
    app.register_blueprint(bp)
