"""The management API v1 in Statuspage's shapes, for scripts and on-call tools.

Every operation answers at ``/api/v1/...`` and at ``/v1/...`` (clients are configured with a
base URL and append ``/v1/...``), each path bare or with ``.json``: two URL rules per view, the
suffix optional by a converter, all of them listed by ``flask routes``. Requests carry an API key
as ``Authorization: OAuth <key>`` or ``Bearer <key>``; cookies play no part, so CSRF does not
apply. A view reads its input through a model in ``inputs``, calls the same domain operation
the ops console calls, and returns its answer as models from ``schemas``; every error is JSON.

Each key may make ``API_RATE_LIMIT_PER_MINUTE`` requests a minute (a moving window), counted by
the application's limiter: in each process by default, across all of them when
``RATE_LIMIT_STORAGE_URL`` names a Redis server.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, current_app, g, jsonify, request
from flask_limiter.util import get_remote_address
from pydantic import BaseModel

from ... import components as comp
from ... import history, postmortems, site, staff
from ... import incidents as inc
from ... import maintenance as maint
from ...extensions import db, limiter
from ...validation import NotFound, ValidationError
from ...vocabulary import ACTIVE_MAINTENANCE_STATUSES, UPCOMING_MAINTENANCE_STATUSES
from ..http import error_response
from .bodies import read
from .inputs import (
    ComponentGroupInput,
    ComponentInput,
    IncidentCreate,
    IncidentInput,
    IncidentUpdateInput,
    MaintenanceInput,
    NewMaintenance,
    PageInput,
    Paging,
    PostmortemInput,
    PublishInput,
    group_key,
)
from .routes import Body, Route, summary_of
from .schemas import (
    ComponentGroupV1,
    ComponentV1,
    Context,
    IncidentUpdate,
    IncidentV1,
    PageV1,
    Postmortem,
    any_managed_component,
)

bp = Blueprint("api_v1", __name__)

ROOTS = ("/api/v1", "/v1")
PAGE = "/pages/<page_id>"
SUBSCRIBERS = f"{ROOTS[0]}{PAGE}/subscribers"
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
NO_KEY_RATE = "60/minute"  # per client, for requests whose key is missing or wrong
NO_KEY_MESSAGE = "Too many requests without a valid API key."
ROUTES: list[Route] = []
Answer = BaseModel | list[BaseModel] | None


def route(rule: str, *methods: str, response: Any = None, status: int = 200,
          body: Body | None = None, query: type[BaseModel] | None = None
          ) -> Callable[[Callable[..., Answer]], Callable[..., Response]]:
    """Declare an operation at both roots; the view's models are answered with ``status``."""
    def declare(view: Callable[..., Answer]) -> Callable[..., Response]:
        """Register ``view`` under both roots and list it for the document."""
        @functools.wraps(view)
        def operation(**kwargs: Any) -> Response:
            """The view's answer, sent as JSON with the declared status."""
            return reply(view(**kwargs), status)

        for root in ROOTS:
            bp.add_url_rule(f"{root}{rule}<json:suffix>", view_func=operation,
                            methods=list(methods))
        ROUTES.append(Route(ROOTS[0] + rule, methods, f"{bp.name}.{view.__name__}",
                            summary_of(view), response, status, body, query))
        return operation
    return declare


def reply(answer: Answer, status: int) -> Response:
    """The models as JSON (a list as a JSON array), or an empty answer for None."""
    if answer is None:
        return Response(status=status)
    data = ([item.model_dump(mode="json") for item in answer] if isinstance(answer, list)
            else answer.model_dump(mode="json"))
    response = jsonify(data)
    response.status_code = status
    return response


# --- the key, its rate, the page ----------------------------------------------------------------

def api_key() -> staff.ApiKey | None:
    """The active API key the request carries, or None (looked up as the request starts)."""
    return g.get("api_key")


def per_key_rate() -> str:
    """The per-key limit in the limiter's words."""
    return f"{current_app.config['API_RATE_LIMIT_PER_MINUTE']}/minute"


def rate_key() -> str:
    """Each key is counted on its own."""
    key = api_key()
    return f"api-key-{key.id}" if key else "no-key"


def unlimited() -> bool:
    """No limit when it is off, and none before a key is known (that answer is a 401)."""
    return not current_app.config["API_RATE_LIMIT_PER_MINUTE"] or api_key() is None


def has_key() -> bool:
    """Requests with a valid key count under its own limit, not under the client's."""
    return api_key() is not None


