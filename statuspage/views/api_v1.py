"""The management API v1 in Statuspage's shapes, for scripts and on-call tools.

Served at both ``/api/v1`` and ``/v1`` (clients are configured with a base URL and append
``/v1/...``), every path both bare and with ``.json``. Requests carry an API key as
``Authorization: OAuth <key>`` or ``Bearer <key>``; cookies play no part, so CSRF does not
apply. Bodies are JSON wrapped in the resource name (``{"incident": {...}}``) or form fields
(``incident[name]=...``). Each view parses its input and calls the same domain operation the
ops console calls, so the two cannot drift apart. Every error is JSON.

The per-key rate limit is a token bucket kept in each web process (one bucket per key and
process): with N gunicorn workers a key may make up to N times the configured rate.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, date, datetime
from threading import Lock
from typing import Any

from flask import Blueprint, Flask, Response, current_app, g, jsonify, request
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import BadRequest

from .. import components as comp
from .. import history, postmortems, site, staff
from .. import incidents as inc
from .. import maintenance as maint
from .. import subscriptions as subs
from ..components import Component, ComponentGroup
from ..dbtypes import parse_id
from ..extensions import csrf, db
from ..incidents import Incident
from ..subscriptions import Subscriber
from ..validation import NotFound, ValidationError
from ..vocabulary import (
    ACTIVE_MAINTENANCE_STATUSES,
    UPCOMING_MAINTENANCE_STATUSES,
    IncidentStatus,
    MaintenanceStatus,
)
from .api import (
    Context,
    build_context,
    component_ref,
    serialize_component,
    serialize_group,
    serialize_maintenance,
    serialize_page,
    serialize_update,
)
from .filters import iso_utc
from .http import error_response

bp = Blueprint("api_v1", __name__)

ROOT = "/api/v1"
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
PAGE = "/pages/<page_id>"
DEFAULT_PER_PAGE = 100
MAX_PER_PAGE = 1000
MAX_PAGE = 1_000_000
_LIMITER_KEY = "statuspage.api_v1_rate"

# API field -> domain flag of a maintenance.
MAINTENANCE_FLAGS = {
    "scheduled_auto_in_progress": "auto_start",
    "scheduled_auto_completed": "auto_complete",
    "auto_transition_to_maintenance_state": "to_maintenance_state",
    "auto_transition_to_operational_state": "to_operational_state",
    "scheduled_remind_prior": "remind_prior",
}


def route(rule: str, methods: list[str]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a view at ``rule`` under /api/v1 (the other spellings are aliases of it)."""
    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        bp.add_url_rule(rule, view_func=view, methods=methods)
        return view
    return decorator


class PathAliases:
    """WSGI middleware: `/v1/...` is `/api/v1/...`, and `....json` is the bare path.

    Real clients use every spelling; rewriting them before routing keeps one URL rule per
    operation instead of four (which also keeps application start-up quick).
    """

    def __init__(self, wsgi_app: Callable[..., Any]) -> None:
        self.wsgi_app = wsgi_app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        path = environ.get("PATH_INFO", "")
        if path == "/v1" or path.startswith("/v1/"):
            path = ROOT + path[len("/v1"):]
        if path.startswith(ROOT + "/") and path.endswith(".json"):
            path = path.removesuffix(".json")
        environ["PATH_INFO"] = path
        return self.wsgi_app(environ, start_response)


# --- the per-key rate limit ----------------------------------------------------------------------

