"""Public pages: the status page, incident pages, history, feeds."""

from __future__ import annotations

from flask import Blueprint, Flask, Response, abort, current_app, render_template, request

from .. import feeds, page

bp = Blueprint("public", __name__)


@bp.get("/")
def index() -> Response:
    """The status page, answered from the cached snapshot and revalidated by ETag."""
    snap = page.snapshot()
    response = Response(status=304)
    if not request.if_none_match.contains(snap.etag):
        response = Response(_rendered_index(snap))
    response.set_etag(snap.etag)
    response.last_modified = snap.modified_at
    response.cache_control.public = True
    response.cache_control.max_age = current_app.config["PAGE_CACHE_SECONDS"]
    return response.make_conditional(request)


@bp.get("/incidents/<int:incident_id>")
def incident(incident_id: int) -> str:
    """One incident or maintenance with its full timeline."""
    return render_template("public/incident.html", incident=page.incident(incident_id))


@bp.get("/history")
def history() -> str:
    """Past incidents and maintenance by month, a few months per page."""
    number = request.args.get("page", "1")
    if not number.isdigit() or int(number) < 1:
        abort(404)
    return render_template("public/history.html", history=page.history(int(number)))


@bp.get("/history.rss")
def history_rss() -> Response:
    """Incident history as RSS 2.0."""
    return feeds.feed_response("rss")


@bp.get("/history.atom")
def history_atom() -> Response:
    """Incident history as Atom 1.0."""
    return feeds.feed_response("atom")


@bp.get("/components/<int:component_id>/history.rss")
def component_rss(component_id: int) -> Response:
    """One component's incident history as RSS 2.0."""
    return feeds.feed_response("rss", component_id)


@bp.get("/components/<int:component_id>/history.atom")
def component_atom(component_id: int) -> Response:
    """One component's incident history as Atom 1.0."""
    return feeds.feed_response("atom", component_id)


_RENDERED = "statuspage.rendered_index"


def _rendered_index(snap: page.Snapshot) -> str:
    # The page is the same for every visitor until the snapshot changes, so its HTML is kept
    # beside it; a swap of one (snapshot, html) tuple is atomic, so no lock is needed.
    cached = current_app.extensions.get(_RENDERED)
    if cached is None or cached[0] is not snap:
        cached = (snap, render_template("public/index.html", snap=snap))
        current_app.extensions[_RENDERED] = cached
    return cached[1]


def can_subscribe() -> bool:
    """Whether the page offers email subscriptions yet (the button links there)."""
    return "public.subscribe" in current_app.view_functions


def init_app(app: Flask) -> None:
    """Register the blueprint and the template globals its pages use."""
    app.register_blueprint(bp)
    app.add_template_global(can_subscribe, "can_subscribe")
