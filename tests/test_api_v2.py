"""The public API v2: every endpoint, field by field, against the Statuspage contract."""

from __future__ import annotations

import json
import re
import urllib.request
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from statuspage import components as comp
from statuspage import incidents as inc
from statuspage import maintenance as maint
from statuspage import page
from statuspage.components import create_component, create_group, set_component_status
from statuspage.site import get_page_settings, update_page_settings

ENDPOINTS = {
    "/api/v2/summary.json": {"page", "components", "incidents", "scheduled_maintenances",
                             "status"},
    "/api/v2/status.json": {"page", "status"},
    "/api/v2/components.json": {"page", "components"},
    "/api/v2/incidents.json": {"page", "incidents"},
    "/api/v2/incidents/unresolved.json": {"page", "incidents"},
    "/api/v2/scheduled-maintenances.json": {"page", "scheduled_maintenances"},
    "/api/v2/scheduled-maintenances/upcoming.json": {"page", "scheduled_maintenances"},
    "/api/v2/scheduled-maintenances/active.json": {"page", "scheduled_maintenances"},
}
PAGE_KEYS = {"id", "name", "url", "time_zone", "updated_at"}
STATUS_KEYS = {"indicator", "description"}
COMPONENT_KEYS = {"id", "name", "status", "created_at", "updated_at", "position", "description",
                  "showcase", "start_date", "group_id", "page_id", "group",
                  "only_show_if_degraded"}
GROUP_KEYS = COMPONENT_KEYS | {"components"}
INCIDENT_KEYS = {"id", "name", "status", "created_at", "updated_at", "monitoring_at",
                 "resolved_at", "impact", "shortlink", "started_at", "page_id",
                 "incident_updates", "components"}
MAINTENANCE_KEYS = INCIDENT_KEYS | {"scheduled_for", "scheduled_until"}
UPDATE_KEYS = {"id", "status", "body", "incident_id", "created_at", "updated_at", "display_at",
               "affected_components", "deliver_notifications", "custom_tweet", "tweet_id"}
AFFECTED_KEYS = {"code", "name", "old_status", "new_status"}

COMPONENT_STATUSES = {"operational", "degraded_performance", "partial_outage", "major_outage",
                      "under_maintenance"}
INCIDENT_STATUSES = {"investigating", "identified", "monitoring", "resolved", "postmortem"}
MAINTENANCE_STATUSES = {"scheduled", "in_progress", "verifying", "completed"}
IMPACTS = {"none", "minor", "major", "critical", "maintenance"}
INDICATORS = {"none", "minor", "major", "critical", "maintenance"}
DESCRIPTIONS = {"All Systems Operational", "Minor Service Outage", "Partial System Outage",
                "Major System Outage", "Degraded System Service", "Partially Degraded Service",
                "Service Under Maintenance"}
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}(Z|[+-]\d\d:\d\d)$")


# --- checks of one object each, against the contract ------------------------------------------

def check_time(value: Any, nullable: bool = False) -> None:
    if value is None and nullable:
        return
    assert isinstance(value, str) and ISO.match(value), value


def check_page(obj: dict[str, Any]) -> None:
    assert set(obj) == PAGE_KEYS
    assert all(isinstance(obj[k], str) for k in ("id", "name", "url", "time_zone"))
    check_time(obj["updated_at"])


def check_status(obj: dict[str, Any]) -> None:
    assert set(obj) == STATUS_KEYS
    assert obj["indicator"] in INDICATORS
    assert obj["description"] in DESCRIPTIONS


def check_component(obj: dict[str, Any], page_id: str) -> None:
    assert set(obj) == (GROUP_KEYS if obj["group"] else COMPONENT_KEYS)
    assert isinstance(obj["id"], str)
    assert obj["status"] in COMPONENT_STATUSES
    check_time(obj["created_at"])
    check_time(obj["updated_at"])
    assert isinstance(obj["position"], int)
    assert obj["description"] is None or isinstance(obj["description"], str)
    assert isinstance(obj["showcase"], bool)
    assert obj["start_date"] is None or re.match(r"^\d{4}-\d\d-\d\d$", obj["start_date"])
    assert obj["group_id"] is None or isinstance(obj["group_id"], str)
    assert obj["page_id"] == page_id
    assert isinstance(obj["only_show_if_degraded"], bool)
    if obj["group"]:
        assert all(isinstance(member, str) for member in obj["components"])