class RateLimiter:
    """Token buckets by key id: ``capacity`` requests at once, refilled at ``rate`` per second."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = Lock()
        self._buckets: dict[int, tuple[float, float]] = {}

    def take(self, ident: int, *, rate: float, capacity: float) -> float:
        """Spend one token; 0 when allowed, else the seconds until a token is available."""
        with self._lock:
            now = self._clock()
            tokens, last = self._buckets.get(ident, (capacity, now))
            tokens = min(capacity, tokens + (now - last) * rate)
            if tokens >= 1:
                self._buckets[ident] = (tokens - 1, now)
                return 0.0
            self._buckets[ident] = (tokens, now)
            return (1 - tokens) / rate


def _limiter() -> RateLimiter:
    return current_app.extensions.setdefault(_LIMITER_KEY, RateLimiter())


def _over_limit(key: staff.ApiKey) -> Any:
    per_minute = current_app.config["API_RATE_LIMIT_PER_MINUTE"]
    if not per_minute:
        return None
    wait = _limiter().take(key.id, rate=per_minute / 60,
                           capacity=max(current_app.config["API_RATE_LIMIT_BURST"], 1))
    if not wait:
        return None
    body, status = error_response(429, "Too Many Requests",
                                  f"This key may make {per_minute} requests a minute; "
                                  "retry after the time in the Retry-After header.")
    body.headers["Retry-After"] = str(max(1, math.ceil(wait)))
    return body, status


# --- authentication, the page, errors ------------------------------------------------------------

@bp.url_value_preprocessor
def take_page_id(endpoint: str | None, values: dict[str, Any] | None) -> None:
    """Views do not take the page id; it is checked once, after the key."""
    g.api_page_id = values.pop("page_id", None) if values else None


def _presented_key() -> str | None:
    scheme, _, credentials = request.headers.get("Authorization", "").strip().partition(" ")
    if scheme.lower() in {"oauth", "bearer"} and credentials.strip():
        return credentials.strip()
    return None


@bp.before_request
def authenticate() -> Any:
    """Let through requests with an active key of enough scope, within its rate, for our page."""
    key = staff.authenticate_api_key(_presented_key())
    if key is None:
        body, status = error_response(
            401, "Unauthorized", "Send an active API key as `Authorization: OAuth <key>` "
            "(or `Bearer <key>`).")
        body.headers["WWW-Authenticate"] = 'Bearer realm="statuspage"'
        return body, status
    g.api_key = key
    limited = _over_limit(key)
    if limited is not None:
        return limited
    if request.method in WRITE_METHODS and not key.can_write:
        return error_response(403, "Forbidden", "This API key may only read; create a key "
                              "with the write scope to make changes.")
    if g.api_page_id is not None and g.api_page_id != site.get_page_settings().page_code:
        return error_response(404, "Not Found", "No such page.", "page_id")
    return None


@bp.errorhandler(ValidationError)
def invalid(exc: ValidationError) -> Any:
    """422, with the bad field named in the message (scripts often log only the message)."""
    db.session.rollback()
    message = f"{exc.field}: {exc.message}" if exc.field else exc.message
    return error_response(422, "Unprocessable Entity", message, exc.field)


@bp.after_request
def never_cache(response: Response) -> Response:
    """Answers depend on the key and change with every write."""
    response.cache_control.no_store = True
    return response


def _actor() -> str:
    key: staff.ApiKey = g.api_key
    return f"API key {key.name} ({key.prefix})"


# --- reading request bodies ----------------------------------------------------------------------

_FORM_KEY = re.compile(r"^([^\[\]]+)((?:\[[^\[\]]*\])*)$")


def unflatten_form(form: MultiDict[str, str]) -> dict[str, Any]:
    """Rails-style form fields (``incident[components][3]=x``, ``incident[ids][]=1``) as a
    nested dict."""
    out: dict[str, Any] = {}
    for raw_key, value in form.items(multi=True):
        match = _FORM_KEY.match(raw_key)
        if not match:
            continue
        parts = [match.group(1), *re.findall(r"\[([^\[\]]*)\]", match.group(2))]
        is_list = len(parts) > 1 and parts[-1] == ""
        if is_list:
            parts.pop()
        node = out
        for part in parts[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        if is_list:
            if not isinstance(node.get(parts[-1]), list):
                node[parts[-1]] = []
            node[parts[-1]].append(value)
        else:
            node[parts[-1]] = value
    return out


def _body() -> dict[str, Any]:
    """The whole request body, JSON or form fields, as a dict."""
    if request.is_json:
        data = request.get_json(silent=True) if request.get_data() else {}
        if data is None:
            raise BadRequest("The body is not valid JSON.")
    else:
        data = unflatten_form(request.form)
    if not isinstance(data, dict):
        raise ValidationError("The body must be an object.", "body")
    return data


def _payload(resource: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    """The resource's fields, from a body wrapped in its name (an unwrapped one is read too)."""
    data = _body() if body is None else body
    inner = data.get(resource, data)
    if not isinstance(inner, dict):
        raise ValidationError(f"{resource} must be an object.", resource)
    return inner


def _text(fields: Mapping[str, Any], name: str) -> str | None:
    value = fields.get(name)
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool | int | float):
        return str(value)
    raise ValidationError(f"{name} must be text.", name)