def over_rate() -> str:
    """The message of a 429."""
    return (f"This key may make {current_app.config['API_RATE_LIMIT_PER_MINUTE']} requests a "
            "minute; retry after the time in the Retry-After header.")


def limit_each_key() -> None:
    """Put every operation under the per-key limit, and requests without a valid key under a
    limit per client (declaring them twice changes nothing)."""
    limiter.shared_limit(per_key_rate, scope="api-key", key_func=rate_key,
                         exempt_when=unlimited, error_message=over_rate)(bp)
    limiter.shared_limit(NO_KEY_RATE, scope="api-no-key", key_func=get_remote_address,
                         exempt_when=has_key, error_message=NO_KEY_MESSAGE)(bp)


@bp.url_value_preprocessor
def start(endpoint: str | None, values: dict[str, Any] | None) -> None:
    """Look up the key, once, before anything else runs (the rate limit counts by it). Views
    take neither the page id (checked after the key) nor the ``.json``."""
    values = values if values is not None else {}
    values.pop("suffix", None)
    g.api_page_id = values.pop("page_id", None)
    scheme, _, credentials = request.headers.get("Authorization", "").strip().partition(" ")
    presented = credentials.strip() if scheme.lower() in {"oauth", "bearer"} else None
    g.api_key = staff.authenticate_api_key(presented or None)


@bp.before_request
def authenticate() -> Any:
    """Let through requests with an active key of enough scope, for our page."""
    key = api_key()
    if key is None:
        body, status = error_response(
            401, "Unauthorized", "Send an active API key as `Authorization: OAuth <key>` "
            "(or `Bearer <key>`).")
        body.headers["WWW-Authenticate"] = 'Bearer realm="statuspage"'
        return body, status
    if request.method in WRITE_METHODS and not key.can_write:
        return error_response(403, "Forbidden", "This API key may only read; create a key "
                              "with the write scope to make changes.")
    if request.endpoint in subscriber_endpoints() and not key.subscribers:
        return error_response(403, "Forbidden", "This API key may not reach subscriber "
                              "addresses; create a key with the subscribers scope.")
    if g.api_page_id is not None and g.api_page_id != site.get_page_settings().page_code:
        return error_response(404, "Not Found", "No such page.", "page_id")
    return None


@functools.cache
def subscriber_endpoints() -> frozenset[str]:
    """The operations under ``/subscribers`` (an incident's too): they need the subscribers
    scope."""
    return frozenset(r.endpoint for r in ROUTES
                     if r.path.startswith(SUBSCRIBERS) or "/subscribers" in r.path)


@bp.errorhandler(ValidationError)
def invalid(exc: ValidationError) -> Any:
    """422, the message starting with the field to blame (scripts often log only the message)."""
    db.session.rollback()
    message = f"{exc.field}: {exc.message}" if exc.field else exc.message
    return error_response(422, "Unprocessable Entity", message, exc.field)


@bp.after_request
def never_cache(response: Response) -> Response:
    """Answers depend on the key and change with every write."""
    response.cache_control.no_store = True
    return response


def actor() -> str:
    key: staff.ApiKey = g.api_key
    return f"API key {key.name} ({key.prefix})"


def _incidents(found: list[inc.Incident]) -> list[BaseModel]:
    ctx = Context.build()
    return [IncidentV1.of(i, ctx) for i in found]


# --- pages ---------------------------------------------------------------------------------------

@route("/pages", "GET", response=list[PageV1])
def pages() -> Answer:
    """The pages (this one), in a list."""
    return [PageV1.of()]


@route(PAGE, "GET", response=PageV1)
def get_page() -> Answer:
    """The page."""
    return PageV1.of()


@route(PAGE, "PATCH", "PUT", response=PageV1, body=Body("page", PageInput))
def update_page() -> Answer:
    """Change the page's name, address, time zone or support link."""
    site.update_page_settings(actor=actor(), **read(PageInput, "page").given())
    return PageV1.of()


# --- components ----------------------------------------------------------------------------------

@route(f"{PAGE}/components", "GET", response=list[ComponentV1 | ComponentGroupV1])
def components() -> Answer:
    """Every component, groups included, in page order."""
    ctx = Context.build()
    return [any_managed_component(item, ctx) for item in ctx.items]


@route(f"{PAGE}/components", "POST", response=ComponentV1, status=201,
       body=Body("component", ComponentInput))
def create_component() -> Answer:
    """Create a component."""
    fields = read(ComponentInput, "component")
    component = comp.create_component(actor=actor(), **fields.create_args())
    return ComponentV1.of(component, Context.build())


