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
    render_template,
)

from .. import components as comp
from .. import feeds, page
from ..builds import Built
from ..pagecache import Resource
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
