"""The management API v1: keys, both roots and path spellings, bodies, errors, the lifecycle."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from statuspage import components as comp
from statuspage import incidents as inc
from statuspage import notifications as notify
from statuspage import site, staff
from statuspage import subscriptions as subs
from statuspage.dbtypes import utcnow
from statuspage.outbox import Delivery, DeliveryKind, Notice
from statuspage.site import get_page_settings
from statuspage.vocabulary import ComponentStatus
from tests.smtp import body_of

ISO = "%Y-%m-%dT%H:%M:%SZ"


class Api:
    """The test client speaking to the management API with one key."""

    def __init__(self, client: Any, token: str, page_id: str, root: str = "/api/v1") -> None:
        self.client = client
        self.token = token
        self.page_id = page_id
        self.root = root

    def url(self, path: str) -> str:
        return f"{self.root}/pages/{self.page_id}{path}"

    def call(self, method: str, path: str, *, scheme: str = "OAuth", **kwargs: Any) -> Any:
        headers = {"Authorization": f"{scheme} {self.token}", **kwargs.pop("headers", {})}
        return self.client.open(self.url(path), method=method, headers=headers, **kwargs)

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.call("GET", path, **kwargs)

    def post(self, path: str, body: Any = None, **kwargs: Any) -> Any:
        return self.call("POST", path, json=body, **kwargs)

    def patch(self, path: str, body: Any = None, **kwargs: Any) -> Any:
        return self.call("PATCH", path, json=body, **kwargs)

    def put(self, path: str, body: Any = None, **kwargs: Any) -> Any:
        return self.call("PUT", path, json=body, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Any:
        return self.call("DELETE", path, **kwargs)


@pytest.fixture
def page_id(db: Any) -> str:
    return get_page_settings().page_code


@pytest.fixture
def write_token(db: Any) -> str:
    return staff.create_api_key("deploy bot", scope="write", subscribers=True,
                                actor="ops@example.com")[1]


@pytest.fixture
def read_token(db: Any) -> str:
    return staff.create_api_key("dashboard", scope="read", actor="ops@example.com")[1]


@pytest.fixture
def api(client: Any, write_token: str, page_id: str) -> Api:
    return Api(client, write_token, page_id)


def v2(client: Any, path: str = "summary") -> Any:
    response = client.get(f"/api/v2/{path}.json")
    assert response.status_code == 200
    return response.get_json()


def error_of(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) >= {"error", "message"}
    return body


# --- authentication -------------------------------------------------------------------------------

def test_a_request_without_a_key_is_refused_with_401_json(client: Any, page_id: str) -> None:
    body = error_of(client.get(f"/api/v1/pages/{page_id}/components"), 401)
    assert "Authorization: OAuth" in body["message"]


@pytest.mark.parametrize("header", [
    "OAuth sp_not-a-real-key", "Bearer sp_not-a-real-key", "OAuth", "Basic dXNlcjpwYXNz",
    "OAuth nonsense",
])
def test_a_wrong_key_is_refused_with_401_json(client: Any, page_id: str, write_token: str,
                                              header: str) -> None:
    response = client.get(f"/v1/pages/{page_id}/components", headers={"Authorization": header})
    error_of(response, 401)


@pytest.mark.parametrize("scheme", ["OAuth", "Bearer", "oauth", "bearer"])
def test_oauth_and_bearer_schemes_both_carry_the_key(api: Api, scheme: str) -> None:
    assert api.get("/components", scheme=scheme).status_code == 200


def test_a_revoked_key_stops_working_at_once(api: Api, db: Any) -> None:
    assert api.get("/components").status_code == 200
    [key] = staff.all_api_keys()
    staff.revoke_api_key(key, actor="ops@example.com")
    error_of(api.get("/components"), 401)


def test_a_read_key_reads_but_may_not_write(client: Any, read_token: str, page_id: str,
                                            make_component: Any) -> None:
    component = make_component("API")
    reader = Api(client, read_token, page_id)
    assert reader.get("/components").status_code == 200
    error_of(reader.post("/components", {"component": {"name": "Web"}}), 403)
    error_of(reader.patch(f"/components/{component.id}",
                          {"component": {"status": "major_outage"}}), 403)
    error_of(reader.delete(f"/components/{component.id}"), 403)
    assert comp.get_component(component.id).status is ComponentStatus.OPERATIONAL


def test_cookies_play_no_part_and_csrf_does_not_apply(logged_in: Any, page_id: str) -> None:
    # A signed-in admin's session is no API key...
    error_of(logged_in.client.get(f"/api/v1/pages/{page_id}/components"), 401)
    # ...and a keyed POST needs no CSRF token even from a client that has a session.
    token = staff.create_api_key("bot", scope="write")[1]
    response = Api(logged_in.client, token, page_id).post("/components",
                                                          {"component": {"name": "API"}})
    assert response.status_code == 201, response.get_data(as_text=True)


def test_an_unknown_page_id_is_404_json(api: Api) -> None:
    api.page_id = "nosuchpage"
    error_of(api.get("/components"), 404)


# --- roots, spellings, bodies ---------------------------------------------------------------------

@pytest.mark.parametrize("root", ["/api/v1", "/v1"])
@pytest.mark.parametrize("suffix", ["", ".json"])
def test_both_roots_and_both_path_spellings_answer(client: Any, write_token: str, page_id: str,
                                                   make_component: Any, make_incident: Any,
                                                   root: str, suffix: str) -> None:
    component = make_component("API")
    incident = make_incident("Slow", components={component.id: "degraded_performance"})
    headers = {"Authorization": f"OAuth {write_token}"}
    listed = client.get(f"{root}/pages{suffix}", headers=headers)
    assert listed.status_code == 200 and listed.get_json()[0]["id"] == page_id
    for path, key, expected in [
        (f"/pages/{page_id}{suffix}", "id", page_id),
        (f"/pages/{page_id}/components/{component.id}{suffix}", "id", str(component.id)),
        (f"/pages/{page_id}/incidents/{incident.id}{suffix}", "name", "Slow"),
    ]:
        response = client.get(f"{root}{path}", headers=headers)
        assert response.status_code == 200, path
        assert response.get_json()[key] == expected
        assert response.headers["Cache-Control"] == "no-store"
    for path in ("incidents", "incidents/unresolved", "components"):
        response = client.get(f"{root}/pages/{page_id}/{path}{suffix}", headers=headers)
        assert response.status_code == 200 and len(response.get_json()) == 1, path
    # Written through one spelling, read through the other.
    created = client.post(f"{root}/pages/{page_id}/components{suffix}", headers=headers,
                          json={"component": {"name": "Web"}})
    assert created.status_code == 201
    assert created.get_json()["name"] == "Web"


def test_form_encoded_bodies_are_read_like_json(api: Api, make_component: Any, db: Any
                                                ) -> None:
    first, second = make_component("API"), make_component("Web")
    response = api.call("POST", "/incidents", data={
        "incident[name]": "Errors on checkout",
        "incident[status]": "identified",
        "incident[body]": "We found it.",
        f"incident[components][{first.id}]": "major_outage",
        "incident[component_ids][]": [str(first.id), str(second.id)],
        "incident[deliver_notifications]": "false",
    })
    assert response.status_code == 201, response.get_data(as_text=True)
    incident = response.get_json()
    assert incident["status"] == "identified"
    [update] = incident["incident_updates"]
    assert update["body"] == "We found it."
    assert update["deliver_notifications"] is False
    assert {(a["code"], a["new_status"]) for a in update["affected_components"]} == {
        (str(first.id), "major_outage"), (str(second.id), "operational")}
    assert comp.get_component(first.id).status is ComponentStatus.MAJOR_OUTAGE


def test_form_content_type_on_get_and_delete_without_a_body_is_accepted(
        api: Api, make_component: Any) -> None:
    component = make_component("API")
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    assert api.get("/components", headers=form).status_code == 200
    assert api.delete(f"/components/{component.id}", headers=form).status_code == 204
    assert api.get(f"/components/{component.id}").status_code == 404


@pytest.mark.parametrize("path", ["/v1", "/api/v1", "/v1/nothing", "/api/v1/pages.json.json"])
def test_paths_off_the_surface_are_json_404s(client: Any, write_token: str, path: str) -> None:
    error_of(client.get(path, headers={"Authorization": f"OAuth {write_token}"}), 404)


def test_a_body_that_is_not_json_is_a_400_json_error(api: Api) -> None:
    response = api.call("POST", "/components", data="{not json",
                        headers={"Content-Type": "application/json"})
    error_of(response, 400)


# --- bad input: 422 naming the field, 404 for unknown ids -----------------------------------------

def _window(start_hours: int, end_hours: int) -> dict[str, str]:
    now = datetime.now(UTC)
    return {"scheduled_for": (now + timedelta(hours=start_hours)).strftime(ISO),
            "scheduled_until": (now + timedelta(hours=end_hours)).strftime(ISO)}


@pytest.mark.parametrize(("path", "body", "field"), [
    ("/components", {"component": {"name": ""}}, "name"),
    ("/components", {"component": {"name": "X", "status": "on_fire"}}, "status"),
    ("/components", {"component": {"name": "X", "group_id": "g999"}}, "group_id"),
    ("/components", {"component": {"name": "X", "start_date": "yesterday"}}, "start_date"),
    ("/components", {"component": {"name": "X", "showcase": "perhaps"}}, "showcase"),
    ("/incidents", {"incident": {"name": ""}}, "name"),
    ("/incidents", {"incident": {"name": "X", "status": "panicking"}}, "status"),
    ("/incidents", {"incident": {"name": "X", "components": {"999": "major_outage"}}},
     "components"),
    ("/incidents", {"incident": {"name": "X", "component_ids": ["999"]}}, "component_ids"),
    ("/incidents", {"incident": {"name": "X", "impact_override": "apocalyptic"}},
     "impact_override"),
    ("/incidents", {"incident": {"name": "X", "status": "scheduled", **_window(5, 2)}},
     "scheduled_until"),
    ("/incidents", {"incident": {"name": "X", "status": "scheduled",
                                 "scheduled_for": "tomorrow", "scheduled_until": "later"}},
     "scheduled_for"),
    ("/subscribers", {"subscriber": {"email": "not an address"}}, "email"),
    ("/component-groups", {"component_group": {"name": "G", "components": ["999"]}},
     "components"),
])
def test_bad_input_is_422_naming_the_field_and_changes_nothing(api: Api, db: Any, path: str,
                                                               body: Any, field: str) -> None:
    before = api.get(path).get_json()
    response = api.post(path, body)
    result = error_of(response, 422)
    assert result["field"] == field
    assert result["message"].startswith(f"{field}: ")
    assert api.get(path).get_json() == before


def test_an_unknown_component_status_in_an_update_is_422(api: Api, make_component: Any,
                                                         make_incident: Any) -> None:
    component = make_component("API")
    incident = make_incident("Slow")
    response = api.patch(f"/incidents/{incident.id}",
                         {"incident": {"components": {str(component.id): "melting"}}})
    assert error_of(response, 422)["field"] == "components"
    assert len(inc.get_incident(incident.id).updates) == 1


@pytest.mark.parametrize("kind", ["incident", "maintenance"])
def test_a_patch_refused_for_one_field_changes_nothing_at_all(
        api: Api, db: Any, make_component: Any, make_incident: Any, make_maintenance: Any,
        kind: str) -> None:
    component = make_component("API")
    target = (make_incident("Slow", components={component.id: "degraded_performance"})
              if kind == "incident" else make_maintenance("Upgrade", component_ids=[component.id]))
    before = site.page_version()
    response = api.patch(f"/incidents/{target.id}", {"incident": {
        "name": "Renamed", "status": "monitoring" if kind == "incident" else "in_progress",
        "components": {"999999": "major_outage"}}})
    assert error_of(response, 422)["field"] == "components"
    db.session.expire_all()
    again = inc.get_incident(target.id)
    assert again.name == ("Slow" if kind == "incident" else "Upgrade")
    assert len(again.updates) == 1 and again.status in {"investigating", "scheduled"}
    assert comp.get_component(component.id).status is (
        ComponentStatus.DEGRADED_PERFORMANCE if kind == "incident"
        else ComponentStatus.OPERATIONAL)
    assert site.page_version() == before


@pytest.mark.parametrize("path", [
    "/components/999", "/components/abc", "/component-groups/g999", "/incidents/999",
    "/incidents/999/postmortem", "/subscribers/999",
])
def test_unknown_ids_are_404_json(api: Api, path: str) -> None:
    error_of(api.get(path), 404)


def test_an_unknown_incident_update_is_404_json(api: Api, make_incident: Any) -> None:
    incident = make_incident()
    response = api.patch(f"/incidents/{incident.id}/incident_updates/999",
                         {"incident_update": {"body": "x"}})
    error_of(response, 404)


# --- the lifecycle, checked through v2 after every step -------------------------------------------

def test_incident_lifecycle_through_v1_shows_in_v2_at_every_step(api: Api, client: Any,
                                                                 db: Any) -> None:
    # A component.
    created = api.post("/components", {"component": {
        "name": "API", "description": "Public REST API", "start_date": "2019-03-01"}})
    assert created.status_code == 201
    component = created.get_json()
    assert component["automation_email"] is None
    cid = component["id"]
    summary = v2(client)
    assert [c["name"] for c in summary["components"]] == ["API"]
    assert summary["status"]["indicator"] == "none"

    # An incident that takes it down.
    opened = api.post("/incidents", {"incident": {
        "name": "API errors", "status": "investigating", "body": "Looking into it.",
        "components": {cid: "major_outage"}, "deliver_notifications": True}})
    assert opened.status_code == 201
    incident = opened.get_json()
    iid = incident["id"]
    assert incident["impact"] == "critical"
    assert incident["incident_updates"][0]["affected_components"] == [
        {"code": cid, "name": "API", "old_status": "operational", "new_status": "major_outage"}]
    summary = v2(client)
    assert summary["status"] == {"indicator": "critical", "description": "Major System Outage"}
    assert [i["id"] for i in summary["incidents"]] == [iid]
    assert summary["components"][0]["status"] == "major_outage"

    # Updates: identified with a better status, then monitoring with a body only.
    patched = api.patch(f"/incidents/{iid}", {"incident": {
        "status": "identified", "body": "Found a bad deploy.",
        "components": {cid: "partial_outage"}}})
    assert patched.status_code == 200
    assert [u["status"] for u in patched.get_json()["incident_updates"]] == [
        "identified", "investigating"]
    summary = v2(client)
    assert summary["incidents"][0]["status"] == "identified"
    assert summary["components"][0]["status"] == "partial_outage"

    api.put(f"/incidents/{iid}.json", {"incident": {"status": "monitoring",
                                                    "body": "Rolled back."}})
    summary = v2(client)
    assert summary["incidents"][0]["status"] == "monitoring"
    assert summary["incidents"][0]["monitoring_at"] is not None

    # A rename and an impact override change the incident, not its timeline.
    renamed = api.patch(f"/incidents/{iid}", {"incident": {"name": "API errors after deploy",
                                                           "impact_override": "minor"}})
    assert renamed.get_json()["impact_override"] == "minor"
    assert len(renamed.get_json()["incident_updates"]) == 3
    assert v2(client)["incidents"][0]["name"] == "API errors after deploy"

    # Correcting an update's text.
    update_id = renamed.get_json()["incident_updates"][0]["id"]
    edited = api.patch(f"/incidents/{iid}/incident_updates/{update_id}",
                       {"incident_update": {"body": "Rolled back the deploy."}})
    assert edited.status_code == 200 and edited.get_json()["body"] == "Rolled back the deploy."

    # Resolved: the component comes back, the page is green, the incident is history.
    resolved = api.patch(f"/incidents/{iid}", {"incident": {"status": "resolved"}})
    assert resolved.get_json()["resolved_at"] is not None
    summary = v2(client)
    assert summary["status"] == {"indicator": "none", "description": "All Systems Operational"}
    assert summary["incidents"] == []
    assert summary["components"][0]["status"] == "operational"
    [listed] = v2(client, "incidents")["incidents"]
    assert listed["status"] == "resolved"
    assert [u["status"] for u in listed["incident_updates"]] == [
        "resolved", "monitoring", "identified", "investigating"]

    # A postmortem, published then taken back.
    assert api.put(f"/incidents/{iid}/postmortem",
                   {"postmortem": {"body_draft": "A config flag."}}).status_code == 200
    published = api.put(f"/incidents/{iid}/postmortem/publish")
    assert published.status_code == 200 and published.get_json()["published_at"]
    assert v2(client, "incidents")["incidents"][0]["status"] == "postmortem"
    assert api.put(f"/incidents/{iid}/postmortem/revert").get_json()["published_at"] is None
    assert api.get(f"/incidents/{iid}").get_json()["postmortem_body"] == "A config flag."

    # Deleted.
    assert api.delete(f"/incidents/{iid}").get_json()["id"] == iid
    assert v2(client, "incidents")["incidents"] == []


def test_maintenance_lifecycle_through_v1_shows_in_v2_at_every_step(api: Api, client: Any,
                                                                    make_component: Any,
                                                                    db: Any) -> None:
    component = make_component("Database")
    cid = str(component.id)
    created = api.post("/incidents", {"incident": {
        "name": "Database upgrade", "status": "scheduled", **_window(2, 4),
        "component_ids": [cid], "scheduled_auto_in_progress": False,
        "scheduled_auto_completed": False, "auto_transition_to_maintenance_state": True,
        "auto_transition_to_operational_state": True, "scheduled_remind_prior": False}})
    assert created.status_code == 201, created.get_data(as_text=True)
    maintenance = created.get_json()
    mid = maintenance["id"]
    assert maintenance["impact"] == "maintenance"
    assert maintenance["scheduled_auto_in_progress"] is False
    assert maintenance["auto_transition_to_maintenance_state"] is True
    assert maintenance["scheduled_remind_prior"] is False
    stored = inc.get_incident(mid)
    assert (stored.auto_start, stored.auto_complete, stored.remind_prior) == (False, False,
                                                                              False)
    assert [m["id"] for m in v2(client, "scheduled-maintenances/upcoming")[
        "scheduled_maintenances"]] == [mid]
    assert [m["id"] for m in api.get("/incidents/scheduled").get_json()] == [mid]
    assert [m["id"] for m in api.get("/incidents/upcoming").get_json()] == [mid]
    assert v2(client)["status"]["indicator"] == "none"

    started = api.patch(f"/incidents/{mid}", {"incident": {"status": "in_progress"}})
    assert started.get_json()["status"] == "in_progress"
    summary = v2(client)
    assert summary["components"][0]["status"] == "under_maintenance"
    assert summary["status"]["indicator"] == "maintenance"
    assert [m["status"] for m in summary["scheduled_maintenances"]] == ["in_progress"]
    assert [m["id"] for m in api.get("/incidents/active_maintenance").get_json()] == [mid]

    verifying = api.patch(f"/incidents/{mid}", {"incident": {"status": "verifying",
                                                             "body": "Checking."}})
    assert verifying.get_json()["status"] == "verifying"
    assert v2(client, "scheduled-maintenances/active")["scheduled_maintenances"][0][
        "status"] == "verifying"

    completed = api.patch(f"/incidents/{mid}", {"incident": {"status": "completed"}})
    assert completed.get_json()["status"] == "completed"
    summary = v2(client)
    assert summary["components"][0]["status"] == "operational"
    assert summary["status"]["indicator"] == "none"
    assert summary["scheduled_maintenances"] == []
    assert v2(client, "scheduled-maintenances")["scheduled_maintenances"][0][
        "status"] == "completed"


def test_an_incident_may_not_take_a_maintenance_status(api: Api, make_incident: Any) -> None:
    incident = make_incident()
    response = api.patch(f"/incidents/{incident.id}", {"incident": {"status": "in_progress"}})
    assert error_of(response, 422)["field"] == "status"


def test_incidents_are_searched_and_paged(api: Api, make_incident: Any) -> None:
    for name in ("Checkout slow", "Login down", "Checkout errors"):
        make_incident(name)
    assert [i["name"] for i in api.get("/incidents?q=checkout").get_json()] == [
        "Checkout errors", "Checkout slow"]
    assert [i["name"] for i in api.get("/incidents?limit=2&page=2").get_json()] == [
        "Checkout slow"]
    error_of(api.get("/incidents?limit=many"), 422)


# --- components and groups ------------------------------------------------------------------------

def test_components_are_created_changed_and_deleted(api: Api, db: Any) -> None:
    group = api.post("/component-groups", {"component_group": {"name": "Platform",
                                                               "components": []},
                                           "description": "Core services"}).get_json()
    assert group["id"].startswith("g") and group["description"] == "Core services"
    created = api.post("/components", {"component": {
        "name": "API", "group_id": group["id"], "showcase": False,
        "only_show_if_degraded": True, "status": "degraded_performance"}}).get_json()
    assert created["group_id"] == group["id"]
    assert created["status"] == "degraded_performance"
    assert (created["showcase"], created["only_show_if_degraded"]) == (False, True)

    changed = api.patch(f"/components/{created['id']}", {"component": {
        "status": "operational", "description": "REST", "group_id": None}}).get_json()
    assert (changed["status"], changed["description"], changed["group_id"]) == (
        "operational", "REST", None)
    history = [c.to_status for c in db.session.scalars(sa.select(
        comp.ComponentStatusChange).order_by(comp.ComponentStatusChange.id))]
    assert history == [ComponentStatus.DEGRADED_PERFORMANCE,
                       ComponentStatus.OPERATIONAL]
    assert api.delete(f"/components/{created['id']}").status_code == 204
    assert api.get("/components").get_json() == [
        api.get(f"/component-groups/{group['id']}").get_json()]


def test_a_component_named_by_an_open_incident_cannot_be_deleted(api: Api, make_component: Any,
                                                                 make_incident: Any) -> None:
    component = make_component("API")
    make_incident(components={component.id: "major_outage"})
    error_of(api.delete(f"/components/{component.id}"), 409)


def test_groups_take_members_and_accept_both_id_spellings(api: Api, make_component: Any
                                                          ) -> None:
    api_c, web = make_component("API"), make_component("Web")
    group = api.post("/component-groups", {"component_group": {
        "name": "Platform", "components": [str(api_c.id), str(web.id)]}})
    assert group.status_code == 201
    gid = group.get_json()["id"]
    assert group.get_json()["components"] == [str(api_c.id), str(web.id)]
    bare = gid.removeprefix("g")
    assert api.get(f"/component-groups/{bare}").get_json()["id"] == gid
    narrowed = api.patch(f"/component-groups/{gid}.json",
                         {"component_group": {"components": [str(web.id)]}})
    assert narrowed.get_json()["components"] == [str(web.id)]
    assert comp.get_component(api_c.id).group_id is None
    assert [g["id"] for g in api.get("/component-groups").get_json()] == [gid]
    assert api.delete(f"/component-groups/{gid}").get_json()["name"] == "Platform"
    assert comp.get_component(web.id).group_id is None


def test_the_page_can_be_read_and_renamed(api: Api, client: Any) -> None:
    page = api.get("").get_json()
    assert page["name"] == "Acme" and page["time_zone"] == "Etc/UTC"
    renamed = api.patch("", {"page": {"name": "Acme Cloud", "time_zone": "Europe/Berlin"}})
    assert renamed.get_json()["name"] == "Acme Cloud"
    assert v2(client, "status")["page"]["time_zone"] == "Europe/Berlin"
    assert error_of(api.patch("", {"page": {"time_zone": "Mars/Olympus"}}), 422)[
        "field"] == "time_zone"


# --- subscribers and notifications ----------------------------------------------------------------

def test_subscribers_are_added_with_or_without_confirmation(api: Api, make_component: Any,
                                                            db: Any) -> None:
    component = make_component("API")
    confirmed = api.post("/subscribers", {"subscriber": {
        "email": "Ops@Example.com", "component_ids": [str(component.id)],
        "skip_confirmation_notification": True}})
    assert confirmed.status_code == 201
    body = confirmed.get_json()
    assert set(body) == {"id", "mode", "email", "endpoint", "signing_secret", "components",
                         "language", "quarantined_at", "purge_at", "created_at"}
    assert (body["mode"], body["email"], body["components"], body["purge_at"]) == (
        "email", "ops@example.com", [str(component.id)], None)
    assert subs.get_subscriber(body["id"]).confirmed
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Delivery)) == 0

    pending = api.post("/subscribers", {"subscriber": {"email": "new@example.com"}}).get_json()
    assert pending["purge_at"] is not None
    assert not subs.get_subscriber(pending["id"]).confirmed
    [delivery] = db.session.scalars(sa.select(Delivery))
    assert (delivery.kind, delivery.to_address) == (DeliveryKind.CONFIRM, "new@example.com")

    assert error_of(api.post("/subscribers", {"subscriber": {"email": "new@example.com"}}),
                    409)["field"] == "email"
    # A link went out a moment ago: a resend waits out the address's cooldown, as the form's.
    assert error_of(api.post(f"/subscribers/{pending['id']}/resend_confirmation"), 429)
    subscriber = subs.get_subscriber(pending["id"])
    subscriber.link_sent_at = utcnow() - subs.LINK_RESEND_COOLDOWN * 2
    db.session.commit()
    resent = api.post(f"/subscribers/{pending['id']}/resend_confirmation")
    assert resent.status_code == 201
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Delivery)) == 2

    assert [s["email"] for s in api.get("/subscribers").get_json()] == [
        "new@example.com", "ops@example.com"]
    assert api.get(f"/subscribers/{pending['id']}.json").get_json()["email"] == \
        "new@example.com"
    assert api.delete(f"/subscribers/{pending['id']}").get_json()["id"] == pending["id"]
    error_of(api.get(f"/subscribers/{pending['id']}"), 404)


def test_ops_add_a_follower_of_one_incident_at_once_and_a_known_one_is_a_conflict(
        api: Api, db: Any) -> None:
    incident = inc.open_incident("Checkout errors", body="Looking into it.")
    added = api.post(f"/incidents/{incident.id}/subscribers",
                     {"subscriber": {"email": "Follower@Example.com"}})

    assert added.status_code == 201, added.get_data(as_text=True)
    follower = subs.get_subscriber(added.get_json()["id"])
    assert (follower.email, follower.incident_id, follower.confirmed) == (
        "follower@example.com", incident.id, False)
    [delivery] = db.session.scalars(sa.select(Delivery))  # its link, queued in the request
    assert (delivery.kind, delivery.to_address) == (DeliveryKind.CONFIRM, "follower@example.com")
    again = api.post(f"/incidents/{incident.id}/subscribers",
                     {"subscriber": {"email": "follower@example.com"}})
    assert error_of(again, 409)["field"] == "email"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Delivery)) == 1


def test_an_incident_opened_through_the_api_queues_its_notice(api: Api, make_component: Any,
                                                              db: Any) -> None:
    component = make_component("API")
    quiet = api.post("/incidents", {"incident": {"name": "Quiet", "deliver_notifications": False,
                                                 "components": {str(component.id):
                                                                "degraded_performance"}}})
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Notice)) == 0
    loud = api.post("/incidents", {"incident": {"name": "Loud",
                                                "components": {str(component.id):
                                                               "major_outage"}}})
    [notice] = db.session.scalars(sa.select(Notice))
    assert str(notice.incident_id) == loud.get_json()["id"]
    assert str(notice.update_id) == loud.get_json()["incident_updates"][0]["id"]
    assert quiet.status_code == 201


def test_subscribers_are_emailed_about_an_incident_opened_through_the_api(
        api: Api, make_component: Any, smtp: Any) -> None:
    wanted, other = make_component("API"), make_component("Web")
    api.post("/subscribers", {"subscriber": {"email": "fan@example.com",
                                             "component_ids": [str(wanted.id)],
                                             "skip_confirmation_notification": True}})
    api.post("/subscribers", {"subscriber": {"email": "web@example.com",
                                             "component_ids": [str(other.id)],
                                             "skip_confirmation_notification": True}})
    api.post("/incidents", {"incident": {"name": "API errors", "body": "Requests fail.",
                                         "components": {str(wanted.id): "major_outage"}}})
    notify.deliver()
    [message] = smtp.messages
    assert message["To"] == "fan@example.com"
    assert "API errors" in message["Subject"]
    assert "Requests fail." in body_of(message)


# --- the rate limit -------------------------------------------------------------------------------

def test_a_key_over_its_rate_is_answered_429_with_retry_after(app: Any, api: Api, client: Any,
                                                              read_token: str,
                                                              page_id: str) -> None:
    app.config.update(API_RATE_LIMIT_PER_MINUTE=3)
    # Every operation, under either root and spelling, draws on the key's one allowance.
    assert [api.get("/components").status_code, api.get("/incidents.json").status_code,
            Api(client, api.token, page_id, root="/v1").get("").status_code] == [200, 200, 200]
    limited = api.get("/components")
    assert error_of(limited, 429) == {
        "error": "Too Many Requests",
        "message": "This key may make 3 requests a minute; retry after the time in the "
                   "Retry-After header."}
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    assert limited.headers["Cache-Control"] == "no-store"
    # Each key has its own allowance.
    assert Api(client, read_token, page_id).get("/components").status_code == 200


def test_requests_without_a_key_are_not_counted_and_0_turns_the_limit_off(
        app: Any, api: Api, client: Any, page_id: str) -> None:
    app.config.update(API_RATE_LIMIT_PER_MINUTE=1)
    for _ in range(3):
        error_of(client.get(f"/api/v1/pages/{page_id}/components"), 401)
    assert [api.get("/components").status_code for _ in range(2)] == [200, 429]
    app.config.update(API_RATE_LIMIT_PER_MINUTE=0)
    assert [api.get("/components").status_code for _ in range(3)] == [200, 200, 200]