@route(f"{PAGE}/components/<component_id>", "GET", response=ComponentV1)
def get_component(component_id: str) -> Answer:
    """One component."""
    return ComponentV1.of(comp.get_component(component_id), Context.build())


@route(f"{PAGE}/components/<component_id>", "PATCH", "PUT", response=ComponentV1,
       body=Body("component", ComponentInput))
def update_component(component_id: str) -> Answer:
    """Change a component (its status too: a change is kept in its history)."""
    component = comp.get_component(component_id)
    comp.update_component(component, actor=actor(), **read(ComponentInput, "component").given())
    return ComponentV1.of(component, Context.build())


@route(f"{PAGE}/components/<component_id>", "DELETE", status=204)
def delete_component(component_id: str) -> Answer:
    """Delete a component, unless an open incident or maintenance still names it."""
    inc.delete_component(comp.get_component(component_id), actor=actor())
    return None


# --- component groups ----------------------------------------------------------------------------

GROUP = Body("component_group", ComponentGroupInput, beside=("description",))


def _group(component_group_id: str) -> comp.ComponentGroup:
    try:
        key = group_key(component_group_id, "group_id")
    except ValidationError:
        raise NotFound("No such component group.", "group_id") from None
    return comp.get_group(key)


@route(f"{PAGE}/component-groups", "GET", response=list[ComponentGroupV1])
def groups() -> Answer:
    """Every component group, in page order."""
    ctx = Context.build()
    return [ComponentGroupV1.of(item, ctx) for item in ctx.items
            if isinstance(item, comp.ComponentGroup)]


@route(f"{PAGE}/component-groups", "POST", response=ComponentGroupV1, status=201, body=GROUP)
def create_group() -> Answer:
    """Create a group of components, with its members."""
    fields = read(ComponentGroupInput, GROUP.resource, beside=GROUP.beside)
    group = comp.create_group(actor=actor(), **fields.create_args())
    return ComponentGroupV1.of(group, Context.build())


@route(f"{PAGE}/component-groups/<component_group_id>", "GET", response=ComponentGroupV1)
def get_group(component_group_id: str) -> Answer:
    """One component group (its id as g3, or 3)."""
    return ComponentGroupV1.of(_group(component_group_id), Context.build())


@route(f"{PAGE}/component-groups/<component_group_id>", "PATCH", "PUT",
       response=ComponentGroupV1, body=GROUP)
def update_group(component_group_id: str) -> Answer:
    """Rename or describe a group, or set its members."""
    group = _group(component_group_id)
    fields = read(ComponentGroupInput, GROUP.resource, beside=GROUP.beside)
    comp.update_group(group, actor=actor(), **fields.given())
    return ComponentGroupV1.of(group, Context.build())


@route(f"{PAGE}/component-groups/<component_group_id>", "DELETE", response=ComponentGroupV1)
def delete_group(component_group_id: str) -> Answer:
    """Delete a group (its components stay, ungrouped); answers with the group as it was."""
    group = _group(component_group_id)
    gone = ComponentGroupV1.of(group, Context.build())
    comp.delete_group(group, actor=actor())
    return gone


# --- incidents and maintenance -------------------------------------------------------------------

@route(f"{PAGE}/incidents", "GET", response=list[IncidentV1], query=Paging)
def incidents() -> Answer:
    """Incidents and maintenance, newest first; ``q`` searches names."""
    paging = Paging.of_request()
    return _incidents(history.search(paging.q, page=paging.page, per_page=paging.limit))


@route(f"{PAGE}/incidents/unresolved", "GET", response=list[IncidentV1])
def unresolved_incidents() -> Answer:
    """Incidents that are investigating, identified or monitoring."""
    return _incidents(inc.open_incidents())


@route(f"{PAGE}/incidents/scheduled", "GET", response=list[IncidentV1])
def scheduled_incidents() -> Answer:
    """Maintenance still scheduled."""
    return _incidents(maint.windows(UPCOMING_MAINTENANCE_STATUSES))


@route(f"{PAGE}/incidents/upcoming", "GET", response=list[IncidentV1])
def upcoming_incidents() -> Answer:
    """Maintenance still scheduled (Statuspage's other name for the same list)."""
    return _incidents(maint.windows(UPCOMING_MAINTENANCE_STATUSES))


@route(f"{PAGE}/incidents/active_maintenance", "GET", response=list[IncidentV1])
def active_maintenance() -> Answer:
    """Maintenance in progress or verifying."""
    return _incidents(maint.windows(ACTIVE_MAINTENANCE_STATUSES))


