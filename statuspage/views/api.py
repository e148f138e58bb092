"""The public JSON API in Statuspage's v2 shapes (no authentication).

The paths sit at the origin root: the official status widget replaces the path of the URL it is
given with ``/api/v2/summary.json``. One serializer per object kind is shared by every endpoint.
Bodies are cached per endpoint and page version, and revalidated by an ETag of that version, so
monitors polling ``summary.json`` cost one cheap query while nothing changes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask import Blueprint, Flask, Response, current_app, request

from .. import components as comp
from .. import history, page
from .. import incidents as inc
from .. import maintenance as maint
from ..components import Component, ComponentGroup, PageStatus
from ..incidents import Incident, IncidentUpdate
from ..site import get_page_settings, page_version
from ..vocabulary import ACTIVE_MAINTENANCE_STATUSES, UPCOMING_MAINTENANCE_STATUSES, IncidentKind
from .filters import iso_utc

bp = Blueprint("api", __name__)

V2 = "/api/v2"
RECENT_LIMIT = 50
_CACHE_KEY = "statuspage.api_v2"


# --- ids ---------------------------------------------------------------------------------------

def component_ref(item: Component | ComponentGroup) -> str:
    """The API id of a component or group; groups are prefixed, as both tables count from 1."""
    return f"g{item.id}" if isinstance(item, ComponentGroup) else str(item.id)


# --- serializers ------------------------------------------------------------------------------

@dataclass
class Context:
    """What every serializer of one response shares: the page and the components' order."""

    page: dict[str, Any]
    base_url: str
    items: list[ComponentGroup | Component] = field(default_factory=list)  # in page order
    positions: dict[str, int] = field(default_factory=dict)

    @property
    def page_id(self) -> str:
        """The page's public id, which every object repeats."""
        return self.page["id"]


def _iso(value: datetime | None) -> str | None:
    return iso_utc(value) if value is not None else None


def serialize_page() -> dict[str, Any]:
    """The page object, identical in every endpoint."""
    settings = get_page_settings()
    return {
        "id": settings.page_code,
        "name": settings.name,
        "url": settings.url or current_app.config["BASE_URL"],
        "time_zone": settings.time_zone,
        "updated_at": _iso(page._last_write()),
    }


def serialize_status(status: PageStatus) -> dict[str, Any]:
    """The rollup indicator and description."""
    return {"indicator": str(status.indicator), "description": status.description}


def serialize_component(component: Component, ctx: Context) -> dict[str, Any]:
    """A component (not a group)."""
    ref = component_ref(component)
    return {
        "id": ref,
        "name": component.name,
        "status": str(component.status),
        "created_at": _iso(component.created_at),
        "updated_at": _iso(component.updated_at),
        "position": ctx.positions.get(ref, component.position),
        "description": component.description,
        "showcase": component.showcase,
        "start_date": component.start_date.isoformat() if component.start_date else None,
        "group_id": component_ref(component.group) if component.group else None,
        "page_id": ctx.page_id,
        "group": False,
        "only_show_if_degraded": component.only_show_if_degraded,
    }


def serialize_group(group: ComponentGroup, ctx: Context) -> dict[str, Any]:
    """A group, in the shape of a component with ``group: true`` and its members' ids."""
    ref = component_ref(group)
    updated = max([group.updated_at, *(c.updated_at for c in group.components)])
    return {
        "id": ref,
        "name": group.name,
        "status": str(group.status),
        "created_at": _iso(group.created_at),
        "updated_at": _iso(updated),
        "position": ctx.positions.get(ref, group.position),
        "description": group.description,
        "showcase": False,
        "start_date": None,
        "group_id": None,
        "page_id": ctx.page_id,
        "group": True,
        "only_show_if_degraded": False,
        "components": [component_ref(c) for c in group.components],
    }


def serialize_update(update: IncidentUpdate) -> dict[str, Any]:
    """An incident update; ``affected_components`` is null when it touched none."""
    affected = [
        {"code": str(a.component_id) if a.component_id is not None else None,
         "name": a.component_name, "old_status": str(a.old_status),
         "new_status": str(a.new_status)}
        for a in update.affected
    ]
    return {
        "id": str(update.id),
        "status": update.status,
        "body": update.body,
        "incident_id": str(update.incident_id),
        "created_at": _iso(update.created_at),
        "updated_at": _iso(update.updated_at),
        "display_at": _iso(update.display_at),
        "affected_components": affected or None,
        "deliver_notifications": update.deliver_notifications,
        "custom_tweet": None,
        "tweet_id": None,
    }


def serialize_incident(incident: Incident, ctx: Context) -> dict[str, Any]:
    """An incident with its updates (newest first) and components."""
    return {
        "id": str(incident.id),
        "name": incident.name,
        "status": incident.status,
        "created_at": _iso(incident.created_at),
        "updated_at": _iso(incident.updated_at),
        "monitoring_at": _iso(incident.monitoring_at),
        "resolved_at": _iso(incident.resolved_at),
        "impact": str(incident.impact),
        "shortlink": f"{ctx.base_url}/incidents/{incident.id}",
        "started_at": _iso(incident.started_at),
        "page_id": ctx.page_id,
        "incident_updates": [serialize_update(u) for u in incident.updates],
        "components": [serialize_component(c, ctx) for c in incident.components],
    }


def serialize_maintenance(maintenance: Incident, ctx: Context) -> dict[str, Any]:
    """A scheduled maintenance: the incident object plus its window."""
    return {
        **serialize_incident(maintenance, ctx),
        "scheduled_for": _iso(maintenance.scheduled_for),
        "scheduled_until": _iso(maintenance.scheduled_until),
    }


