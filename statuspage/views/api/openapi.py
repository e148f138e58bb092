"""The OpenAPI 3.1 document of both APIs, built from the routes the views declare and the
JSON Schema of the models they declare (``model_json_schema``, Draft 2020-12 as OpenAPI 3.1
reads it), so the document cannot drift from the code.
"""

from __future__ import annotations

import functools
import re
import types
import typing
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaMode, models_json_schema

from . import v1, v2
from .routes import Route
from .schemas import Error
from .webhooks import ComponentWebhook, IncidentWebhook

OPENAPI_VERSION = "3.1.0"
REF_TEMPLATE = "#/components/schemas/{model}"
WRITE_METHODS = v1.WRITE_METHODS
# The first path segment after the page, by the tag its operations are listed under.
TAGS = {"": "Pages", "components": "Components", "component-groups": "Component groups",
        "incidents": "Incidents", "subscribers": "Subscribers"}

INFO_DESCRIPTION = """\
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
(`{"incident": {...}}`); form encoding (`incident[name]=...`) is accepted too. Each key may make
a set number of requests a minute; beyond it the answer is 429 with `Retry-After`.

**Errors** of both APIs are JSON in one shape, `Error`:
`{"error": "<HTTP reason>", "message": "...", "field": "..."}`; `field` names the one field to
blame, when there is one, and a 422's message starts with it (`status: Unknown status ...`).
"""


class DocumentSchema(GenerateJsonSchema):
    """Pydantic's generator without a title per property (the property's name says it), nor
    a default of null for a field that is simply left out when not sent."""

    def field_title_should_be_set(self, schema: Any) -> bool:
        """Never: titles only repeat the names."""
        return False

    def default_schema(self, schema: Any) -> Any:
        """The field's schema, with its default unless that is "not sent"."""
        json_schema = super().default_schema(schema)
        if isinstance(json_schema, dict) and json_schema.get("default", ...) is None:
            del json_schema["default"]
        return json_schema


def document(server_url: str = "", title: str = "Status") -> dict[str, Any]:
    """The OpenAPI 3.1 document of both APIs, served from ``server_url``."""
    paths, schemas = _built()
    return {
        "openapi": OPENAPI_VERSION,
        "info": {"title": f"{title} API", "version": "1.0.0",
                 "summary": "Statuspage-compatible public (v2) and management (v1) APIs.",
                 "description": INFO_DESCRIPTION},
        "servers": [{"url": server_url or "/", "description": "This status page"}],
        "tags": [{"name": "Public API v2", "description": "Read by widgets and monitors; no key."},
                 *({"name": tag} for tag in TAGS.values())],
        "security": [{"apiKey": []}],
        "paths": paths,
        "webhooks": WEBHOOKS,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"apiKey": {
                "type": "apiKey", "in": "header", "name": "Authorization",
                "description": "`OAuth <key>` or `Bearer <key>`: an API key made in the ops "
                               "console or with `flask --app wsgi create-api-key`. Read keys "
                               "may only GET; only keys with the subscribers scope reach "
                               "`/subscribers` (and every listing there is audited).",
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
            "responses": ERROR_RESPONSES,
        },
    }


def _webhook(model: type[BaseModel], summary: str) -> dict[str, Any]:
    headers = [
        ("Idempotency-Key", "`<page id>-<delivery id>`: the same on every retry."),
        ("X-Statuspage-Timestamp", "Unix seconds when the request was made."),
        ("X-Statuspage-Signature", "`v1=` and the hex HMAC-SHA256 of `<timestamp>.<body>` "
                                   "under the subscriber's signing secret.")]
    return {"post": {
        "summary": summary, "tags": ["Subscribers"], "security": [],
        "parameters": [{"name": name, "in": "header", "required": True,
                        "schema": {"type": "string"}, "description": text}
                       for name, text in headers],
        "requestBody": {"required": True, "content": {"application/json": {
            "schema": {"$ref": REF_TEMPLATE.format(model=model.__name__)}}}},
        "responses": {"2XX": {"description": "Delivered. Any other answer, or none within "
                                             "the timeout, is retried with back-off."}}}}


# What webhook subscribers receive (OpenAPI 3.1 ``webhooks``).
WEBHOOKS = {
    "incident": _webhook(IncidentWebhook, "An incident was created or updated"),
    "component_update": _webhook(ComponentWebhook,
                                 "A component's status was set outside any incident"),
}


def routes() -> list[Route]:
    """Every declared route of both APIs, public first."""
    return [*v2.ROUTES, *v1.ROUTES]


@functools.cache
def _built() -> tuple[dict[str, Any], dict[str, Any]]:
    """The paths and the schemas; the same for every request, so built once."""
    paths: dict[str, Any] = {}
    for route in routes():
        item = paths.setdefault(openapi_path(route.path), {})
        for method in route.methods:
            item[method.lower()] = _operation(route, method)
    return paths, _schemas()


def openapi_path(rule: str) -> str:
    """A Flask rule as an OpenAPI path: ``<page_id>`` as ``{page_id}``."""
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)


# --- schemas -----------------------------------------------------------------------------------

def models_in(kind: Any) -> list[type[BaseModel]]:
    """The models a declared type names: a model, a list of them, a union of them."""
    if isinstance(kind, type) and issubclass(kind, BaseModel):
        return [kind]
    return [model for arg in typing.get_args(kind) for model in models_in(arg)]


def schema_of(kind: Any) -> dict[str, Any]:
    """The JSON Schema of a declared type, its models by reference."""
    if isinstance(kind, type) and issubclass(kind, BaseModel):
        return {"$ref": REF_TEMPLATE.format(model=kind.__name__)}
    if typing.get_origin(kind) is list:
        return {"type": "array", "items": schema_of(typing.get_args(kind)[0])}
    if typing.get_origin(kind) in (typing.Union, types.UnionType):
        return {"anyOf": [schema_of(arg) for arg in typing.get_args(kind)]}
    raise TypeError(f"Cannot describe {kind!r}")


