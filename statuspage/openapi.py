"""The OpenAPI 3.1 document of both APIs: the public API v2 and the management API v1.

Built as a plain dict from the domain's own enums, so a status added to the code shows up in
the document too. The v2 schemas are strict (every field required, nothing extra), because
Statuspage clients read exactly those fields; the v1 schemas name what clients rely on and allow
more, as Statuspage's own v1 objects carry many fields nobody reads.
"""

from __future__ import annotations

from typing import Any

from .vocabulary import ComponentStatus, Impact, IncidentStatus, Indicator, MaintenanceStatus

OPENAPI_VERSION = "3.1.0"
TIMESTAMP_PATTERN = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}(Z|[+-]\d\d:\d\d)$"
DESCRIPTIONS = ("All Systems Operational", "Minor Service Outage", "Partial System Outage",
                "Major System Outage", "Degraded System Service", "Partially Degraded Service",
                "Service Under Maintenance")

V2_ENDPOINTS = {
    # path: (summary, response schema, tag)
    "/api/v2/summary.json": (
        "Page, components, unresolved incidents, open maintenance and the rollup status",
        "SummaryResponse"),
    "/api/v2/status.json": ("The rollup status only", "StatusResponse"),
    "/api/v2/components.json": ("Every component, groups included, by position",
                                "ComponentsResponse"),
    "/api/v2/incidents.json": ("The 50 most recent incidents, any status, newest first",
                               "IncidentsResponse"),
    "/api/v2/incidents/unresolved.json": (
        "Incidents that are investigating, identified or monitoring", "IncidentsResponse"),
    "/api/v2/scheduled-maintenances.json": (
        "The 50 most recent maintenances, completed included, newest first",
        "ScheduledMaintenancesResponse"),
    "/api/v2/scheduled-maintenances/upcoming.json": ("Maintenances still scheduled",
                                                     "ScheduledMaintenancesResponse"),
    "/api/v2/scheduled-maintenances/active.json": ("Maintenances in progress or verifying",
                                                   "ScheduledMaintenancesResponse"),
}