def check_update(obj: dict[str, Any], incident: dict[str, Any], statuses: set[str]) -> None:
    assert set(obj) == UPDATE_KEYS
    assert isinstance(obj["id"], str) and obj["incident_id"] == incident["id"]
    assert obj["status"] in statuses
    assert isinstance(obj["body"], str)
    for key in ("created_at", "updated_at", "display_at"):
        check_time(obj[key])
    assert obj["affected_components"] is None or obj["affected_components"]
    for affected in obj["affected_components"] or ():
        assert set(affected) == AFFECTED_KEYS
        assert isinstance(affected["code"], str) and isinstance(affected["name"], str)
        assert {affected["old_status"], affected["new_status"]} <= COMPONENT_STATUSES
    assert isinstance(obj["deliver_notifications"], bool)
    assert obj["custom_tweet"] is None and obj["tweet_id"] is None


def check_incident(obj: dict[str, Any], page_id: str, maintenance: bool = False) -> None:
    assert set(obj) == (MAINTENANCE_KEYS if maintenance else INCIDENT_KEYS)
    statuses = MAINTENANCE_STATUSES if maintenance else INCIDENT_STATUSES
    assert isinstance(obj["id"], str)
    assert obj["status"] in statuses
    assert obj["impact"] in IMPACTS
    for key in ("created_at", "updated_at", "started_at"):
        check_time(obj[key])
    for key in ("monitoring_at", "resolved_at"):
        check_time(obj[key], nullable=True)
    assert obj["shortlink"] == f"http://status.test/incidents/{obj['id']}"
    assert obj["page_id"] == page_id
    assert obj["incident_updates"]
    for update in obj["incident_updates"]:
        check_update(update, obj, statuses)
    for component in obj["components"]:
        assert component["group"] is False
        check_component(component, page_id)
    if maintenance:
        check_time(obj["scheduled_for"])
        check_time(obj["scheduled_until"])


def check_payload(path: str, body: dict[str, Any]) -> None:
    assert set(body) == ENDPOINTS[path]
    check_page(body["page"])
    page_id = body["page"]["id"]
    if "status" in body:
        check_status(body["status"])
    for component in body.get("components", ()):
        check_component(component, page_id)
    for incident in body.get("incidents", ()):
        check_incident(incident, page_id)
    for maintenance in body.get("scheduled_maintenances", ()):
        check_incident(maintenance, page_id, maintenance=True)


# --- a page with something of every kind -----------------------------------------------------

@pytest.fixture
def page_data(db: Any) -> SimpleNamespace:
    """Components in and out of a group, incidents open and resolved, maintenance of each kind."""
    now = datetime.now(UTC).replace(microsecond=0)
    long_ago = now - timedelta(days=30)
    api = create_component("API", description="Public REST API", start_date=long_ago.date(),
                           now=long_ago)
    platform = create_group("Platform")
    dashboard = create_component("Dashboard", group_id=platform.id, now=long_ago)
    database = create_component("Database", group_id=platform.id, now=long_ago)
    web = create_component("Web", now=long_ago)
    legacy = create_component("Legacy FTP", only_show_if_degraded=True, now=long_ago)

    old = inc.open_incident("Old outage", body="Down.", components={api.id: "partial_outage"},
                            now=now - timedelta(days=3))
    inc.resolve_incident(old, now=now - timedelta(days=3) + timedelta(hours=1))
    slow = inc.open_incident("Slow dashboard", body="Slow.",
                             components={dashboard.id: "degraded_performance"},
                             now=now - timedelta(hours=1))
    email = inc.open_incident("Email delays", body="Mail is late.", now=now - timedelta(minutes=30))

    done = maint.schedule_maintenance("Old maintenance", scheduled_for=now - timedelta(days=5),
                                    scheduled_until=now - timedelta(days=5, hours=-1),
                                    component_ids=[web.id], now=now - timedelta(days=6))
    maint.start_maintenance(done, now=now - timedelta(days=5))
    inc.resolve_incident(done, now=now - timedelta(days=5, hours=-1))
    active = maint.schedule_maintenance(
        "Database upgrade", scheduled_for=now - timedelta(minutes=10),
        scheduled_until=now + timedelta(hours=1), component_ids=[database.id],
        now=now - timedelta(days=1))
    maint.start_maintenance(active, now=now - timedelta(minutes=10))
    soon = maint.schedule_maintenance("Network switch", scheduled_for=now + timedelta(days=2),
                                    scheduled_until=now + timedelta(days=2, hours=1),
                                    component_ids=[web.id], now=now - timedelta(hours=2))
    later = maint.schedule_maintenance("Storage move", scheduled_for=now + timedelta(days=3),
                                     scheduled_until=now + timedelta(days=3, hours=1),
                                     now=now - timedelta(hours=3))
    return SimpleNamespace(api=api, platform=platform, dashboard=dashboard, database=database,
                           web=web, legacy=legacy, old=old, slow=slow, email=email, done=done,
                           active=active, soon=soon, later=later)


