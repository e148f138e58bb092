"""The public JSON API in Statuspage's v2 shapes (no authentication).

The paths sit at the origin root: the official status widget replaces the path of the URL it is
given with ``/api/v2/summary.json``. Bodies are built once per endpoint and page version for
every process (``http.cached``) and revalidated by an ETag of that version, so monitors polling
``summary.json`` cost no database round trip while nothing changes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from flask import Blueprint, Response
from pydantic import BaseModel

from ... import history, page
from ... import incidents as inc
from ... import maintenance as maint
from ...builds import Built
from ...pagecache import Resource
from ...vocabulary import ACTIVE_MAINTENANCE_STATUSES, UPCOMING_MAINTENANCE_STATUSES, IncidentKind
from ..http import JSON, built, cached
from .routes import Route, summary_of
from .schemas import (
    ComponentsResponse,
    Context,
    Incident,
    IncidentsResponse,
    ScheduledMaintenance,
    ScheduledMaintenancesResponse,
    Status,
    StatusResponse,
    SummaryResponse,
    any_component,
)

bp = Blueprint("api", __name__)

ROOT = "/api/v2"
RECENT_LIMIT = 50
ROUTES: list[Route] = []


def route(path: str, response: type[BaseModel]) -> Callable[[Callable[..., Any]], Any]:
    """Declare a public GET at ``/api/v2{path}`` answering with ``response``."""
    def declare(view: Callable[..., Any]) -> Callable[..., Any]:
        """Register ``view`` and list it for the document."""
        bp.add_url_rule(ROOT + path, view_func=view, methods=["GET"])
        ROUTES.append(Route(ROOT + path, ("GET",), f"{bp.name}.{view.__name__}",
                            summary_of(view), response, public=True))
        return view
    return declare


@bp.after_request
def allow_any_origin(response: Response) -> Response:
    """The widget and dashboards fetch the API from other origins."""
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


# --- the endpoints ----------------------------------------------------------------------------

@route("/summary.json", SummaryResponse)
def summary() -> Response:
    """Page, components, unresolved incidents, open maintenance and the rollup status."""
    return _answer("summary", lambda ctx: SummaryResponse(
        page=ctx.page, components=_components(ctx),
        incidents=[Incident.of(i, ctx) for i in inc.open_incidents()],
        scheduled_maintenances=_maintenances(maint.windows(
            (*ACTIVE_MAINTENANCE_STATUSES, *UPCOMING_MAINTENANCE_STATUSES)), ctx),
        status=Status.of(page.snapshot().status)))


@route("/status.json", StatusResponse)
def status() -> Response:
    """The rollup status only."""
    return _answer("status", lambda ctx: StatusResponse(
        page=ctx.page, status=Status.of(page.snapshot().status)))


@route("/components.json", ComponentsResponse)
def components() -> Response:
    """Every component, groups included, in page order."""
    return _answer("components", lambda ctx: ComponentsResponse(
        page=ctx.page, components=_components(ctx)))


@route("/incidents.json", IncidentsResponse)
def incidents() -> Response:
    """The 50 most recent incidents of any status, newest first."""
    return _answer("incidents", lambda ctx: IncidentsResponse(
        page=ctx.page, incidents=[Incident.of(i, ctx) for i in
                                  history.recent(IncidentKind.INCIDENT, RECENT_LIMIT)]))


@route("/incidents/unresolved.json", IncidentsResponse)
def unresolved_incidents() -> Response:
    """Incidents that are investigating, identified or monitoring."""
    return _answer("incidents/unresolved", lambda ctx: IncidentsResponse(
        page=ctx.page, incidents=[Incident.of(i, ctx) for i in inc.open_incidents()]))


@route("/scheduled-maintenances.json", ScheduledMaintenancesResponse)
def scheduled_maintenances() -> Response:
    """The 50 most recent maintenances, completed included, newest first."""
    return _answer("scheduled-maintenances", lambda ctx: ScheduledMaintenancesResponse(
        page=ctx.page, scheduled_maintenances=[
            ScheduledMaintenance.of(m, ctx)
            for m in history.recent(IncidentKind.MAINTENANCE, RECENT_LIMIT)]))


@route("/scheduled-maintenances/upcoming.json", ScheduledMaintenancesResponse)
def upcoming_maintenances() -> Response:
    """Maintenances still scheduled."""
    return _answer("scheduled-maintenances/upcoming", lambda ctx: ScheduledMaintenancesResponse(
        page=ctx.page, scheduled_maintenances=_maintenances(
            maint.windows(UPCOMING_MAINTENANCE_STATUSES), ctx)))


@route("/scheduled-maintenances/active.json", ScheduledMaintenancesResponse)
def active_maintenances() -> Response:
    """Maintenances in progress or verifying."""
    return _answer("scheduled-maintenances/active", lambda ctx: ScheduledMaintenancesResponse(
        page=ctx.page, scheduled_maintenances=_maintenances(
            maint.windows(ACTIVE_MAINTENANCE_STATUSES), ctx)))


# --- building and caching the bodies ----------------------------------------------------------

def _components(ctx: Context) -> list[Any]:
    return [any_component(item, ctx) for item in ctx.items]


def _maintenances(found: Iterable[inc.Incident], ctx: Context) -> list[ScheduledMaintenance]:
    # The domain lists windows soonest first; the API lists the newest first.
    newest = sorted(found, key=lambda m: (m.scheduled_for or m.created_at, m.id), reverse=True)
    return [ScheduledMaintenance.of(m, ctx) for m in newest]


def _answer(name: str, build: Callable[[Context], BaseModel]) -> Response:
    """The endpoint's JSON for the current page version, or a 304 when the client has it;
    the headers the golden answers record stay as they are (``contract``)."""
    return cached(Resource(f"{ROOT}/{name}.json", lambda: _body(build)), contract=True)


def _body(build: Callable[[Context], BaseModel]) -> Built:
    data = build(Context.build()).model_dump(mode="json")
    return built(json.dumps(data, ensure_ascii=False, separators=(",", ":")), JSON)
