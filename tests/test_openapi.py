"""The OpenAPI document: a valid 3.1 document, naming every API route, and true to the responses."""

from __future__ import annotations

import copy
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

from statuspage import incidents as inc
from statuspage import maintenance as maint
from statuspage.views.api import openapi, v2

V2_PATHS = sorted(route.path for route in v2.ROUTES)

METHODS = {"get", "put", "post", "patch", "delete"}


def normalise(path: str) -> str:
    """One spelling per route: placeholders blanked, `.json` (also as the optional suffix of a
    v1 rule) dropped, `/v1` as `/api/v1`."""
    path = re.sub(r"<json:[^<>]+>$", "", path)
    path = re.sub(r"<(?:[^:<>]+:)?[^<>]+>", "{}", path)
    path = re.sub(r"\{[^}]+\}", "{}", path).removesuffix(".json")
    return "/api" + path if path == "/v1" or path.startswith("/v1/") else path


def spec_operations(document: dict[str, Any], prefix: str) -> set[tuple[str, str]]:
    return {(normalise(path), method.upper())
            for path, item in document["paths"].items() if path.startswith(prefix)
            for method in item if method in METHODS}


def route_operations(app: Any, prefix: str) -> set[tuple[str, str]]:
    return {(normalise(rule.rule), method)
            for rule in app.url_map.iter_rules()
            if normalise(rule.rule).startswith(prefix)
            for method in rule.methods - {"HEAD", "OPTIONS"}}


def validator_for(document: dict[str, Any], schema: dict[str, Any]) -> Draft202012Validator:
    """A Draft 2020-12 validator of ``schema``, its $refs resolved in the document."""
    rooted = {**schema, "components": {"schemas": document["components"]["schemas"]}}
    return Draft202012Validator(rooted, format_checker=Draft202012Validator.FORMAT_CHECKER)