def names(items: list[dict[str, Any]]) -> list[str]:
    return [item["name"] for item in items]


# --- every endpoint, field by field ---------------------------------------------------------------

def test_every_v2_endpoint_answers_with_exactly_the_contract_fields(client, page_data):
    # One page with something of every kind serves all eight checks (building it is the slow
    # part); the path is named in any failure.
    for path in ENDPOINTS:
        response = client.get(path)

        assert response.status_code == 200, path
        assert response.mimetype == "application/json", path
        assert response.headers["Access-Control-Allow-Origin"] == "*", path
        assert "max-age" in response.headers["Cache-Control"], path
        try:
            check_payload(path, response.get_json())
        except AssertionError as exc:
            raise AssertionError(f"{path}: {exc}") from exc


def test_the_checks_would_catch_a_missing_or_extra_field(client, page_data):
    body = client.get("/api/v2/summary.json").get_json()
    del body["incidents"][0]["incident_updates"][0]["tweet_id"]
    with pytest.raises(AssertionError):
        check_payload("/api/v2/summary.json", body)
    body = client.get("/api/v2/components.json").get_json()
    body["components"][0]["extra"] = 1
    with pytest.raises(AssertionError):
        check_payload("/api/v2/components.json", body)


def test_an_empty_page_still_answers_every_endpoint_in_shape(client, db):
    for path in ENDPOINTS:
        response = client.get(path)
        assert response.status_code == 200, path
        check_payload(path, response.get_json())
    assert client.get("/api/v2/status.json").get_json()["status"] == {
        "indicator": "none", "description": "All Systems Operational"}


# --- the page object ---------------------------------------------------------------------------

def test_page_object_is_the_same_in_every_endpoint_and_names_the_page(client, page_data):
    settings = get_page_settings()
    pages = [client.get(path).get_json()["page"] for path in ENDPOINTS]

    assert all(p == pages[0] for p in pages)
    assert pages[0]["id"] == settings.page_code
    assert pages[0]["name"] == "Acme"
    assert pages[0]["url"] == "http://status.test"
    assert pages[0]["time_zone"] == "Etc/UTC"


def test_page_url_and_time_zone_follow_the_settings(client, db):
    update_page_settings(url="https://status.acme.example", time_zone="Europe/Stockholm")

    body = client.get("/api/v2/status.json").get_json()

    assert body["page"]["url"] == "https://status.acme.example"
    assert body["page"]["time_zone"] == "Europe/Stockholm"


def test_page_updated_at_moves_with_the_latest_change(client, page_data):
    before = client.get("/api/v2/status.json").get_json()["page"]["updated_at"]
    later = datetime.now(UTC) + timedelta(days=1)
    set_component_status(page_data.web, "major_outage", now=later)

    after = client.get("/api/v2/status.json").get_json()["page"]["updated_at"]

    assert after > before


# --- components ----------------------------------------------------------------------------------

def test_components_are_listed_in_page_order_with_each_group_before_its_members(client,
                                                                                 page_data):
    listed = client.get("/api/v2/components.json").get_json()["components"]

    assert names(listed) == ["API", "Platform", "Dashboard", "Database", "Web", "Legacy FTP"]
    assert [c["position"] for c in listed] == [1, 2, 3, 4, 5, 6]
    group = listed[1]
    assert group["group"] is True
    assert group["components"] == [listed[2]["id"], listed[3]["id"]]
    assert listed[2]["group_id"] == listed[3]["group_id"] == group["id"]
    assert listed[0]["group_id"] is None and listed[4]["group_id"] is None