def _bool(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower() if isinstance(value, str | int) else None
    if text in {"true", "1", "yes", "on"}:
        return True
    if text in {"false", "0", "no", "off", ""}:
        return False
    raise ValidationError(f"{name} must be true or false.", name)


def _time(value: Any, name: str) -> datetime:
    label = name.replace("_", " ").capitalize()
    try:
        parsed = datetime.fromisoformat(value.strip()) if isinstance(value, str) else None
        # Far-off years overflow on the way to UTC; a status page needs none of them.
        if (parsed is not None and parsed.tzinfo is not None
                and not 1970 <= parsed.astimezone(UTC).year <= 9000):
            parsed = None
    except (ValueError, OverflowError):
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise ValidationError(f"{label} must be an ISO 8601 date and time with an offset, "
                              "e.g. 2026-05-20T02:00:00Z.", name)
    return parsed


def _date(value: Any, name: str) -> date | None:
    if value in (None, ""):
        return None
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise ValidationError(f"{name} must be a date such as 2024-05-14.", name) from None


def _ids(value: Any, name: str) -> list[str]:
    if value in (None, ""):
        return []
    if isinstance(value, str | int):
        return [str(value)]
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, list) and all(isinstance(v, str | int) for v in value):
        return [str(v) for v in value if str(v).strip()]
    raise ValidationError(f"{name} must be a list of ids.", name)


def _group_key(value: Any, name: str = "group_id") -> int | None:
    """A group id as the v2 API spells it ("g3") or bare ("3")."""
    text = str(value).strip() if isinstance(value, str | int) else None
    match = re.fullmatch(r"g?(\d+)", text or "")
    key = parse_id(match.group(1)) if match else None
    if key is None:
        raise ValidationError(f"Unknown component group {value!r}.", name)
    return key


def _group_id(value: Any) -> int | None:
    if value in (None, ""):
        return None
    key = _group_key(value)
    try:
        return comp.get_group(key).id
    except NotFound:
        raise ValidationError(f"Unknown component group {value!r}.", "group_id") from None


def _known_components(raw_ids: Iterable[str], name: str) -> list[Component]:
    found = []
    for raw in raw_ids:
        try:
            found.append(comp.get_component(raw))
        except NotFound:
            raise ValidationError(f"Unknown component {raw!r}.", name) from None
    return found


def _status_map(fields: Mapping[str, Any]) -> dict[str, Any]:
    value = fields.get("components")
    if value in (None, ""):
        return {}
    if not isinstance(value, dict):
        raise ValidationError("components must map component ids to statuses.", "components")
    return {str(k): v for k, v in value.items()}


def _component_changes(fields: Mapping[str, Any]) -> dict[str, Any]:
    """The ``components`` status map, plus ``component_ids`` at their current status."""
    changes = _status_map(fields)
    for component in _known_components(_ids(fields.get("component_ids"), "component_ids"),
                                       "component_ids"):
        changes.setdefault(str(component.id), component.status)
    return changes


def _paging() -> tuple[int, int]:
    try:
        page_no = min(max(int(request.args.get("page", 1)), 1), MAX_PAGE)
        per_page = min(max(int(request.args.get("limit", request.args.get("per_page",
                                                                            DEFAULT_PER_PAGE))),
                           1), MAX_PER_PAGE)
    except ValueError:
        raise ValidationError("page and limit must be whole numbers.", "limit") from None
    return page_no, per_page


# --- serializers (the v2 ones, plus what the management API adds) --------------------------------

def _iso(value: datetime | None) -> str | None:
    return iso_utc(value) if value is not None else None


def _json(data: Any, status: int = 200) -> tuple[Response, int]:
    return jsonify(data), status


def serialize_managed_page() -> dict[str, Any]:
    """The v2 page object plus the settings the management API can change."""
    settings = site.get_page_settings()
    return {**serialize_page(), "created_at": _iso(settings.created_at),
            "support_url": settings.support_url}


def serialize_managed_component(item: Component | ComponentGroup, ctx: Context
                                ) -> dict[str, Any]:
    """The v2 component (or group) object plus ``automation_email``.

    statuspage has no email automation, so ``automation_email`` is always null.
    """
    base = (serialize_group(item, ctx) if isinstance(item, ComponentGroup)
            else serialize_component(item, ctx))
    return {**base, "automation_email": None}