def _schemas() -> dict[str, Any]:
    wanted: dict[type[BaseModel], JsonSchemaMode] = {
        Error: "serialization", IncidentWebhook: "serialization",
        ComponentWebhook: "serialization"}
    for route in routes():
        for model in models_in(route.response):
            wanted[model] = "serialization"
        for model in models_in(route.body.model if route.body else None):
            wanted[model] = "validation"
        if route.query is not None:
            wanted[route.query] = "validation"
    _, found = models_json_schema(list(wanted.items()), ref_template=REF_TEMPLATE,
                                  schema_generator=DocumentSchema)
    return dict(sorted(found["$defs"].items()))


# --- operations --------------------------------------------------------------------------------

def _operation(route: Route, method: str) -> dict[str, Any]:
    name = route.endpoint.rsplit(".", 1)[1]
    if route.public:
        return _public_operation(route, f"v2_{name}")
    first = method == route.methods[0]
    operation: dict[str, Any] = {
        "tags": [_tag(route.path)], "operationId": name if first else f"{name}_{method.lower()}",
        "summary": route.summary, "responses": _responses(route, method),
    }
    parameters = [{"name": p, "in": "path", "required": True, "schema": {"type": "string"}}
                  for p in re.findall(r"<(?:[^:<>]+:)?([^<>]+)>", route.path)]
    if route.query is not None:
        parameters += _query_parameters(route.query)
    if parameters:
        operation["parameters"] = parameters
    if route.body is not None:
        operation["requestBody"] = _request_body(route)
    return operation


def _public_operation(route: Route, operation_id: str) -> dict[str, Any]:
    return {
        "tags": ["Public API v2"], "operationId": operation_id, "summary": route.summary,
        "security": [], "parameters": [{"$ref": "#/components/parameters/IfNoneMatch"}],
        "responses": {
            "200": {
                "description": route.summary,
                "headers": {
                    "ETag": {"$ref": "#/components/headers/ETag"},
                    "Cache-Control": {"$ref": "#/components/headers/CacheControl"},
                    "Access-Control-Allow-Origin": {"$ref": "#/components/headers/AllowAnyOrigin"},
                },
                "content": {"application/json": {"schema": schema_of(route.response)}},
            },
            "304": {"description": "Not modified since the ETag sent."},
        },
    }


def _tag(path: str) -> str:
    rest = path.removeprefix(v1.ROOTS[0] + "/pages").removeprefix("/<page_id>")
    return TAGS.get(rest.strip("/").split("/")[0], "Pages")


def _responses(route: Route, method: str) -> dict[str, Any]:
    answer: dict[str, Any] = {"description": route.summary}
    if route.response is not None:
        answer["content"] = {"application/json": {"schema": schema_of(route.response)}}
    codes = ["401", "429"]
    if "<" in route.path:
        codes.append("404")
    if method in WRITE_METHODS:
        codes += ["403", "409", "422"]
    elif route.query is not None:
        codes.append("422")
    if route.path.startswith(v1.SUBSCRIBERS) and "403" not in codes:
        codes.append("403")  # the subscribers scope
    if route.body is not None:
        codes.append("400")
    return {str(route.status): answer,
            **{code: {"$ref": f"#/components/responses/{ERRORS[code]}"} for code in sorted(codes)}}


def _query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    schema = model.model_json_schema(schema_generator=DocumentSchema)
    return [{"name": name, "in": "query", "schema": prop,
             **({"description": prop["description"]} if "description" in prop else {})}
            for name, prop in schema["properties"].items()]


def _request_body(route: Route) -> dict[str, Any]:
    assert route.body is not None
    properties = {route.body.resource: schema_of(route.body.model)}
    if route.body.beside:
        fields = route.body.model.model_json_schema(schema_generator=DocumentSchema)
        properties.update({name: fields["properties"][name] for name in route.body.beside})
    return {"required": True, "content": {"application/json": {"schema": {
        "type": "object", "required": [route.body.resource], "properties": properties}}},
        "description": f"The {route.body.resource.replace('_', ' ')}, wrapped in its name (an "
                       f"unwrapped object is read too), as JSON or as form fields "
                       f"(`{route.body.resource}[name]=...`)."}


def _error(description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    answer: dict[str, Any] = {"description": description, "content": {
        "application/json": {"schema": {"$ref": REF_TEMPLATE.format(model="Error")}}}}
    if headers:
        answer["headers"] = headers
    return answer


ERRORS = {"400": "BadRequest", "401": "Unauthorized", "403": "Forbidden", "404": "NotFound",
          "409": "Conflict", "422": "Invalid", "429": "TooManyRequests"}
ERROR_RESPONSES = {
    "BadRequest": _error("The body is not valid JSON."),
    "Unauthorized": _error("No API key, or not a valid one.", {"WWW-Authenticate": {
        "description": "The scheme to use.", "schema": {"type": "string"}}}),
    "Forbidden": _error("The key's scope does not cover this: a read key may only read, and "
                        "subscriber addresses need the subscribers scope."),
    "NotFound": _error("No such object (or not this page's id)."),
    "Conflict": _error("Not possible in the object's present state (e.g. deleting a component "
                       "an open incident names)."),
    "Invalid": _error("A field is wrong; the message starts with its name, and `field` names "
                      "it too."),
    "TooManyRequests": _error("The key's rate limit is used up.", {"Retry-After": {
        "description": "Seconds to wait.", "schema": {"type": "integer"}}}),
}
