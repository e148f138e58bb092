"""The ops console, driven through the test client as ops staff use it."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
import sqlalchemy as sa

from statuspage import components, incidents, vocabulary
from statuspage.audit import AuditEntry
from statuspage.incidents import Incident
from statuspage.site import get_page_settings, update_page_settings
from statuspage.staff import User, find_user_by_email
from statuspage.vocabulary import ComponentStatus, IncidentKind
from tests.conftest import TEST_PASSWORD, Actions


def audit_actions(db: Any) -> list[tuple[str, str]]:
    """(actor, action) of every audit entry, oldest first."""
    rows = db.session.execute(sa.select(AuditEntry.actor, AuditEntry.action)
                              .order_by(AuditEntry.id))
    return [tuple(row) for row in rows]


def only(db: Any, model: Any) -> Any:
    """The single row of ``model``."""
    return db.session.scalars(sa.select(model)).one()


def text(response: Any) -> str:
    return response.get_data(as_text=True)


# --- signing in and out --------------------------------------------------------------------------

def test_console_pages_send_anonymous_visitors_to_sign_in(client: Any) -> None:
    response = client.get("/admin/incidents")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/admin/login?next=")
    assert "%2Fadmin%2Fincidents" in response.headers["Location"]


def test_sign_in_page_has_a_form_with_csrf_token(client: Any) -> None:
    html = text(client.get("/admin/login"))
    assert 'name="csrf_token"' in html
    assert 'name="password"' in html


def test_signing_in_records_the_login_and_opens_the_dashboard(logged_in: Actions, db: Any
                                                               ) -> None:
    user = find_user_by_email("ops@example.com")
    assert user is not None and user.last_login_at is not None
    assert ("ops@example.com", "user.login") in audit_actions(db)
    html = text(logged_in.client.get("/admin/"))
    assert "Open incidents" in html and "Signed in as ops@example.com." in html


@pytest.mark.parametrize(("next_url", "lands_on"), [
    ("/admin/incidents", "/admin/incidents"),
    ("https://evil.example/phish", "/admin/"),
    ("//evil.example/phish", "/admin/"),
    ("/\\evil.example", "/admin/"),
    ("/\t/evil.example", "/admin/"),
    ("javascript:alert(1)", "/admin/"),
], ids=["relative path", "absolute url", "scheme-relative", "backslash", "control char",
        "javascript"])
def test_sign_in_follows_only_relative_next_paths(actions: Actions, admin_user: User,
                                                  next_url: str, lands_on: str) -> None:
    response = actions.post("/admin/login", {"email": admin_user.email,
                                             "password": TEST_PASSWORD, "next": next_url})
    assert response.status_code == 302
    assert response.headers["Location"] == lands_on


def test_sign_out_is_post_only_and_ends_the_session(logged_in: Actions) -> None:
    assert logged_in.client.get("/admin/logout").status_code == 405
    assert logged_in.client.get("/admin/").status_code == 200
    response = logged_in.logout()
    assert response.status_code == 302 and response.headers["Location"] == "/admin/login"
    assert logged_in.client.get("/admin/").status_code == 302


def test_a_deactivated_user_is_signed_out_at_once(logged_in: Actions, app: Any,
                                                  make_user: Any) -> None:
    editor = make_user("editor@example.com", role="editor")
    other = Actions(app, app.test_client())
    assert other.login("editor@example.com").status_code == 302
    assert other.client.get("/admin/").status_code == 200
    response = logged_in.post(f"/admin/staff/{editor.id}/active", {"active": "0"})
    assert response.status_code == 302
    assert other.client.get("/admin/").status_code == 302
    assert "Wrong email or password." in text(other.login("editor@example.com"))


# --- the main story: an incident from open to resolved --------------------------------------------

def test_ops_user_opens_an_incident_on_two_components_and_resolves_it(
        logged_in: Actions, db: Any, make_component: Any) -> None:
    api = make_component("API")
    portal = make_component("Web portal")
    response = logged_in.post("/admin/incidents/new", {
        "name": "Invoices delayed", "status": "investigating", "impact_override": "",
        "body": "We are **looking** into delayed invoices.",
        f"component-{api.id}": "partial_outage", f"component-{portal.id}": "partial_outage",
        "deliver_notifications": "y",
    })
    incident = only(db, Incident)
    assert response.status_code == 302
    assert response.headers["Location"] == f"/admin/incidents/{incident.id}"
    visible = [c.status for c in components.all_components() if c.visible]
    assert components.page_status(visible).description == "Partial System Outage"
    assert incident.impact == "major" and incident.status == "investigating"
    assert incident.updates[0].deliver_notifications is True
    assert incident.updates[0].author == "ops@example.com"

    html = text(logged_in.client.get(f"/admin/incidents/{incident.id}"))
    assert "<strong>looking</strong>" in html and "Incident “Invoices delayed” opened." in html

    response = logged_in.post(f"/admin/incidents/{incident.id}/updates", {
        "status": "monitoring", "body": "A fix is out; watching the queue."})
    assert response.status_code == 302
    assert incident.status == "monitoring"
    assert {api.status, portal.status} == {ComponentStatus.PARTIAL_OUTAGE}
    assert incident.updates[0].deliver_notifications is False  # the box was left unticked

    response = logged_in.post(f"/admin/incidents/{incident.id}/updates", {
        "status": "resolved", "body": "All invoices are delivered.",
        "deliver_notifications": "y"})
    assert response.status_code == 302
    assert incident.status == "resolved" and incident.resolved_at is not None
    assert {api.status, portal.status} == {ComponentStatus.OPERATIONAL}
    visible = [c.status for c in components.all_components() if c.visible]
    assert components.page_status(visible).description == "All Systems Operational"
    actions = audit_actions(db)
    assert ("ops@example.com", "incident.create") in actions
    assert actions.count(("ops@example.com", "incident.update")) == 2


def test_resolve_button_returns_components_to_operational(
        logged_in: Actions, make_component: Any, make_incident: Any) -> None:
    api = make_component("API")
    incident = make_incident(components={api.id: "major_outage"})
    response = logged_in.post(f"/admin/incidents/{incident.id}/resolve")
    assert response.status_code == 302
    assert incident.status == "resolved" and api.status is ComponentStatus.OPERATIONAL
    assert incident.updates[0].body == vocabulary.DEFAULT_BODIES["resolved"]
    assert incident.updates[0].deliver_notifications is False


def test_an_update_leaves_components_marked_not_affected_as_they_are(
        logged_in: Actions, make_component: Any, make_incident: Any) -> None:
    api, sftp = make_component("API"), make_component("SFTP")
    incident = make_incident(components={api.id: "degraded_performance"})
    logged_in.post(f"/admin/incidents/{incident.id}/updates", {
        "status": "identified", "body": "SFTP is slow too.", f"component-{api.id}": "",
        f"component-{sftp.id}": "partial_outage"})
    assert api.status is ComponentStatus.DEGRADED_PERFORMANCE
    assert sftp.status is ComponentStatus.PARTIAL_OUTAGE
    assert [a.component_name for a in incident.updates[0].affected] == ["SFTP"]
    assert incident.impact == "major"


# --- incidents: list, edit, delete, postmortem ----------------------------------------------------

def test_incident_list_shows_open_first_then_resolved_a_page_at_a_time(
        logged_in: Actions, make_incident: Any) -> None:
    for number in range(26):
        incidents.resolve_incident(make_incident(f"Old trouble {number:02d}"))
    make_incident("Fresh trouble")
    first = text(logged_in.client.get("/admin/incidents"))
    assert first.index("Fresh trouble") < first.index("Old trouble 25")
    assert "Old trouble 01" in first and "Old trouble 00" not in first
    assert 'href="/admin/incidents?page=2"' in first
    second = text(logged_in.client.get("/admin/incidents?page=2"))
    assert "Old trouble 00" in second and "Fresh trouble" not in second


def test_editing_an_update_changes_only_its_text(logged_in: Actions, make_incident: Any,
                                                 db: Any) -> None:
    incident = make_incident(body="Typo in teh message.")
    update = incident.updates[0]
    url = f"/admin/incidents/{incident.id}/updates/{update.id}/edit"
    assert "Typo in teh message." in text(logged_in.client.get(url))
    response = logged_in.post(url, {"body": "Typo fixed in the message."})
    assert response.status_code == 302
    assert update.body == "Typo fixed in the message." and update.status == "investigating"
    assert ("ops@example.com", "incident.edit_update") in audit_actions(db)


def test_renaming_an_incident_and_overriding_its_impact(logged_in: Actions,
                                                        make_incident: Any) -> None:
    incident = make_incident("Slow things")
    response = logged_in.post(f"/admin/incidents/{incident.id}/edit",
                              {"name": "Slow invoice delivery", "impact_override": "critical"})
    assert response.status_code == 302
    assert incident.name == "Slow invoice delivery" and incident.impact == "critical"
    logged_in.post(f"/admin/incidents/{incident.id}/edit",
                   {"name": "Slow invoice delivery", "impact_override": ""})
    assert incident.impact_override is None


def test_deleting_an_incident_asks_first(logged_in: Actions, make_incident: Any,
                                         db: Any) -> None:
    incident = make_incident("Mistake")
    url = f"/admin/incidents/{incident.id}/delete"
    page = text(logged_in.client.get(url))
    assert "Delete incident “Mistake”?" in page and f'action="{url}"' in page
    assert db.session.get(Incident, incident.id) is not None
    response = logged_in.post(url)
    assert response.status_code == 302 and response.headers["Location"] == "/admin/incidents"
    assert db.session.scalar(sa.select(sa.func.count(Incident.id))) == 0


def test_postmortem_is_drafted_published_and_reverted(logged_in: Actions,
                                                      make_incident: Any) -> None:
    incident = make_incident("Outage")
    incidents.resolve_incident(incident)
    base = f"/admin/incidents/{incident.id}/postmortem"
    assert logged_in.post(base, {"postmortem": "## What happened\n\nA disk filled."}
                          ).status_code == 302
    assert incident.postmortem_body.startswith("## What happened")
    assert incident.postmortem_published_at is None
    assert logged_in.post(f"{base}/publish").status_code == 302
    assert incident.status == "postmortem" and incident.postmortem_published
    assert "Revert to draft" in text(logged_in.client.get(f"/admin/incidents/{incident.id}"))
    assert logged_in.post(f"{base}/revert").status_code == 302
    assert incident.status == "resolved" and not incident.postmortem_published


def test_script_in_names_and_messages_is_shown_as_text(logged_in: Actions, make_component: Any,
                                                      make_incident: Any) -> None:
    api = make_component("<script>alert('c')</script>")
    incident = make_incident("<script>alert('i')</script>", components={api.id: "major_outage"},
                             body="<script>alert('b')</script> **bold**")
    pages = [text(logged_in.client.get(url)) for url in (
        "/admin/", "/admin/components", "/admin/incidents",
        f"/admin/incidents/{incident.id}", "/admin/incidents/new")]
    for html in pages:
        assert "<script>alert" not in html
        assert "&lt;script&gt;" in html
    assert "<strong>bold</strong>" in pages[3]


# --- components and groups ------------------------------------------------------------------------

def test_components_are_created_in_groups_and_listed_as_a_tree(logged_in: Actions,
                                                               db: Any) -> None:
    assert logged_in.post("/admin/groups/new", {"name": "Networks", "collapsed": "y"}
                          ).status_code == 302
    group = only(db, components.ComponentGroup)
    response = logged_in.post("/admin/components/new", {
        "name": "Peppol Access Point", "description": "Sends and receives e-invoices.",
        "group_id": str(group.id), "showcase": "y", "start_date": "2024-01-15"})
    assert response.status_code == 302 and response.headers["Location"] == "/admin/components"
    logged_in.post("/admin/components/new", {"name": "Web portal", "group_id": ""})
    peppol, portal = components.all_components()
    assert peppol.group_id == group.id and peppol.start_date == date(2024, 1, 15)
    assert peppol.showcase and not portal.showcase and portal.group_id is None
    html = text(logged_in.client.get("/admin/components"))
    assert html.index("Networks") < html.index("Peppol Access Point") < html.index("Web portal")
    assert [a for _, a in audit_actions(db)][-3:] == ["group.create", "component.create",
                                                      "component.create"]


def test_editing_a_component_moves_it_between_groups(logged_in: Actions, make_group: Any,
                                                     make_component: Any) -> None:
    group = make_group("Integrations")
    sftp = make_component("SFTP")
    page = text(logged_in.client.get(f"/admin/components/{sftp.id}/edit"))
    assert 'value="SFTP"' in page
    response = logged_in.post(f"/admin/components/{sftp.id}/edit", {
        "name": "SFTP gateway", "description": "", "group_id": str(group.id),
        "only_show_if_degraded": "y", "start_date": ""})
    assert response.status_code == 302
    assert sftp.name == "SFTP gateway" and sftp.group_id == group.id
    assert sftp.only_show_if_degraded and not sftp.showcase


def test_components_and_groups_move_up_and_down(logged_in: Actions, make_component: Any,
                                                make_group: Any) -> None:
    first, second = make_component("First"), make_component("Second")
    assert logged_in.post(f"/admin/components/{second.id}/move", {"direction": "up"}
                          ).status_code == 302
    assert components.component_tree() == [second, first]
    group = make_group("Group")
    logged_in.post(f"/admin/groups/{group.id}/move", {"direction": "up"})
    assert components.component_tree() == [second, group, first]
    assert logged_in.post(f"/admin/groups/{group.id}/move", {"direction": "sideways"}
                          ).status_code == 400


def test_setting_a_status_from_the_dashboard_returns_there(logged_in: Actions,
                                                           make_component: Any) -> None:
    api = make_component("API")
    response = logged_in.post(f"/admin/components/{api.id}/status",
                              {"status": "degraded_performance", "next": "/admin/"})
    assert response.status_code == 302 and response.headers["Location"] == "/admin/"
    assert api.status is ComponentStatus.DEGRADED_PERFORMANCE
    assert "API is now Degraded Performance." in text(logged_in.client.get("/admin/"))
    response = logged_in.post(f"/admin/components/{api.id}/status",
                              {"status": "operational", "next": "https://evil.example/"})
    assert response.headers["Location"] == "/admin/components"


def test_deleting_a_component_asks_first_and_is_refused_while_an_incident_names_it(
        logged_in: Actions, make_component: Any, make_incident: Any, db: Any) -> None:
    api, spare = make_component("API"), make_component("Spare")
    incident = make_incident("API down", components={api.id: "major_outage"})
    assert "Delete component “Spare”?" in text(
        logged_in.client.get(f"/admin/components/{spare.id}/delete"))
    assert logged_in.post(f"/admin/components/{spare.id}/delete").status_code == 302
    response = logged_in.post(f"/admin/components/{api.id}/delete")
    assert response.status_code == 409
    assert "API is part of an open incident or maintenance (API down)" in text(response)
    assert [c.name for c in components.all_components()] == ["API"]
    incidents.resolve_incident(incident)
    assert logged_in.post(f"/admin/components/{api.id}/delete").status_code == 302
    assert components.all_components() == []


def test_deleting_a_group_keeps_its_components(logged_in: Actions, make_group: Any,
                                              make_component: Any) -> None:
    group = make_group("Old group")
    api = make_component("API", group_id=group.id)
    assert logged_in.post(f"/admin/groups/{group.id}/delete").status_code == 302
    assert components.all_groups() == [] and api.group_id is None


# --- maintenance ----------------------------------------------------------------------------------

def test_maintenance_window_is_read_in_the_page_time_zone(logged_in: Actions, make_component: Any,
                                                          db: Any) -> None:
    update_page_settings(time_zone="Europe/Stockholm")
    api = make_component("API")
    response = logged_in.post("/admin/maintenance/new", {
        "name": "Database upgrade", "body": "Short interruptions.",
        "scheduled_for": "2030-06-01T02:00", "scheduled_until": "2030-06-01T04:30",
        "component_ids": str(api.id), "auto_start": "y", "auto_complete": "y",
        "to_maintenance_state": "y", "to_operational_state": "y", "remind_prior": "y"})
    maintenance = only(db, Incident)
    assert response.status_code == 302
    assert response.headers["Location"] == f"/admin/maintenance/{maintenance.id}"
    # Stockholm is two hours ahead of UTC in June.
    assert maintenance.scheduled_for == datetime(2030, 6, 1, 0, 0, tzinfo=UTC)
    assert maintenance.scheduled_until == datetime(2030, 6, 1, 2, 30, tzinfo=UTC)
    assert maintenance.components == [api] and maintenance.auto_start
    assert maintenance.updates[0].deliver_notifications is False
    edit = text(logged_in.client.get(f"/admin/maintenance/{maintenance.id}/edit"))
    assert 'value="2030-06-01T02:00"' in edit and 'value="2030-06-01T04:30"' in edit
    assert "Database upgrade" in text(logged_in.client.get("/admin/"))


def test_editing_maintenance_changes_its_window_and_components(
        logged_in: Actions, make_component: Any, make_maintenance: Any) -> None:
    api, web = make_component("API"), make_component("Web")
    maintenance = make_maintenance(component_ids=[api.id])
    response = logged_in.post(f"/admin/maintenance/{maintenance.id}/edit", {
        "name": "Longer upgrade", "scheduled_for": "2031-01-10T20:00",
        "scheduled_until": "2031-01-10T23:00", "component_ids": [str(web.id)]})
    assert response.status_code == 302
    assert maintenance.name == "Longer upgrade" and maintenance.components == [web]
    assert maintenance.scheduled_until == datetime(2031, 1, 10, 23, 0, tzinfo=UTC)
    assert not maintenance.auto_start and not maintenance.remind_prior


def test_maintenance_started_and_completed_by_hand(logged_in: Actions, make_component: Any,
                                                  make_maintenance: Any) -> None:
    api = make_component("API")
    maintenance = make_maintenance(component_ids=[api.id])
    assert logged_in.post(f"/admin/maintenance/{maintenance.id}/start").status_code == 302
    assert maintenance.status == "in_progress"
    assert api.status is ComponentStatus.UNDER_MAINTENANCE
    response = logged_in.post(f"/admin/maintenance/{maintenance.id}/updates", {
        "status": "verifying", "body": "Checking the new version.", "deliver_notifications": "y"})
    assert response.status_code == 302 and maintenance.status == "verifying"
    assert logged_in.post(f"/admin/maintenance/{maintenance.id}/complete").status_code == 302
    assert maintenance.status == "completed" and api.status is ComponentStatus.OPERATIONAL
    assert logged_in.post(f"/admin/maintenance/{maintenance.id}/start").status_code == 409


def test_cancelling_maintenance_asks_first(logged_in: Actions, make_maintenance: Any) -> None:
    maintenance = make_maintenance("Network swap")
    url = f"/admin/maintenance/{maintenance.id}/cancel"
    assert "Cancel maintenance “Network swap”?" in text(logged_in.client.get(url))
    assert maintenance.status == "scheduled"
    assert logged_in.post(url, {"deliver_notifications": "y"}).status_code == 302
    assert maintenance.status == "completed" and maintenance.cancelled_at is not None
    assert maintenance.updates[0].body == vocabulary.CANCELLED_BODY
    html = text(logged_in.client.get("/admin/maintenance"))
    assert "Network swap" in html and "cancelled" in html


# --- page settings, staff, audit log --------------------------------------------------------------

def test_admin_edits_page_settings(logged_in: Actions, db: Any) -> None:
    page = text(logged_in.client.get("/admin/settings"))
    assert '<option value="Europe/Stockholm">' in page
    response = logged_in.post("/admin/settings", {
        "name": "Pagero Status", "url": "https://status.example.com",
        "time_zone": "Europe/Stockholm", "support_url": "https://example.com/support",
        "logo_url": "", "accent_color": "#FF6600"})
    assert response.status_code == 302
    settings = get_page_settings()
    assert (settings.name, settings.time_zone, settings.accent_color, settings.logo_url) == (
        "Pagero Status", "Europe/Stockholm", "#ff6600", None)
    assert ("ops@example.com", "page.update") in audit_actions(db)


def test_admin_manages_staff(logged_in: Actions, app: Any, db: Any) -> None:
    response = logged_in.post("/admin/staff", {"email": "New.Editor@Example.com",
                                               "role": "editor", "password": "long enough pw"})
    assert response.status_code == 302
    user = find_user_by_email("new.editor@example.com")
    assert user is not None and user.role == "editor"
    assert "new.editor@example.com" in text(logged_in.client.get("/admin/staff"))
    logged_in.post(f"/admin/staff/{user.id}/role", {"role": "admin"})
    assert user.role == "admin"
    logged_in.post(f"/admin/staff/{user.id}/active", {"active": "0"})
    assert user.active is False
    logged_in.post(f"/admin/staff/{user.id}/active", {"active": "1"})
    assert user.active is True
    assert "Delete new.editor@example.com?" in text(
        logged_in.client.get(f"/admin/staff/{user.id}/delete"))
    assert logged_in.post(f"/admin/staff/{user.id}/delete").status_code == 302
    assert find_user_by_email("new.editor@example.com") is None
    assert [a for _, a in audit_actions(db) if a.startswith("user.")][-5:] == [
        "user.create", "user.update", "user.update", "user.update", "user.delete"]


def test_editors_run_incidents_but_not_settings(app: Any, make_user: Any,
                                                make_component: Any) -> None:
    make_user("ops@example.com", role="admin")
    make_user("editor@example.com", role="editor")
    editor = Actions(app, app.test_client())
    editor.login("editor@example.com")
    api = make_component("API")
    assert editor.post("/admin/incidents/new", {
        "name": "Editor's incident", "status": "identified", "body": "On it.",
        f"component-{api.id}": "major_outage"}).status_code == 302
    html = text(editor.client.get("/admin/"))
    assert "Editor&#39;s incident" in html
    assert "Page settings" not in html and "Audit log" not in html
    for url in ("/admin/settings", "/admin/staff", "/admin/audit"):
        assert editor.client.get(url).status_code == 403


def test_audit_log_lists_newest_first_a_page_at_a_time(logged_in: Actions,
                                                       make_component: Any) -> None:
    for number in range(55):
        make_component(f"C{number:02d}", actor="ops@example.com")
    first = text(logged_in.client.get("/admin/audit"))
    assert first.index("C54") < first.index("C53")
    assert "C04" not in first and 'href="/admin/audit?page=2"' in first
    second = text(logged_in.client.get("/admin/audit?page=2"))
    assert "C04" in second and "user.login" in second


def test_every_console_page_renders_for_an_admin(logged_in: Actions, make_group: Any,
                                                 make_component: Any, make_incident: Any,
                                                 make_maintenance: Any) -> None:
    group = make_group("Core")
    api = make_component("API", group_id=group.id)
    incident = make_incident(components={api.id: "partial_outage"})
    maintenance = make_maintenance(component_ids=[api.id])
    user = find_user_by_email("ops@example.com")
    assert incident.kind is IncidentKind.INCIDENT and user is not None
    for url in ("/admin/", "/admin/components", "/admin/components/new",
                f"/admin/components/{api.id}/edit", "/admin/groups/new",
                f"/admin/groups/{group.id}/edit", f"/admin/groups/{group.id}/delete",
                "/admin/incidents", "/admin/incidents/new", f"/admin/incidents/{incident.id}",
                f"/admin/incidents/{incident.id}/edit", "/admin/maintenance",
                "/admin/maintenance/new", f"/admin/maintenance/{maintenance.id}",
                f"/admin/maintenance/{maintenance.id}/edit", "/admin/settings", "/admin/staff",
                f"/admin/staff/{user.id}/delete", "/admin/audit"):
        response = logged_in.client.get(url)
        assert response.status_code == 200, url
        assert "admin.css" in text(response)