@route(f"{PAGE}/incidents", "POST", response=IncidentV1, status=201,
       body=Body("incident", IncidentCreate))
def create_incident() -> Answer:
    """Open an incident, or schedule a maintenance (status "scheduled" and a window)."""
    new = read(IncidentCreate, "incident").root
    if isinstance(new, NewMaintenance):
        created = maint.schedule_maintenance(author=actor(), **new.schedule_args())
    else:
        created = inc.open_incident(author=actor(), **new.open_args())
    return IncidentV1.of(created, Context.build())


@route(f"{PAGE}/incidents/<incident_id>", "GET", response=IncidentV1)
def get_incident(incident_id: str) -> Answer:
    """One incident or maintenance."""
    return IncidentV1.of(inc.get_incident(incident_id), Context.build())


@route(f"{PAGE}/incidents/<incident_id>", "PATCH", "PUT", response=IncidentV1,
       body=Body("incident", IncidentInput | MaintenanceInput))  # type: ignore[arg-type]
def update_incident(incident_id: str) -> Answer:
    """Change an incident; a new status, body or component statuses post an update."""
    incident = inc.get_incident(incident_id)
    if incident.is_maintenance:
        fields: IncidentInput | MaintenanceInput = read(MaintenanceInput, "incident")
        maint.change_maintenance(incident, author=actor(), **fields.change_args())
    else:
        fields = read(IncidentInput, "incident")
        inc.change_incident(incident, author=actor(), **fields.change_args())
    return IncidentV1.of(incident, Context.build())


@route(f"{PAGE}/incidents/<incident_id>", "DELETE", response=IncidentV1)
def delete_incident(incident_id: str) -> Answer:
    """Delete an incident and its updates; answers with the incident as it was."""
    incident = inc.get_incident(incident_id)
    gone = IncidentV1.of(incident, Context.build())
    inc.delete_incident(incident, actor=actor())
    return gone


@route(f"{PAGE}/incidents/<incident_id>/incident_updates/<incident_update_id>", "PATCH",
       "PUT", response=IncidentUpdate, body=Body("incident_update", IncidentUpdateInput))
def edit_update(incident_id: str, incident_update_id: str) -> Answer:
    """Correct an update's body, displayed time or notification flag."""
    update = inc.get_update(inc.get_incident(incident_id), incident_update_id)
    fields = read(IncidentUpdateInput, "incident_update")
    inc.edit_update(update, actor=actor(), **fields.edit_args(update))
    return IncidentUpdate.of(update)


# --- postmortem ----------------------------------------------------------------------------------

@route(f"{PAGE}/incidents/<incident_id>/postmortem", "GET", response=Postmortem)
def get_postmortem(incident_id: str) -> Answer:
    """The incident's postmortem."""
    return Postmortem.of(inc.get_incident(incident_id))


@route(f"{PAGE}/incidents/<incident_id>/postmortem", "PUT", "PATCH", response=Postmortem,
       body=Body("postmortem", PostmortemInput))
def save_postmortem(incident_id: str) -> Answer:
    """Store the postmortem draft (``body_draft``, or ``body``); not yet published."""
    incident = inc.get_incident(incident_id)
    postmortems.save_postmortem(incident, read(PostmortemInput, "postmortem").text(),
                                actor=actor())
    return Postmortem.of(incident)


@route(f"{PAGE}/incidents/<incident_id>/postmortem/publish", "PUT", "POST",
       response=Postmortem, body=Body("postmortem", PublishInput))
def publish_postmortem(incident_id: str) -> Answer:
    """Publish the saved postmortem of a resolved incident; ``notify_subscribers`` tells the
    subscribers who want to hear of it."""
    incident = inc.get_incident(incident_id)
    notify = read(PublishInput, "postmortem").notify_subscribers
    postmortems.publish_postmortem(incident, notify=notify, actor=actor())
    return Postmortem.of(incident)


@route(f"{PAGE}/incidents/<incident_id>/postmortem/revert", "PUT", "POST",
       response=Postmortem)
def revert_postmortem(incident_id: str) -> Answer:
    """Take a published postmortem back to draft."""
    incident = inc.get_incident(incident_id)
    postmortems.revert_postmortem(incident, actor=actor())
    return Postmortem.of(incident)


# The subscriber routes register on ``bp`` as their module is imported, after those above.
from . import subscribers  # noqa: E402, F401