def named(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def response_schema(document: dict[str, Any], path: str, method: str = "get",
                    status: str = "200") -> dict[str, Any]:
    """The JSON schema the document gives for one response of one operation."""
    answer = document["paths"][path][method]["responses"][status]
    if "$ref" in answer:
        answer = document["components"]["responses"][answer["$ref"].rsplit("/", 1)[1]]
    if "content" not in answer:
        return {"type": "null"}  # no body, as get_json() reads it
    return answer["content"]["application/json"]["schema"]


def schema_errors(document: dict[str, Any], schema: dict[str, Any], body: Any) -> list[str]:
    return [f"{list(e.absolute_path)}: {e.message}"
            for e in validator_for(document, schema).iter_errors(body)]


@pytest.fixture
def document(client: Any) -> dict[str, Any]:
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    assert response.content_type == "application/json"
    return response.get_json()


@pytest.fixture
def busy_page(make_component: Any, make_group: Any, make_incident: Any,
              make_maintenance: Any) -> dict[str, Any]:
    """Every kind of object the v2 API shows, in most of their states."""
    api = make_component("API", description="Public REST API")
    web = make_component("Web")
    group = make_group("Platform", component_ids=[web.id])
    make_component("Dashboard", group_id=group.id)
    open_incident = make_incident("Elevated errors", components={api.id: "partial_outage"})
    inc.post_update(open_incident, status="identified", body="Found it.")
    resolved = make_incident("Old outage", components={web.id: "major_outage"})
    inc.resolve_incident(resolved)
    upcoming = make_maintenance("Database upgrade", component_ids=[web.id])
    start = datetime.now(UTC) - timedelta(minutes=30)
    running = make_maintenance("Network work", scheduled_for=start, component_ids=[api.id])
    maint.start_maintenance(running)
    done = make_maintenance("Old window", scheduled_for=start - timedelta(days=3))
    maint.start_maintenance(done)
    inc.resolve_incident(done)
    return {"incident": open_incident, "maintenance": upcoming, "running": running}


def test_document_is_a_valid_openapi_3_1_document(document: dict[str, Any]) -> None:
    assert document["openapi"].startswith("3.1.")
    validate(document)


def test_document_names_the_server_of_base_url(document: dict[str, Any]) -> None:
    assert document["servers"][0]["url"] == "http://status.test"
    assert document["info"]["title"] == "Acme API"


def test_document_ignores_the_host_header_it_is_asked_with(client: Any, db: Any) -> None:
    # It is cached publicly: a forged Host must not end up in every reader's copy.
    response = client.get("/api/openapi.json", headers={"Host": "attacker.example",
                                                        "X-Forwarded-Host": "attacker.example"})
    assert response.get_json()["servers"] == [
        {"url": "http://status.test", "description": "This status page"}]
    assert b"attacker.example" not in response.data


def test_document_lists_exactly_the_v2_routes(app: Any, document: dict[str, Any]) -> None:
    routes = route_operations(app, "/api/v2")
    assert len(routes) == len(V2_PATHS) == 8
    assert spec_operations(document, "/api/v2") == routes


def test_every_v1_route_appears_in_the_document(app: Any, document: dict[str, Any]) -> None:
    routes = route_operations(app, "/api/v1")
    described = spec_operations(document, "/api/v1")
    assert ("/api/v1/pages/{}/incidents", "POST") in described
    assert routes - described == set()


def test_v1_is_described_with_its_key_and_json_errors(document: dict[str, Any]) -> None:
    scheme = document["components"]["securitySchemes"]["apiKey"]
    assert (scheme["type"], scheme["in"], scheme["name"]) == ("apiKey", "header", "Authorization")
    create = document["paths"]["/api/v1/pages/{page_id}/incidents"]["post"]
    body = create["requestBody"]["content"]["application/json"]["schema"]
    assert body["required"] == ["incident"]
    assert {"401", "403", "404", "422", "429"} <= set(create["responses"])
    assert document["components"]["schemas"]["Error"]["required"] == ["error", "message"]
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                public = path.startswith("/api/v2/")
                assert (operation.get("security") == []) is public, (path, method)


@pytest.mark.parametrize("path", V2_PATHS)
def test_v2_responses_match_their_schemas(client: Any, document: dict[str, Any],
                                          busy_page: dict[str, Any], path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert schema_errors(document, response_schema(document, path), response.get_json()) == []


def test_summary_holds_every_kind_of_object_it_is_checked_against(
        client: Any, busy_page: dict[str, Any]) -> None:
    summary = client.get("/api/v2/summary.json").get_json()
    assert any(c["group"] for c in summary["components"])
    assert any(not c["group"] for c in summary["components"])
    assert any(u["affected_components"] for u in summary["incidents"][0]["incident_updates"])
    assert {m["status"] for m in summary["scheduled_maintenances"]} == {"scheduled",
                                                                         "in_progress"}


@pytest.mark.parametrize("spoil", [
    pytest.param(lambda s: s["components"][0].update(status="broken"), id="unknown-status"),
    pytest.param(lambda s: s["incidents"][0].pop("shortlink"), id="missing-field"),
    pytest.param(lambda s: s["incidents"][0].update(extra=1), id="extra-field"),
    pytest.param(lambda s: s["page"].update(updated_at="2024-05-14T09:12:40Z"),
                 id="timestamp-without-milliseconds"),
    pytest.param(lambda s: s["status"].update(indicator="fine"), id="unknown-indicator"),
    pytest.param(lambda s: s["scheduled_maintenances"][0].update(status="investigating"),
                 id="incident-status-on-maintenance"),
    pytest.param(lambda s: s["incidents"][0]["incident_updates"][0].update(tweet_id="1"),
                 id="tweet-id-not-null"),
])
def test_schemas_refuse_responses_that_break_the_contract(
        client: Any, document: dict[str, Any], busy_page: dict[str, Any], spoil: Any) -> None:
    summary = copy.deepcopy(client.get("/api/v2/summary.json").get_json())
    validator = validator_for(document, named("SummaryResponse"))
    assert validator.is_valid(summary)
    spoil(summary)
    assert not validator.is_valid(summary)


def test_docs_page_renders_the_document_with_local_swagger_ui(client: Any) -> None:
    page = client.get("/api/docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'data-document="/api/openapi.json"' in html
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    # Swagger UI's own files and the few lines that start it, all from this server (no CDN).
    assert sources and all(s.startswith(("/api/docs/assets/", "/static/")) for s in sources)
    assert "/static/api_docs.js" in sources
    for source in sources:
        with client.get(source) as asset:
            assert asset.status_code == 200, source
            assert asset.data
    with client.get("/api/docs/assets/swagger-ui-bundle.js") as bundle:
        assert bundle.content_type.startswith(("text/javascript", "application/javascript"))
    # Swagger UI renders OpenAPI 3.1 from version 5 on.
    with client.get("/api/docs/assets/VERSION") as asset:
        version = asset.get_data(as_text=True).strip()
    assert int(version.lstrip("v").split(".")[0]) >= 5


def test_docs_assets_do_not_leave_their_folder(client: Any) -> None:
    assert client.get("/api/docs/assets/../__init__.py").status_code == 404
    assert client.get("/api/docs/assets/%2e%2e/__init__.py").status_code == 404


# --- the management API v1, through real responses --------------------------------------------

class V1:
    """Calls the management API with a write key and checks each answer against the document."""

    def __init__(self, client: Any, document: dict[str, Any], token: str) -> None:
        self.client, self.document, self.token = client, document, token
        self.page_id = ""

    def call(self, method: str, path: str, status: int, body: Any = None,
             token: str | None = None) -> Any:
        url = path.format(page_id=self.page_id, **self.ids) if hasattr(self, "ids") else path
        response = self.client.open(url, method=method.upper(), json=body, headers={
            "Authorization": f"OAuth {self.token if token is None else token}"})
        assert response.status_code == status, response.get_data(as_text=True)
        template = "/api/v1" + path.removeprefix("/api/v1").removeprefix("/v1")
        template = template.removesuffix(".json")
        schema = response_schema(self.document, template, method, str(status))
        data = response.get_json()
        assert schema_errors(self.document, schema, data) == [], (method, path)
        return data


@pytest.fixture
def v1(client: Any, document: dict[str, Any], db: Any) -> V1:
    from statuspage.staff import create_api_key

    _, token = create_api_key("openapi test", scope="write", subscribers=True)
    api = V1(client, document, token)
    api.ids = {}
    api.page_id = api.call("get", "/api/v1/pages", 200)[0]["id"]
    return api


def test_v1_responses_match_their_schemas(v1: V1) -> None:
    root = "/api/v1/pages/{page_id}"
    v1.call("get", root, 200)
    v1.call("patch", root, 200, {"page": {"name": "Acme"}})
    api = v1.call("post", f"{root}/components", 201, {"component": {"name": "API"}})
    web = v1.call("post", f"{root}/components.json", 201, {"component": {"name": "Web"}})
    group = v1.call("post", f"{root}/component-groups", 201,
                    {"component_group": {"name": "Platform", "components": [web["id"]]}})
    v1.ids.update(component_id=api["id"], component_group_id=group["id"])
    v1.call("get", f"{root}/components", 200)
    v1.call("patch", root + "/components/{component_id}", 200,
            {"component": {"description": "Public REST API"}})
    v1.call("get", root + "/component-groups/{component_group_id}", 200)
    incident = v1.call("post", f"{root}/incidents", 201, {"incident": {
        "name": "Elevated errors", "status": "investigating", "body": "Looking.",
        "components": {api["id"]: "partial_outage"}}})
    v1.ids["incident_id"] = incident["id"]
    updated = v1.call("patch", "/v1/pages/{page_id}/incidents/{incident_id}.json", 200,
                      {"incident": {"status": "resolved", "body": "Fixed.",
                                    "components": {api["id"]: "operational"}}})
    v1.ids["incident_update_id"] = updated["incident_updates"][0]["id"]
    v1.call("patch", root + "/incidents/{incident_id}/incident_updates/{incident_update_id}",
            200, {"incident_update": {"body": "Fixed for good."}})
    v1.call("put", root + "/incidents/{incident_id}/postmortem", 200,
            {"postmortem": {"body_draft": "What happened."}})
    v1.call("put", root + "/incidents/{incident_id}/postmortem/publish", 200)
    v1.call("get", root + "/incidents/{incident_id}/postmortem", 200)
    v1.call("post", f"{root}/incidents", 201, {"incident": {
        "name": "Database upgrade", "status": "scheduled",
        "scheduled_for": "2030-01-01T02:00:00Z", "scheduled_until": "2030-01-01T04:00:00Z",
        "component_ids": [web["id"]]}})
    for listing in ("incidents", "incidents/unresolved", "incidents/scheduled",
                    "incidents/upcoming", "incidents/active_maintenance"):
        v1.call("get", f"{root}/{listing}", 200)
    subscriber = v1.call("post", f"{root}/subscribers", 201, {"subscriber": {
        "email": "reader@example.com", "skip_confirmation_notification": True}})
    v1.ids["subscriber_id"] = subscriber["id"]
    v1.call("get", f"{root}/subscribers", 200)
    v1.call("get", root + "/subscribers/{subscriber_id}", 200)
    v1.call("delete", root + "/subscribers/{subscriber_id}", 200)
    v1.call("delete", root + "/component-groups/{component_group_id}", 200)
    v1.call("delete", root + "/incidents/{incident_id}", 200)
    v1.call("delete", root + "/components/{component_id}", 204)


def test_v1_errors_match_the_error_schema(v1: V1) -> None:
    root = "/api/v1/pages/{page_id}"
    v1.ids["incident_id"] = "999999"
    missing = v1.call("get", root + "/incidents/{incident_id}", 404)
    assert missing["error"] and missing["message"]
    bad = v1.call("post", f"{root}/incidents", 422,
                  {"incident": {"name": "X", "status": "broken"}})
    assert bad["field"] == "status"
    v1.call("get", f"{root}/components", 401, token="sp_not-a-key")


@pytest.mark.browser
def test_docs_page_renders_every_operation_in_a_browser_without_the_network(
        browser: Any, live_server: str) -> None:
    outside: list[str] = []
    tab = browser.new_page()
    try:
        tab.on("request", lambda r: None if r.url.startswith(live_server)
               else outside.append(r.url))
        tab.goto(f"{live_server}/api/docs")
        tab.wait_for_selector(".opblock-summary", timeout=15_000)
        operations = tab.locator(".opblock").count()
        title = tab.locator(".info .title").inner_text()
    finally:
        tab.close()
    document = openapi.document()
    described = [*document["paths"].values(), *document["webhooks"].values()]
    assert operations == sum(1 for item in described for method in item if method in METHODS)
    assert "Acme API" in title
    assert [u for u in outside if not u.startswith("data:")] == []