def serialize_managed_incident(incident: Incident, ctx: Context) -> dict[str, Any]:
    """The v2 incident object (with the maintenance window) plus the management fields."""
    maintenance = incident.is_maintenance
    flags = {api: bool(getattr(incident, domain)) and maintenance
             for api, domain in MAINTENANCE_FLAGS.items()}
    return {
        **serialize_maintenance(incident, ctx),
        "impact_override": str(incident.impact_override) if incident.impact_override else None,
        "postmortem_body": incident.postmortem_body,
        "postmortem_body_last_updated_at": _iso(incident.postmortem_updated_at),
        "postmortem_published_at": _iso(incident.postmortem_published_at),
        **flags,
        # The scheduler always notifies when it starts or completes a window.
        "auto_transition_deliver_notifications_at_start": maintenance,
        "auto_transition_deliver_notifications_at_end": maintenance,
        "backfilled": False,
        "metadata": {},
    }


def serialize_postmortem(incident: Incident) -> dict[str, Any]:
    """An incident's postmortem: one Markdown body, public once published."""
    return {
        "body": incident.postmortem_body,
        "body_draft": incident.postmortem_body,
        "body_updated_at": _iso(incident.postmortem_updated_at),
        "published_at": _iso(incident.postmortem_published_at),
    }


def serialize_subscriber(subscriber: Subscriber, ctx: Context) -> dict[str, Any]:
    """An email subscriber; ``purge_at`` is when an unconfirmed address will be deleted."""
    # In page order: the relationship orders by position, which ties across groups.
    wanted = {c.id for c in subscriber.components}
    chosen = [component_ref(c) for c in ctx.items if isinstance(c, Component)
              and (subscriber.all_components or c.id in wanted)]
    purge_at = None
    if subscriber.confirmed_at is None:
        purge_at = (subscriber.link_sent_at or subscriber.created_at) + subs.confirm_max_age()
    return {
        "id": str(subscriber.id),
        "mode": "email",
        "email": subscriber.email,
        "components": chosen,
        "quarantined_at": _iso(subscriber.quarantined_at),
        "purge_at": _iso(purge_at),
        "created_at": _iso(subscriber.created_at),
    }


def _component_json(item: Component | ComponentGroup, status: int = 200) -> Any:
    return _json(serialize_managed_component(item, build_context()), status)


def _incident_json(incident: Incident, status: int = 200) -> Any:
    return _json(serialize_managed_incident(incident, build_context()), status)


def _incidents_json(found: Iterable[Incident]) -> Any:
    ctx = build_context()
    return _json([serialize_managed_incident(i, ctx) for i in found])


def _subscriber_json(subscriber: Subscriber, status: int = 200) -> Any:
    return _json(serialize_subscriber(subscriber, build_context()), status)


# --- pages ---------------------------------------------------------------------------------------

@route("/pages", ["GET"])
def pages() -> Any:
    """Our one page, in a list."""
    return _json([serialize_managed_page()])


@route(PAGE, ["GET"])
def get_page() -> Any:
    """The page."""
    return _json(serialize_managed_page())


@route(PAGE, ["PATCH", "PUT"])
def update_page() -> Any:
    """Change the page's name, address, time zone or support link."""
    fields = _payload("page")
    site.update_page_settings(actor=_actor(), **{
        name: _text(fields, name) for name in ("name", "url", "time_zone", "support_url")
        if name in fields})
    return _json(serialize_managed_page())


# --- components ----------------------------------------------------------------------------------

@route(f"{PAGE}/components", ["GET"])
def components() -> Any:
    """Every component, groups included, in page order."""
    ctx = build_context()
    return _json([serialize_managed_component(item, ctx) for item in ctx.items])


def _component_fields(fields: Mapping[str, Any]) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    for name in ("name", "description", "status"):
        if name in fields:
            changes[name] = _text(fields, name)
    if "group_id" in fields:
        changes["group_id"] = _group_id(fields["group_id"])
    for flag in ("showcase", "only_show_if_degraded"):
        if flag in fields:
            changes[flag] = _bool(fields[flag], flag)
    if "start_date" in fields:
        changes["start_date"] = _date(fields["start_date"], "start_date")
    return changes


@route(f"{PAGE}/components", ["POST"])
def create_component() -> Any:
    """Create a component."""
    changes = _component_fields(_payload("component"))
    name = changes.pop("name", None)
    component = comp.create_component(name or "", actor=_actor(), **changes)
    return _component_json(component, 201)