_INFO_DESCRIPTION = """\
Two APIs in Atlassian Statuspage's shapes, so existing clients work unchanged.

**Public API v2** (`/api/v2/...`, no authentication): what the status widget, monitors and
dashboards read. Every field is always present (`null` where empty); ids are strings;
timestamps are ISO 8601 with milliseconds and an offset. Responses carry
`Access-Control-Allow-Origin: *` and an ETag of the page version (send `If-None-Match`).

**Management API v1** (`/api/v1/...`): for scripts and on-call tools. Every path is also
served under `/v1/...` (where `https://api.statuspage.io/v1` stands for hosted clients) and
with a `.json` suffix (`/api/v1/pages/{page_id}/incidents.json`). Authenticate with an API key
from the ops console or `flask --app wsgi create-api-key`, sent as
`Authorization: OAuth <key>` (or `Bearer <key>`). Bodies are JSON wrapped in the resource name
(`{"incident": {...}}`); form encoding (`incident[name]=...`) is accepted too. Errors are
always JSON: `{"error": "...", "message": "..."}`.
"""


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema with null allowed as well (OpenAPI 3.1 spells it as a type list)."""
    kind = schema["type"]
    return {**schema, "type": [*(kind if isinstance(kind, list) else [kind]), "null"]}


def _strict(properties: dict[str, Any], description: str) -> dict[str, Any]:
    return {"type": "object", "description": description, "properties": properties,
            "required": list(properties), "additionalProperties": False}


def _values(*enums: Any) -> list[str]:
    found: list[str] = []
    for enum in enums:
        found.extend(str(member) for member in enum if str(member) not in found)
    return found


_ID = {"type": "string", "description": "Ids are strings."}
_TIME = {"$ref": "#/components/schemas/Timestamp"}
_TIME_OR_NULL = {"$ref": "#/components/schemas/TimestampOrNull"}


# --- public API v2 ------------------------------------------------------------------------------

def _v2_schemas() -> dict[str, Any]:
    component = {
        "id": _ID,
        "name": {"type": "string"},
        "status": _ref("ComponentStatus"),
        "created_at": _TIME,
        "updated_at": _TIME,
        "position": {"type": "integer", "description": "Order on the page, from 1."},
        "description": _nullable({"type": "string"}),
        "showcase": {"type": "boolean"},
        "start_date": _nullable({"type": "string", "format": "date"}),
        "group_id": _nullable({"type": "string"}),
        "page_id": _ID,
        "group": {"type": "boolean"},
        "only_show_if_degraded": {"type": "boolean"},
    }
    incident = {
        "id": _ID,
        "name": {"type": "string"},
        "status": _ref("IncidentStatus"),
        "created_at": _TIME,
        "updated_at": _TIME,
        "monitoring_at": _TIME_OR_NULL,
        "resolved_at": _TIME_OR_NULL,
        "impact": _ref("Impact"),
        "shortlink": {"type": "string", "format": "uri"},
        "started_at": _TIME,
        "page_id": _ID,
        "incident_updates": {"type": "array", "items": _ref("IncidentUpdate"),
                             "description": "Newest first."},
        "components": {"type": "array", "items": _ref("Component")},
    }
    maintenance = {
        **incident,
        "status": _ref("MaintenanceStatus"),
        "scheduled_for": _TIME_OR_NULL,
        "scheduled_until": _TIME_OR_NULL,
    }
    group = _strict({**component, "group": {"const": True},
                     "components": {"type": "array", "items": {"type": "string"},
                                    "description": "The members' ids."}},
                    "A component group, in the shape of a component.")
    return {
        "Timestamp": {"type": "string", "format": "date-time", "pattern": TIMESTAMP_PATTERN,
                      "examples": ["2024-05-14T09:12:40.118Z"]},
        "TimestampOrNull": {"type": ["string", "null"], "format": "date-time",
                            "pattern": TIMESTAMP_PATTERN},
        "ComponentStatus": {"type": "string", "enum": _values(ComponentStatus)},
        "IncidentStatus": {"type": "string", "enum": _values(IncidentStatus)},
        "MaintenanceStatus": {"type": "string", "enum": _values(MaintenanceStatus)},
        "UpdateStatus": {"type": "string", "enum": _values(IncidentStatus, MaintenanceStatus)},
        "Impact": {"type": "string", "enum": _values(Impact)},
        "Page": _strict({
            "id": {**_ID, "description": "The page_id the management API accepts."},
            "name": {"type": "string"},
            "url": {"type": "string", "format": "uri"},
            "time_zone": {"type": "string", "description": "An IANA time zone name."},
            "updated_at": _TIME,
        }, "The page; identical in every endpoint."),
        "Status": _strict({
            "indicator": {"type": "string", "enum": _values(Indicator)},
            "description": {"type": "string", "enum": list(DESCRIPTIONS)},
        }, "The rollup of the page; the banner says the same."),
        "Component": {
            "description": "A component, or a group (`group: true`) listing its members.",
            "oneOf": [_ref("PlainComponent"), _ref("ComponentGroup")],
        },
        "PlainComponent": _strict({**component, "group": {"const": False}},
                                  "A component (not a group)."),
        "ComponentGroup": group,
        "AffectedComponent": _strict({
            "code": _nullable({"type": "string", "description":
                               "The component's id; null once it was deleted."}),
            "name": {"type": "string"},
            "old_status": _ref("ComponentStatus"),
            "new_status": _ref("ComponentStatus"),
        }, "A component an update moved, with the status it moved from and to."),
        "IncidentUpdate": _strict({
            "id": _ID,
            "status": _ref("UpdateStatus"),
            "body": {"type": "string", "description": "Markdown."},
            "incident_id": _ID,
            "created_at": _TIME,
            "updated_at": _TIME,
            "display_at": _TIME,
            "affected_components": _nullable({"type": "array",
                                              "items": _ref("AffectedComponent")}),
            "deliver_notifications": {"type": "boolean"},
            "custom_tweet": {"type": "null"},
            "tweet_id": {"type": "null"},
        }, "One update of an incident or maintenance."),
        "Incident": _strict(incident, "An incident with its updates, newest first."),
        "ScheduledMaintenance": _strict(maintenance,
                                        "A scheduled maintenance: an incident with a window."),
        "SummaryResponse": _strict({
            "page": _ref("Page"),
            "components": {"type": "array", "items": _ref("Component")},
            "incidents": {"type": "array", "items": _ref("Incident")},
            "scheduled_maintenances": {"type": "array", "items": _ref("ScheduledMaintenance")},
            "status": _ref("Status"),
        }, "Everything the status widget shows."),
        "StatusResponse": _strict({"page": _ref("Page"), "status": _ref("Status")},
                                  "The rollup only."),
        "ComponentsResponse": _strict({
            "page": _ref("Page"),
            "components": {"type": "array", "items": _ref("Component")},
        }, "Every component, by position."),
        "IncidentsResponse": _strict({
            "page": _ref("Page"),
            "incidents": {"type": "array", "items": _ref("Incident")},
        }, "Incidents, newest first."),
        "ScheduledMaintenancesResponse": _strict({
            "page": _ref("Page"),
            "scheduled_maintenances": {"type": "array", "items": _ref("ScheduledMaintenance")},
        }, "Maintenances, newest first."),
    }


def _v2_paths() -> dict[str, Any]:
    paths = {}
    for path, (summary, schema) in V2_ENDPOINTS.items():
        name = path.removeprefix("/api/v2/").removesuffix(".json")
        paths[path] = {"get": {
            "tags": ["Public API v2"],
            "operationId": "v2_" + name.replace("/", "_").replace("-", "_"),
            "summary": summary,
            "security": [],
            "parameters": [{"$ref": "#/components/parameters/IfNoneMatch"}],
            "responses": {
                "200": {
                    "description": summary,
                    "headers": {
                        "ETag": {"$ref": "#/components/headers/ETag"},
                        "Cache-Control": {"$ref": "#/components/headers/CacheControl"},
                        "Access-Control-Allow-Origin": {
                            "$ref": "#/components/headers/AllowAnyOrigin"},
                    },
                    "content": {"application/json": {"schema": _ref(schema)}},
                },
                "304": {"description": "Not modified since the ETag sent."},
            },
        }}
    return paths


# --- management API v1 --------------------------------------------------------------------------

def _open(properties: dict[str, Any], required: list[str], description: str) -> dict[str, Any]:
    return {"type": "object", "description": description, "properties": properties,
            "required": required}


def _wrapped(name: str, schema: str, required: bool = True) -> dict[str, Any]:
    body = {"type": "object", "properties": {name: _ref(schema)}}
    if required:
        body["required"] = [name]
    return {"required": True, "content": {"application/json": {"schema": body}}}


def _v1_schemas() -> dict[str, Any]:
    statuses = _values(IncidentStatus, MaintenanceStatus)
    incident_fields = {
        "name": {"type": "string"},
        "status": {"type": "string", "enum": statuses},
        "impact_override": _nullable({"type": "string", "enum": [*_values(Impact), None]}),
        "body": {"type": "string", "description": "Markdown; becomes the new update's body."},
        "deliver_notifications": {"type": "boolean"},
        "components": {
            "type": "object", "additionalProperties": _ref("ComponentStatus"),
            "description": "Component id to the status it moves to, as part of this change; "
                           "shows up as the new update's affected_components.",
        },
        "component_ids": {"type": "array", "items": {"type": "string"}},
        "scheduled_for": {"type": "string", "format": "date-time"},
        "scheduled_until": {"type": "string", "format": "date-time"},
        "scheduled_remind_prior": {"type": "boolean"},
        "scheduled_auto_in_progress": {"type": "boolean"},
        "scheduled_auto_completed": {"type": "boolean"},
        "auto_transition_to_maintenance_state": {"type": "boolean"},
        "auto_transition_to_operational_state": {"type": "boolean"},
        "auto_transition_deliver_notifications_at_start": {"type": "boolean"},
        "auto_transition_deliver_notifications_at_end": {"type": "boolean"},
        "backfilled": {"type": "boolean"},
        "backfill_date": {"type": "string"},
        "metadata": {"type": "object"},
    }
    return {
        "Error": {
            "type": "object", "required": ["error", "message"],
            "properties": {
                "error": {"type": "string", "examples": ["Unprocessable Entity"]},
                "message": {"type": "string",
                            "examples": ["Unknown status 'broken'; use one of ..."]},
                "field": {"type": "string", "description": "The bad field, when one is."},
            },
        },
        "PageV1": _open({
            "id": _ID, "name": {"type": "string"}, "url": _nullable({"type": "string"}),
            "time_zone": {"type": "string"}, "updated_at": _TIME_OR_NULL,
            "created_at": _TIME_OR_NULL, "support_url": _nullable({"type": "string"}),
        }, ["id", "name", "url", "time_zone"], "The page: the v2 page and its settings."),
        "PageInput": {"type": "object", "properties": {
            "name": {"type": "string"}, "url": {"type": "string"},
            "time_zone": {"type": "string", "description": "An IANA time zone name."},
            "support_url": {"type": "string"},
        }},
        "ComponentV1": _open({
            "id": _ID, "page_id": _ID, "group_id": _nullable({"type": "string"}),
            "name": {"type": "string"}, "description": _nullable({"type": "string"}),
            "status": _ref("ComponentStatus"), "position": {"type": "integer"},
            "showcase": {"type": "boolean"}, "only_show_if_degraded": {"type": "boolean"},
            "start_date": _nullable({"type": "string", "format": "date"}),
            "group": {"type": "boolean"},
            "components": {"type": "array", "items": {"type": "string"},
                           "description": "A group's members' ids (groups only)."},
            "automation_email": {"type": "null",
                                 "description": "Always null: no email automation here."},
            "created_at": _TIME, "updated_at": _TIME,
        }, ["id", "name", "status", "group"],
            "A component (or group), as v2 shows it, plus automation_email."),
        "ComponentInput": {"type": "object", "properties": {
            "name": {"type": "string"}, "description": _nullable({"type": "string"}),
            "status": _ref("ComponentStatus"), "group_id": _nullable({"type": "string"}),
            "showcase": {"type": "boolean"}, "only_show_if_degraded": {"type": "boolean"},
            "start_date": _nullable({"type": "string", "format": "date"}),
        }},
        "ComponentGroupV1": _open({
            "id": {**_ID, "description": "Group ids start with g, as in v2."},
            "page_id": _ID, "name": {"type": "string"},
            "description": _nullable({"type": "string"}), "position": {"type": "integer"},
            "group": {"const": True},
            "components": {"type": "array", "items": {"type": "string"}},
            "automation_email": {"type": "null"},
            "created_at": _TIME, "updated_at": _TIME,
        }, ["id", "name", "group", "components"],
            "A component group in the shape of a component, with its members' ids."),
        "ComponentGroupInput": {"type": "object", "properties": {
            "name": {"type": "string"},
            "components": {"type": "array", "items": {"type": "string"}},
        }},
        "IncidentV1": _open({
            "id": _ID, "name": {"type": "string"},
            "status": {"type": "string", "enum": statuses},
            "impact": _ref("Impact"),
            "impact_override": _nullable({"type": "string", "enum": [*_values(Impact), None]}),
            "created_at": _TIME, "updated_at": _TIME, "started_at": _TIME,
            "monitoring_at": _TIME_OR_NULL, "resolved_at": _TIME_OR_NULL,
            "shortlink": {"type": "string"}, "page_id": _ID,
            "incident_updates": {"type": "array", "items": _ref("IncidentUpdate")},
            "components": {"type": "array", "items": _ref("ComponentV1")},
            "postmortem_body": _nullable({"type": "string"}),
            "postmortem_body_last_updated_at": _TIME_OR_NULL,
            "postmortem_published_at": _TIME_OR_NULL,
            "scheduled_for": _TIME_OR_NULL, "scheduled_until": _TIME_OR_NULL,
            "scheduled_remind_prior": _nullable({"type": "boolean"}),
            "scheduled_auto_in_progress": _nullable({"type": "boolean"}),
            "scheduled_auto_completed": _nullable({"type": "boolean"}),
            "auto_transition_to_maintenance_state": _nullable({"type": "boolean"}),
            "auto_transition_to_operational_state": _nullable({"type": "boolean"}),
            "auto_transition_deliver_notifications_at_start": _nullable({"type": "boolean"}),
            "auto_transition_deliver_notifications_at_end": _nullable({"type": "boolean"}),
            "backfilled": {"type": "boolean"},
            "metadata": {"type": "object"},
        }, ["id", "name", "status", "impact", "impact_override", "incident_updates",
            "components", "scheduled_for", "scheduled_until"],
            "The v2 incident plus its management fields."),
        "IncidentInput": {"type": "object", "properties": incident_fields},
        "IncidentUpdateInput": {"type": "object", "properties": {
            "body": {"type": "string"}, "deliver_notifications": {"type": "boolean"},
            "display_at": {"type": "string", "format": "date-time"},
        }},
        "Postmortem": _open({
            "body": _nullable({"type": "string"}),
            "body_draft": _nullable({"type": "string"}),
            "body_updated_at": _TIME_OR_NULL,
            "published_at": _TIME_OR_NULL,
        }, ["body", "published_at"], "An incident's postmortem (Markdown); public once "
            "published."),
        "PostmortemInput": {"type": "object", "properties": {
            "postmortem": {"type": "object", "properties": {
                "body_draft": {"type": "string"}, "body": {"type": "string"}}},
        }},
        "SubscriberV1": _open({
            "id": _ID, "mode": {"const": "email"}, "email": {"type": "string", "format": "email"},
            "components": {"type": "array", "items": {"type": "string"}},
            "quarantined_at": _TIME_OR_NULL, "purge_at": _TIME_OR_NULL, "created_at": _TIME,
        }, ["id", "mode", "email"], "An email subscriber."),
        "SubscriberInput": {"type": "object", "properties": {
            "email": {"type": "string", "format": "email"},
            "component_ids": {"type": "array", "items": {"type": "string"}},
            "skip_confirmation_notification": {"type": "boolean"},
        }, "required": ["email"]},
    }


def _op(op_id: str, summary: str, response: dict[str, Any] | None, *, status: str = "200",
        body: dict[str, Any] | None = None, parameters: list[dict[str, Any]] | None = None,
        errors: tuple[str, ...] = ("401", "403", "404", "429")) -> dict[str, Any]:
    answer: dict[str, Any] = {"description": summary}
    if response is not None:
        answer["content"] = {"application/json": {"schema": response}}
    operation: dict[str, Any] = {
        "tags": [_tag(op_id)], "operationId": op_id, "summary": summary,
        "responses": {status: answer,
                      **{code: {"$ref": f"#/components/responses/{_ERRORS[code]}"}
                         for code in errors}},
    }
    if parameters:
        operation["parameters"] = parameters
    if body is not None:
        operation["requestBody"] = body
        for code in ("409", "422"):
            operation["responses"].setdefault(code, {"$ref": f"#/components/responses/"
                                                             f"{_ERRORS[code]}"})
    return operation


_ERRORS = {"401": "Unauthorized", "403": "Forbidden", "404": "NotFound", "409": "Conflict",
           "422": "Invalid", "429": "TooManyRequests"}
_WRITE_ERRORS = ("401", "403", "404", "409", "422", "429")


def _tag(op_id: str) -> str:
    for word, tag in (("postmortem", "Incidents"), ("group", "Component groups"),
                      ("component", "Components"), ("update", "Incidents"),
                      ("incident", "Incidents"), ("subscriber", "Subscribers"),
                      ("page", "Pages")):
        if word in op_id:
            return tag
    return "Pages"


def _path_param(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}


def _list(schema: str) -> dict[str, Any]:
    return {"type": "array", "items": _ref(schema)}


def _v1_paths() -> dict[str, Any]:
    root = "/api/v1/pages/{page_id}"
    page = [_path_param("page_id")]
    comp_id = [*page, _path_param("component_id")]
    group_id = [*page, _path_param("component_group_id")]
    incident_id = [*page, _path_param("incident_id")]
    update_id = [*incident_id, _path_param("incident_update_id")]
    subscriber_id = [*page, _path_param("subscriber_id")]
    paging = [
        {"name": "q", "in": "query", "schema": {"type": "string"},
         "description": "Search text (incident names, subscriber addresses)."},
        {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1}},
        {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1}},
    ]
    component = _ref("ComponentV1")
    group = _ref("ComponentGroupV1")
    incident = _ref("IncidentV1")
    subscriber = _ref("SubscriberV1")
    component_body = _wrapped("component", "ComponentInput")
    incident_body = _wrapped("incident", "IncidentInput")
    postmortem_body = {"required": True, "content": {
        "application/json": {"schema": _ref("PostmortemInput")}}}
    group_body = {"required": True, "content": {"application/json": {"schema": {
        "type": "object", "required": ["component_group"],
        "properties": {"component_group": _ref("ComponentGroupInput"),
                       "description": {"type": "string"}}}}}}
    paths: dict[str, Any] = {
        "/api/v1/pages": {"get": _op("list_pages", "The pages (this one).", _list("PageV1"),
                                     errors=("401", "429"))},
        root: {
            "parameters": page,
            "get": _op("get_page", "The page.", _ref("PageV1")),
            "patch": _op("update_page", "Change the page's settings.", _ref("PageV1"),
                         body=_wrapped("page", "PageInput")),
            "put": _op("replace_page", "Change the page's settings (as PATCH).",
                       _ref("PageV1"), body=_wrapped("page", "PageInput")),
        },
        f"{root}/components": {
            "parameters": page,
            "get": _op("list_components", "Every component, by position.",
                       _list("ComponentV1")),
            "post": _op("create_component", "Create a component.", component, status="201",
                        body=component_body),
        },
        f"{root}/components/{{component_id}}": {
            "parameters": comp_id,
            "get": _op("get_component", "One component.", component),
            "patch": _op("update_component", "Change a component (its status too).", component,
                         body=component_body),
            "put": _op("replace_component", "Change a component (as PATCH).", component,
                       body=component_body),
            "delete": _op("delete_component",
                          "Delete a component, unless an open incident still names it.", None,
                          status="204", errors=_WRITE_ERRORS),
        },
        f"{root}/component-groups": {
            "parameters": page,
            "get": _op("list_component_groups", "Every component group.",
                       _list("ComponentGroupV1")),
            "post": _op("create_component_group", "Create a group of components.", group,
                        status="201", body=group_body),
        },
        f"{root}/component-groups/{{component_group_id}}": {
            "parameters": group_id,
            "get": _op("get_component_group", "One component group.", group),
            "patch": _op("update_component_group", "Rename a group or change its members.",
                         group, body=group_body),
            "put": _op("replace_component_group", "Change a group (as PATCH).", group,
                       body=group_body),
            "delete": _op("delete_component_group",
                          "Delete a group (its members stay); answers with the group as it "
                          "was.", group),
        },
        f"{root}/incidents": {
            "parameters": page,
            "get": {**_op("list_incidents", "Incidents and maintenances, newest first.",
                          _list("IncidentV1")), "parameters": paging},
            "post": _op("create_incident",
                        "Open an incident, or schedule a maintenance (status scheduled and a "
                        "window).", incident, status="201", body=incident_body),
        },
        f"{root}/incidents/{{incident_id}}": {
            "parameters": incident_id,
            "get": _op("get_incident", "One incident or maintenance.", incident),
            "patch": _op("update_incident",
                         "Change an incident; a new status or body posts a new update.",
                         incident, body=incident_body),
            "put": _op("replace_incident", "Change an incident (as PATCH).", incident,
                       body=incident_body),
            "delete": _op("delete_incident",
                          "Delete an incident; answers with the incident as it was.", incident),
        },
        f"{root}/incidents/{{incident_id}}/incident_updates/{{incident_update_id}}": {
            "parameters": update_id,
            "patch": _op("update_incident_update", "Correct an update's body or time.",
                         _ref("IncidentUpdate"),
                         body=_wrapped("incident_update", "IncidentUpdateInput")),
            "put": _op("replace_incident_update", "Correct an update (as PATCH).",
                       _ref("IncidentUpdate"),
                       body=_wrapped("incident_update", "IncidentUpdateInput")),
        },
        f"{root}/incidents/{{incident_id}}/postmortem": {
            "parameters": incident_id,
            "get": _op("get_postmortem", "The postmortem.", _ref("Postmortem")),
            "put": _op("save_postmortem", "Write the postmortem (not yet published).",
                       _ref("Postmortem"), body=postmortem_body),
            "patch": _op("update_postmortem", "Write the postmortem (as PUT).",
                         _ref("Postmortem"), body=postmortem_body),
        },
        f"{root}/incidents/{{incident_id}}/postmortem/publish": {
            "parameters": incident_id,
            "put": _op("publish_postmortem", "Publish the postmortem of a resolved incident.",
                       _ref("Postmortem"), errors=_WRITE_ERRORS),
            "post": _op("publish_postmortem_post", "Publish the postmortem (as PUT).",
                        _ref("Postmortem"), errors=_WRITE_ERRORS),
        },
        f"{root}/incidents/{{incident_id}}/postmortem/revert": {
            "parameters": incident_id,
            "put": _op("revert_postmortem", "Take the postmortem back to a draft.",
                       _ref("Postmortem"), errors=_WRITE_ERRORS),
            "post": _op("revert_postmortem_post", "Take the postmortem back (as PUT).",
                        _ref("Postmortem"), errors=_WRITE_ERRORS),
        },
        f"{root}/subscribers": {
            "parameters": page,
            "get": {**_op("list_subscribers", "Email subscribers, newest first.",
                          _list("SubscriberV1")), "parameters": paging},
            "post": _op("create_subscriber",
                        "Add a subscriber; confirmed at once with "
                        "skip_confirmation_notification, else sent a confirmation email.",
                        subscriber, status="201",
                        body=_wrapped("subscriber", "SubscriberInput")),
        },
        f"{root}/subscribers/{{subscriber_id}}": {
            "parameters": subscriber_id,
            "get": _op("get_subscriber", "One subscriber.", subscriber),
            "delete": _op("delete_subscriber",
                          "Unsubscribe; answers with the subscriber as it was.", subscriber),
        },
        f"{root}/subscribers/{{subscriber_id}}/resend_confirmation": {
            "parameters": subscriber_id,
            "post": _op("resend_subscriber_confirmation",
                        "Send the confirmation email again (a manage link once confirmed).",
                        subscriber, status="201", errors=_WRITE_ERRORS),
        },
    }
    for name, label in (("unresolved", "Incidents not yet resolved."),
                        ("scheduled", "Maintenances still scheduled."),
                        ("upcoming", "Maintenances still scheduled."),
                        ("active_maintenance", "Maintenances in progress or verifying.")):
        paths[f"{root}/incidents/{name}"] = {
            "parameters": page,
            "get": _op(f"list_incidents_{name}", label, _list("IncidentV1")),
        }
    return paths


def _v1_responses() -> dict[str, Any]:
    def error(description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
        answer: dict[str, Any] = {"description": description, "content": {
            "application/json": {"schema": _ref("Error")}}}
        if headers:
            answer["headers"] = headers
        return answer

    return {
        "Unauthorized": error("No API key, or not a valid one.", {"WWW-Authenticate": {
            "description": "The scheme to use.", "schema": {"type": "string"}}}),
        "Forbidden": error("The key may only read, or the page is not this one."),
        "NotFound": error("No such object."),
        "Conflict": error("Not possible in the object's present state (e.g. publishing the "
                          "postmortem of an unresolved incident)."),
        "Invalid": error("A field is wrong; the message names it (and `field` too)."),
        "TooManyRequests": error("The key's rate limit is used up.", {"Retry-After": {
            "description": "Seconds to wait.", "schema": {"type": "integer"}}}),
    }


# --- the document -------------------------------------------------------------------------------

def document(server_url: str = "", title: str = "Status") -> dict[str, Any]:
    """The OpenAPI 3.1 document of both APIs, served from ``server_url``."""
    return {
        "openapi": OPENAPI_VERSION,
        "info": {"title": f"{title} API", "version": "1.0.0",
                 "summary": "Statuspage-compatible public (v2) and management (v1) APIs.",
                 "description": _INFO_DESCRIPTION},
        "servers": [{"url": server_url or "/", "description": "This status page"}],
        "tags": [
            {"name": "Public API v2", "description": "Read by widgets and monitors; no key."},
            {"name": "Pages"}, {"name": "Components"}, {"name": "Component groups"},
            {"name": "Incidents"}, {"name": "Subscribers"},
        ],
        "security": [{"apiKey": []}],
        "paths": {**_v2_paths(), **_v1_paths()},
        "components": {
            "schemas": {**_v2_schemas(), **_v1_schemas()},
            "securitySchemes": {"apiKey": {
                "type": "apiKey", "in": "header", "name": "Authorization",
                "description": "`OAuth <key>` or `Bearer <key>`: an API key made in the ops "
                               "console or with `flask --app wsgi create-api-key`. Read keys "
                               "may only GET.",
            }},
            "parameters": {"IfNoneMatch": {
                "name": "If-None-Match", "in": "header", "required": False,
                "schema": {"type": "string"},
                "description": "The ETag of a copy you hold; answered 304 while it is current.",
            }},
            "headers": {
                "ETag": {"description": "The page version.", "schema": {"type": "string"}},
                "CacheControl": {"description": "Public, a few seconds.",
                                 "schema": {"type": "string"}},
                "AllowAnyOrigin": {"description": "`*`: any site may fetch it.",
                                   "schema": {"type": "string", "const": "*"}},
            },
            "responses": _v1_responses(),
        },
    }