def test_group_ids_never_collide_with_component_ids(client, page_data):
    listed = client.get("/api/v2/components.json").get_json()["components"]
    ids = [c["id"] for c in listed]

    assert len(set(ids)) == len(ids)
    # Group and component rows both count from 1 in their own tables.
    assert str(page_data.platform.id) in ids and str(page_data.api.id) in ids


def test_component_fields_carry_the_stored_values(client, page_data):
    api = client.get("/api/v2/components.json").get_json()["components"][0]

    assert api["id"] == str(page_data.api.id)
    assert api["description"] == "Public REST API"
    assert api["start_date"] == page_data.api.start_date.isoformat()
    assert api["showcase"] is True
    assert api["status"] == "operational"
    assert api["created_at"].endswith("Z")


def test_a_group_shows_its_worst_member(client, page_data):
    set_component_status(page_data.database, "major_outage")

    listed = client.get("/api/v2/components.json").get_json()["components"]

    assert listed[1]["name"] == "Platform"
    assert listed[1]["status"] == "major_outage"


# --- incidents -----------------------------------------------------------------------------------

def test_incidents_lists_every_incident_newest_first_and_no_maintenance(client, page_data):
    listed = client.get("/api/v2/incidents.json").get_json()["incidents"]

    assert names(listed) == ["Email delays", "Slow dashboard", "Old outage"]


def test_unresolved_incidents_leave_out_resolved_ones(client, page_data):
    listed = client.get("/api/v2/incidents/unresolved.json").get_json()["incidents"]

    assert names(listed) == ["Email delays", "Slow dashboard"]
    assert {i["status"] for i in listed} == {"investigating"}


def test_an_incident_carries_its_updates_newest_first_with_the_components_they_moved(
        client, page_data):
    listed = client.get("/api/v2/incidents.json").get_json()["incidents"]
    old = next(i for i in listed if i["name"] == "Old outage")

    assert old["status"] == "resolved" and old["impact"] == "major"
    assert old["resolved_at"] is not None
    assert [u["status"] for u in old["incident_updates"]] == ["resolved", "investigating"]
    assert old["incident_updates"][1]["affected_components"] == [{
        "code": str(page_data.api.id), "name": "API", "old_status": "operational",
        "new_status": "partial_outage"}]
    assert old["incident_updates"][0]["affected_components"] == [{
        "code": str(page_data.api.id), "name": "API", "old_status": "partial_outage",
        "new_status": "operational"}]
    assert names(old["components"]) == ["API"]
    assert old["components"][0]["position"] == 1


def test_an_update_that_moved_no_component_has_null_affected_components(client, page_data):
    listed = client.get("/api/v2/incidents/unresolved.json").get_json()["incidents"]
    email = next(i for i in listed if i["name"] == "Email delays")

    assert email["incident_updates"][0]["affected_components"] is None
    assert email["components"] == []
    assert email["incident_updates"][0]["body"] == "Mail is late."


def test_monitoring_sets_monitoring_at(client, page_data):
    inc.post_update(page_data.slow, status="monitoring", body="Fixed, watching.")

    listed = client.get("/api/v2/incidents/unresolved.json").get_json()["incidents"]
    slow = next(i for i in listed if i["name"] == "Slow dashboard")

    assert slow["status"] == "monitoring"
    check_time(slow["monitoring_at"])
    assert [u["status"] for u in slow["incident_updates"]] == ["monitoring", "investigating"]


# --- maintenance ---------------------------------------------------------------------------------

def test_scheduled_maintenances_list_every_window_newest_first(client, page_data):
    listed = client.get("/api/v2/scheduled-maintenances.json").get_json()
    listed = listed["scheduled_maintenances"]

    assert names(listed) == ["Storage move", "Network switch", "Database upgrade",
                             "Old maintenance"]
    assert listed[-1]["status"] == "completed"
    assert {m["impact"] for m in listed} == {"maintenance"}