@route(f"{PAGE}/components/<component_id>", ["GET"])
def get_component(component_id: str) -> Any:
    """One component."""
    return _component_json(comp.get_component(component_id))


@route(f"{PAGE}/components/<component_id>", ["PATCH", "PUT"])
def update_component(component_id: str) -> Any:
    """Change a component; a status change is kept in its history."""
    component = comp.get_component(component_id)
    comp.update_component(component, actor=_actor(),
                          **_component_fields(_payload("component")))
    return _component_json(component)


@route(f"{PAGE}/components/<component_id>", ["DELETE"])
def delete_component(component_id: str) -> Any:
    """Delete a component, unless an open incident or maintenance still names it."""
    inc.delete_component(comp.get_component(component_id), actor=_actor())
    return Response(status=204)


# --- component groups ----------------------------------------------------------------------------

def _group(group_id: str) -> ComponentGroup:
    try:
        key = _group_key(group_id)
    except ValidationError:
        raise NotFound("No such component group.", "group_id") from None
    return comp.get_group(key)


def _group_fields() -> dict[str, Any]:
    body = _body()
    fields = _payload("component_group", body)
    changes: dict[str, Any] = {}
    if "name" in fields:
        changes["name"] = _text(fields, "name")
    # Statuspage documents the description beside the wrapped object; take it from either.
    for source in (fields, body):
        if "description" in source:
            changes["description"] = _text(source, "description")
            break
    if "components" in fields:
        ids = _ids(fields["components"], "components")
        changes["component_ids"] = [c.id for c in _known_components(ids, "components")]
    return changes


@route(f"{PAGE}/component-groups", ["GET"])
def groups() -> Any:
    """Every component group in page order."""
    ctx = build_context()
    return _json([serialize_managed_component(item, ctx) for item in ctx.items
                  if isinstance(item, ComponentGroup)])


@route(f"{PAGE}/component-groups", ["POST"])
def create_group() -> Any:
    """Create a group, with its members."""
    changes = _group_fields()
    group = comp.create_group(changes.pop("name", None) or "", actor=_actor(), **changes)
    return _component_json(group, 201)


@route(f"{PAGE}/component-groups/<group_id>", ["GET"])
def get_group(group_id: str) -> Any:
    """One group."""
    return _component_json(_group(group_id))


@route(f"{PAGE}/component-groups/<group_id>", ["PATCH", "PUT"])
def update_group(group_id: str) -> Any:
    """Rename or describe a group, or set its members."""
    group = _group(group_id)
    comp.update_group(group, actor=_actor(), **_group_fields())
    return _component_json(group)


@route(f"{PAGE}/component-groups/<group_id>", ["DELETE"])
def delete_group(group_id: str) -> Any:
    """Delete a group; its components stay, ungrouped. Answers with the group as it was."""
    group = _group(group_id)
    gone = serialize_managed_component(group, build_context())
    comp.delete_group(group, actor=_actor())
    return _json(gone)


# --- incidents and maintenance -------------------------------------------------------------------

@route(f"{PAGE}/incidents", ["GET"])
def incidents() -> Any:
    """Incidents and maintenance, newest first; ``q`` searches names, ``limit`` and ``page``
    page through them."""
    page_no, per_page = _paging()
    return _incidents_json(history.search(request.args.get("q", ""), page=page_no,
                                      per_page=per_page))


@route(f"{PAGE}/incidents/unresolved", ["GET"])
def unresolved_incidents() -> Any:
    """Incidents that are investigating, identified or monitoring."""
    return _incidents_json(inc.open_incidents())


@route(f"{PAGE}/incidents/scheduled", ["GET"])
def scheduled_incidents() -> Any:
    """Maintenance still scheduled."""
    return _incidents_json(maint.windows(UPCOMING_MAINTENANCE_STATUSES))


@route(f"{PAGE}/incidents/upcoming", ["GET"])
def upcoming_incidents() -> Any:
    """Maintenance still scheduled (Statuspage's other name for the same list)."""
    return _incidents_json(maint.windows(UPCOMING_MAINTENANCE_STATUSES))


@route(f"{PAGE}/incidents/active_maintenance", ["GET"])
def active_maintenance() -> Any:
    """Maintenance in progress or verifying."""
    return _incidents_json(maint.windows(ACTIVE_MAINTENANCE_STATUSES))