# --- lists -------------------------------------------------------------------------------------

def build_context() -> Context:
    """The shared part of a response: the page, and every component in page order."""
    ctx = Context(page=serialize_page(), base_url=current_app.config["BASE_URL"].rstrip("/"),
                  items=_flatten(comp.component_tree()))
    # Positions count through the page as shown (each group followed by its members), since
    # clients sort one flat list by them.
    ctx.positions = {component_ref(item): index + 1 for index, item in enumerate(ctx.items)}
    return ctx


def _flatten(tree: Iterable[ComponentGroup | Component]) -> list[ComponentGroup | Component]:
    flat: list[ComponentGroup | Component] = []
    for item in tree:
        flat.append(item)
        if isinstance(item, ComponentGroup):
            flat.extend(item.components)
    return flat


def _components(ctx: Context) -> list[dict[str, Any]]:
    return [serialize_group(item, ctx) if isinstance(item, ComponentGroup)
            else serialize_component(item, ctx)
            for item in ctx.items]


def _maintenances(found: Iterable[Incident], ctx: Context) -> list[dict[str, Any]]:
    # The domain lists windows soonest first; the API lists the newest first.
    newest = sorted(found, key=lambda m: (m.scheduled_for or m.created_at, m.id), reverse=True)
    return [serialize_maintenance(m, ctx) for m in newest]


def _open_maintenances(ctx: Context) -> list[dict[str, Any]]:
    return _maintenances(maint.windows((*ACTIVE_MAINTENANCE_STATUSES,
                                           *UPCOMING_MAINTENANCE_STATUSES)), ctx)


# --- the endpoints ----------------------------------------------------------------------------

@bp.after_request
def allow_any_origin(response: Response) -> Response:
    """The widget and dashboards fetch the API from other origins."""
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response


@bp.get(f"{V2}/summary.json")
def summary() -> Response:
    """Page, components, unresolved incidents, open maintenance and the rollup status."""
    return _answer("summary", lambda ctx: {
        "page": ctx.page,
        "components": _components(ctx),
        "incidents": [serialize_incident(i, ctx) for i in inc.open_incidents()],
        "scheduled_maintenances": _open_maintenances(ctx),
        "status": serialize_status(page.snapshot().status),
    })


@bp.get(f"{V2}/status.json")
def status() -> Response:
    """The rollup status only."""
    return _answer("status", lambda ctx: {
        "page": ctx.page, "status": serialize_status(page.snapshot().status)})


@bp.get(f"{V2}/components.json")
def components() -> Response:
    """Every component, groups included, in page order."""
    return _answer("components", lambda ctx: {"page": ctx.page, "components": _components(ctx)})


@bp.get(f"{V2}/incidents.json")
def incidents() -> Response:
    """The most recent incidents of any status, newest first."""
    return _answer("incidents", lambda ctx: {
        "page": ctx.page,
        "incidents": [serialize_incident(i, ctx)
                      for i in history.recent(IncidentKind.INCIDENT, RECENT_LIMIT)]})


@bp.get(f"{V2}/incidents/unresolved.json")
def unresolved_incidents() -> Response:
    """Incidents that are investigating, identified or monitoring."""
    return _answer("incidents/unresolved", lambda ctx: {
        "page": ctx.page,
        "incidents": [serialize_incident(i, ctx) for i in inc.open_incidents()]})


@bp.get(f"{V2}/scheduled-maintenances.json")
def scheduled_maintenances() -> Response:
    """The most recent maintenances, completed included, newest first."""
    return _answer("scheduled-maintenances", lambda ctx: {
        "page": ctx.page,
        "scheduled_maintenances": [serialize_maintenance(m, ctx) for m in
                                   history.recent(IncidentKind.MAINTENANCE, RECENT_LIMIT)]})


@bp.get(f"{V2}/scheduled-maintenances/upcoming.json")
def upcoming_maintenances() -> Response:
    """Maintenances still scheduled."""
    return _answer("scheduled-maintenances/upcoming", lambda ctx: {
        "page": ctx.page,
        "scheduled_maintenances": _maintenances(
            maint.windows(UPCOMING_MAINTENANCE_STATUSES), ctx)})


@bp.get(f"{V2}/scheduled-maintenances/active.json")
def active_maintenances() -> Response:
    """Maintenances in progress or verifying."""
    return _answer("scheduled-maintenances/active", lambda ctx: {
        "page": ctx.page,
        "scheduled_maintenances": _maintenances(
            maint.windows(ACTIVE_MAINTENANCE_STATUSES), ctx)})


def _answer(name: str, build: Callable[[Context], dict[str, Any]]) -> Response:
    """The endpoint's JSON for the current page version, or a 304 when the client has it."""
    version = page_version()
    etag = f"v{version}"
    if request.if_none_match.contains(etag):
        response = Response(status=304)
    else:
        response = Response(_body(name, version, build), content_type="application/json")
    response.set_etag(etag)
    response.cache_control.public = True
    response.cache_control.max_age = current_app.config["PAGE_CACHE_SECONDS"]
    return response.make_conditional(request)


def _body(name: str, version: int, build: Callable[[Context], dict[str, Any]]) -> bytes:
    # Two requests may build the same body at once; either result is right for the version.
    cache: dict[str, tuple[int, bytes]] = current_app.extensions.setdefault(_CACHE_KEY, {})
    hit = cache.get(name)
    if hit is not None and hit[0] == version:
        return hit[1]
    body = json.dumps(build(build_context()), ensure_ascii=False, separators=(",", ":")).encode()
    cache[name] = (version, body)
    return body


def init_app(app: Flask) -> None:
    """Register the API blueprint."""
    app.register_blueprint(bp)