def test_upcoming_and_active_maintenance_are_filtered_by_status(client, page_data):
    upcoming = client.get("/api/v2/scheduled-maintenances/upcoming.json").get_json()
    active = client.get("/api/v2/scheduled-maintenances/active.json").get_json()

    assert names(upcoming["scheduled_maintenances"]) == ["Storage move", "Network switch"]
    assert names(active["scheduled_maintenances"]) == ["Database upgrade"]
    assert active["scheduled_maintenances"][0]["status"] == "in_progress"
    assert active["scheduled_maintenances"][0]["components"][0]["status"] == "under_maintenance"


def test_a_scheduled_maintenance_shows_its_window_and_planned_components(client, page_data):
    upcoming = client.get("/api/v2/scheduled-maintenances/upcoming.json").get_json()
    switch = upcoming["scheduled_maintenances"][1]

    assert switch["scheduled_for"] == page_data.soon.scheduled_for.isoformat(
        timespec="milliseconds").replace("+00:00", "Z")
    assert switch["incident_updates"][0]["status"] == "scheduled"
    assert switch["incident_updates"][0]["affected_components"] == [{
        "code": str(page_data.web.id), "name": "Web", "old_status": "operational",
        "new_status": "operational"}]


def test_summary_holds_open_incidents_and_open_maintenance(client, page_data):
    body = client.get("/api/v2/summary.json").get_json()

    assert names(body["incidents"]) == ["Email delays", "Slow dashboard"]
    assert names(body["scheduled_maintenances"]) == ["Storage move", "Network switch",
                                                     "Database upgrade"]
    assert len(body["components"]) == 6


# --- the rollup status ------------------------------------------------------------------------

def _expected_status() -> comp.PageStatus:
    visible = [c.status for c in comp.all_components() if c.visible]
    return comp.page_status(visible, [str(i.impact) for i in inc.open_incidents()])


@pytest.mark.parametrize("path", ["/api/v2/status.json", "/api/v2/summary.json"])
def test_status_is_decided_by_the_rule_the_banner_uses(client, page_data, path):
    expected = _expected_status()
    body = client.get(path).get_json()

    assert body["status"] == {"indicator": str(expected.indicator),
                              "description": expected.description}
    assert body["status"] == {"indicator": str(page.snapshot().status.indicator),
                              "description": page.snapshot().status.description}
    # A degraded member and maintenance under way: some degraded wins over maintenance.
    assert body["status"]["description"] == "Partially Degraded Service"


def test_status_follows_a_new_outage_at_once(client, page_data):
    client.get("/api/v2/status.json")
    for component in (page_data.api, page_data.dashboard, page_data.database, page_data.web):
        set_component_status(component, "major_outage")

    body = client.get("/api/v2/status.json").get_json()

    assert body["status"] == {"indicator": str(_expected_status().indicator),
                              "description": _expected_status().description}
    # Every visible component is down; the hidden operational one does not count.
    assert body["status"] == {"indicator": "critical", "description": "Major System Outage"}


# --- HTTP: caching, CORS, errors, a real server -------------------------------------------------

def test_an_unchanged_page_answers_304_to_its_etag_and_a_write_changes_it(client, page_data):
    first = client.get("/api/v2/summary.json")
    etag = first.headers["ETag"]

    again = client.get("/api/v2/summary.json", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.data == b""
    assert again.headers["Access-Control-Allow-Origin"] == "*"

    inc.post_update(page_data.slow, status="identified", body="Found it.")
    changed = client.get("/api/v2/summary.json", headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["ETag"] != etag
    assert changed.get_json()["incidents"][1]["status"] == "identified"


def test_an_unknown_v2_path_is_a_json_404(client, db):
    response = client.get("/api/v2/nothing.json")

    assert response.status_code == 404
    assert response.get_json()["error"] == "Not Found"


def test_a_real_server_answers_cross_origin_clients(live_server, page_data):
    request = urllib.request.Request(f"{live_server}/api/v2/summary.json",
                                     headers={"Origin": "https://intranet.example"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200
        assert response.headers["Access-Control-Allow-Origin"] == "*"
        assert response.headers.get_content_type() == "application/json"
        body = json.loads(response.read())

    check_payload("/api/v2/summary.json", body)
    assert names(body["incidents"]) == ["Email delays", "Slow dashboard"]