def _maintenance_flags(fields: Mapping[str, Any]) -> dict[str, bool]:
    return {domain: _bool(fields[api], api) for api, domain in MAINTENANCE_FLAGS.items()
            if api in fields}


def _notify(fields: Mapping[str, Any]) -> bool:
    return _bool(fields.get("deliver_notifications", True), "deliver_notifications")


@route(f"{PAGE}/incidents", ["POST"])
def create_incident() -> Any:
    """Open an incident, or schedule a maintenance (status "scheduled" and a window)."""
    fields = _payload("incident")
    status = _text(fields, "status") or IncidentStatus.INVESTIGATING.value
    if status in {s.value for s in MaintenanceStatus}:
        if status != MaintenanceStatus.SCHEDULED:
            raise ValidationError("A maintenance is created as scheduled; post in_progress, "
                                  "verifying or completed as updates.", "status")
        ids = [*_ids(fields.get("component_ids"), "component_ids"), *_status_map(fields)]
        maintenance = maint.schedule_maintenance(
            _text(fields, "name") or "",
            scheduled_for=_time(fields.get("scheduled_for"), "scheduled_for"),
            scheduled_until=_time(fields.get("scheduled_until"), "scheduled_until"),
            body=_text(fields, "body"), component_ids=ids, deliver_notifications=_notify(fields),
            author=_actor(), **_maintenance_flags(fields))
        return _incident_json(maintenance, 201)
    incident = inc.open_incident(
        _text(fields, "name") or "", status=status, body=_text(fields, "body"),
        components=_component_changes(fields), impact_override=_text(fields, "impact_override"),
        deliver_notifications=_notify(fields), author=_actor())
    return _incident_json(incident, 201)


@route(f"{PAGE}/incidents/<incident_id>", ["GET"])
def get_incident(incident_id: str) -> Any:
    """One incident or maintenance."""
    return _incident_json(inc.get_incident(incident_id))


def _edits(incident: Incident, fields: Mapping[str, Any]) -> dict[str, Any]:
    """The changes to the incident itself (not an update), checked before anything is written."""
    edits: dict[str, Any] = {}
    if "name" in fields:
        edits["name"] = _text(fields, "name")
    if not incident.is_maintenance:
        if "impact_override" in fields:
            inc.parse_impact(fields["impact_override"])
            edits["impact_override"] = _text(fields, "impact_override")
        return edits
    for name in ("scheduled_for", "scheduled_until"):
        if name in fields:
            edits[name] = _time(fields[name], name)
    edits.update(_maintenance_flags(fields))
    if "component_ids" in fields:
        edits["component_ids"] = [c.id for c in _known_components(
            _ids(fields["component_ids"], "component_ids"), "component_ids")]
    return edits


@route(f"{PAGE}/incidents/<incident_id>", ["PATCH", "PUT"])
def update_incident(incident_id: str) -> Any:
    """Change an incident; a new status, body or component statuses post a new update."""
    incident = inc.get_incident(incident_id)
    fields = _payload("incident")
    status = _text(fields, "status")
    if status is not None:
        status = inc.parse_status(incident.kind, status)
    body = _text(fields, "body")
    notify = _notify(fields)
    edits = _edits(incident, fields)
    changes = (_status_map(fields) if incident.is_maintenance
               else _component_changes(fields))
    change = maint.change_maintenance if incident.is_maintenance else inc.change_incident
    change(incident, edits=edits, status=status, body=body, components=changes,
           deliver_notifications=notify, author=_actor())
    return _incident_json(incident)


@route(f"{PAGE}/incidents/<incident_id>", ["DELETE"])
def delete_incident(incident_id: str) -> Any:
    """Delete an incident and its updates; answers with the incident as it was."""
    incident = inc.get_incident(incident_id)
    gone = serialize_managed_incident(incident, build_context())
    inc.delete_incident(incident, actor=_actor())
    return _json(gone)


@route(f"{PAGE}/incidents/<incident_id>/incident_updates/<update_id>", ["PATCH", "PUT"])
def edit_update(incident_id: str, update_id: str) -> Any:
    """Correct an update's body, displayed time or notification flag."""
    update = inc.get_update(inc.get_incident(incident_id), update_id)
    fields = _payload("incident_update")
    body = _text(fields, "body")
    display_at = (_time(fields["display_at"], "display_at")
                  if fields.get("display_at") not in (None, "") else None)
    notify = (_bool(fields["deliver_notifications"], "deliver_notifications")
              if "deliver_notifications" in fields else None)
    inc.edit_update(update, body=update.body if body is None else body, display_at=display_at,
                    deliver_notifications=notify, actor=_actor())
    return _json(serialize_update(update))


# --- postmortem ----------------------------------------------------------------------------------

@route(f"{PAGE}/incidents/<incident_id>/postmortem", ["GET"])
def get_postmortem(incident_id: str) -> Any:
    """The incident's postmortem."""
    return _json(serialize_postmortem(inc.get_incident(incident_id)))


@route(f"{PAGE}/incidents/<incident_id>/postmortem", ["PUT", "PATCH"])
def save_postmortem(incident_id: str) -> Any:
    """Store the postmortem draft (``body_draft``, or ``body``)."""
    incident = inc.get_incident(incident_id)
    fields = _payload("postmortem")
    body = _text(fields, "body_draft") if "body_draft" in fields else _text(fields, "body")
    postmortems.save_postmortem(incident, body or "", actor=_actor())
    return _json(serialize_postmortem(incident))


@route(f"{PAGE}/incidents/<incident_id>/postmortem/publish", ["PUT", "POST"])
def publish_postmortem(incident_id: str) -> Any:
    """Publish the saved postmortem of a resolved incident."""
    incident = inc.get_incident(incident_id)
    postmortems.publish_postmortem(incident, actor=_actor())
    return _json(serialize_postmortem(incident))


@route(f"{PAGE}/incidents/<incident_id>/postmortem/revert", ["PUT", "POST"])
def revert_postmortem(incident_id: str) -> Any:
    """Take a published postmortem back to draft."""
    incident = inc.get_incident(incident_id)
    postmortems.revert_postmortem(incident, actor=_actor())
    return _json(serialize_postmortem(incident))


# --- subscribers ---------------------------------------------------------------------------------

@route(f"{PAGE}/subscribers", ["GET"])
def subscribers() -> Any:
    """Subscribers, newest first; ``q`` searches addresses, ``limit`` and ``page`` page."""
    page_no, per_page = _paging()
    found = subs.search_subscribers(request.args.get("q", ""), limit=per_page,
                                    offset=(page_no - 1) * per_page)
    ctx = build_context()
    return _json([serialize_subscriber(s, ctx) for s in found])


@route(f"{PAGE}/subscribers", ["POST"])
def create_subscriber() -> Any:
    """Add an email subscriber: confirmed at once with ``skip_confirmation_notification``,
    else sent a confirmation link."""
    fields = _payload("subscriber")
    ids = _ids(fields.get("component_ids"), "component_ids")
    groups = [i for i in ids if i.startswith("g")]
    subscriber = subs.add_subscriber(
        _text(fields, "email") or "",
        component_ids=[i for i in ids if i not in groups],
        group_ids=[_group_key(i, "component_ids") for i in groups],
        confirmed=_bool(fields.get("skip_confirmation_notification", False),
                        "skip_confirmation_notification"),
        actor=_actor())
    return _subscriber_json(subscriber, 201)


@route(f"{PAGE}/subscribers/<subscriber_id>", ["GET"])
def get_subscriber(subscriber_id: str) -> Any:
    """One subscriber."""
    return _subscriber_json(subs.get_subscriber(subscriber_id))


@route(f"{PAGE}/subscribers/<subscriber_id>", ["DELETE"])
def delete_subscriber(subscriber_id: str) -> Any:
    """Unsubscribe; emails still queued for them are cancelled. Answers with who it was."""
    subscriber = subs.get_subscriber(subscriber_id)
    gone = serialize_subscriber(subscriber, build_context())
    subs.unsubscribe(subscriber, actor=_actor())
    return _json(gone)


@route(f"{PAGE}/subscribers/<subscriber_id>/resend_confirmation", ["POST"])
def resend_confirmation(subscriber_id: str) -> Any:
    """Queue a fresh confirmation link (a manage link once confirmed)."""
    subscriber = subs.resend_confirmation(subs.get_subscriber(subscriber_id), actor=_actor())
    return _subscriber_json(subscriber, 201)


def init_app(app: Flask) -> None:
    """Serve the management API at both roots; keys, not cookies, so no CSRF."""
    csrf.exempt(bp)
    app.register_blueprint(bp, url_prefix=ROOT)
    app.wsgi_app = PathAliases(app.wsgi_app)  # type: ignore[method-assign]
