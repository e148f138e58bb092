"""Bad input to the ops console is answered clearly and changes nothing.

One table: each row sends one bad request and names the status and the message it must get.
Every row also checks that no table changed, by comparing every row of every table.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from statuspage.extensions import db as _db
from statuspage.staff import find_user_by_email
from tests.conftest import Actions

VALID_INCIDENT = {"name": "Invoices delayed", "status": "investigating", "body": "Looking."}
VALID_MAINTENANCE = {"name": "Upgrade", "scheduled_for": "2030-06-01T02:00",
                     "scheduled_until": "2030-06-01T04:00"}
VALID_SETTINGS = {"name": "Acme", "url": "", "time_zone": "Etc/UTC", "support_url": "",
                  "logo_url": "", "accent_color": "#2c7be5"}
SCRIPT = "<script>alert(1)</script>"



def everything() -> dict[str, list[str]]:
    """Every row of every table, so a test can tell that nothing at all changed."""
    _db.session.expire_all()
    return {table.name: sorted(repr(tuple(row)) for row in _db.session.execute(sa.select(table)))
            for table in _db.metadata.sorted_tables}


@pytest.fixture
def world(app: Flask, logged_in: Actions, make_user: Any, make_group: Any, make_component: Any,
          make_incident: Any, make_maintenance: Any) -> SimpleNamespace:
    """A signed-in admin, a signed-in editor, components, an open incident and a maintenance."""
    make_user("editor@example.com", role="editor")
    editor = Actions(app, app.test_client())
    assert editor.login("editor@example.com").status_code == 302
    group = make_group("Networks")
    api = make_component("API", group_id=group.id)
    web = make_component("Web portal")
    incident = make_incident("API errors", components={api.id: "partial_outage"})
    maintenance = make_maintenance("Upgrade", component_ids=[web.id])
    admin = find_user_by_email("ops@example.com")
    assert admin is not None
    return SimpleNamespace(app=app, admin=logged_in, editor=editor, api=api.id, web=web.id,
                           admin_id=admin.id,
                           incident=incident.id, maintenance=maintenance.id,
                           anonymous=Actions(app, app.test_client()))


@dataclass(frozen=True)
class Case:
    send: Callable[[SimpleNamespace], Any]
    status: int
    message: str
    shown_as_text: str = ""  # input that the answer must show back, escaped
    audited: str = ""  # the one audit action the refusal itself records (a failed sign-in)


CASES = {
    "empty component name": Case(
        lambda w: w.admin.post("/admin/components/new", {"name": "   "}),
        422, "Name must not be empty."),
    "overlong component name": Case(
        lambda w: w.admin.post(f"/admin/components/{w.api}/edit", {"name": "x" * 101}),
        422, "Name must be at most 100 characters."),
    "empty group name": Case(
        lambda w: w.admin.post("/admin/groups/new", {"name": ""}),
        422, "Name must not be empty."),
    "unknown component status": Case(
        lambda w: w.admin.post(f"/admin/components/{w.api}/status", {"status": "exploded"}),
        422, "Unknown component status 'exploded'"),
    "unknown component status in an incident": Case(
        lambda w: w.admin.post("/admin/incidents/new",
                               {**VALID_INCIDENT, f"component-{w.web}": "exploded"}),
        422, "Unknown component status 'exploded'"),
    "empty incident name": Case(
        lambda w: w.admin.post("/admin/incidents/new", {**VALID_INCIDENT, "name": ""}),
        422, "Name must not be empty."),
    "overlong incident name": Case(
        lambda w: w.admin.post("/admin/incidents/new", {**VALID_INCIDENT, "name": "x" * 201}),
        422, "Name must be at most 200 characters."),
    "empty incident message": Case(
        lambda w: w.admin.post("/admin/incidents/new", {**VALID_INCIDENT, "body": " "}),
        422, "Message must not be empty."),
    "unknown incident status": Case(
        lambda w: w.admin.post("/admin/incidents/new", {**VALID_INCIDENT, "status": "panic"}),
        422, "Unknown status 'panic'"),
    "unknown incident status in an update": Case(
        lambda w: w.admin.post(f"/admin/incidents/{w.incident}/updates",
                               {"status": "fixed", "body": "Done."}),
        422, "Unknown status 'fixed'"),
    "unknown impact": Case(
        lambda w: w.admin.post(f"/admin/incidents/{w.incident}/edit",
                               {"name": "API errors", "impact_override": "apocalyptic"}),
        422, "Unknown impact 'apocalyptic'"),
    "maintenance that ends before it starts": Case(
        lambda w: w.admin.post("/admin/maintenance/new", {
            **VALID_MAINTENANCE, "scheduled_until": "2030-06-01T01:00"}),
        422, "The maintenance window must end after it starts."),
    "maintenance edit that ends before it starts": Case(
        lambda w: w.admin.post(f"/admin/maintenance/{w.maintenance}/edit", {
            **VALID_MAINTENANCE, "scheduled_until": "2030-06-01T02:00"}),
        422, "The maintenance window must end after it starts."),
    "maintenance start that is not a time": Case(
        lambda w: w.admin.post("/admin/maintenance/new", {
            **VALID_MAINTENANCE, "scheduled_for": "next tuesday"}),
        422, "Not a valid datetime value."),
    "missing CSRF token": Case(
        lambda w: w.admin.client.post("/admin/components/new", data={"name": "Sneaky"}),
        400, "missing CSRF token"),
    "sign-out without CSRF token": Case(
        lambda w: w.admin.client.post("/admin/logout"),
        400, "missing CSRF token"),
    "wrong password": Case(
        lambda w: w.anonymous.login("ops@example.com", "not the password"),
        200, "Wrong email or password.", audited="user.login_failed"),
    "unknown email": Case(
        lambda w: w.anonymous.login("nobody@example.com", "not the password"),
        200, "Wrong email or password.", audited="user.login_failed"),
    "unknown incident id": Case(
        lambda w: w.admin.client.get("/admin/incidents/999999"),
        404, "No such incident."),
    "update to an unknown incident": Case(
        lambda w: w.admin.post("/admin/incidents/999999/updates",
                               {"status": "resolved", "body": "Done."}),
        404, "No such incident."),
    "maintenance id used as an incident": Case(
        lambda w: w.admin.client.get(f"/admin/incidents/{w.maintenance}"),
        404, "No such incident."),
    "unknown component id": Case(
        lambda w: w.admin.post("/admin/components/999999/delete"),
        404, "No such component."),
    "deleting a component an open incident names": Case(
        lambda w: w.admin.post(f"/admin/components/{w.api}/delete"),
        409, "API is part of an open incident or maintenance (API errors); resolve it first."),
    "publishing the postmortem of an open incident": Case(
        lambda w: w.admin.post(f"/admin/incidents/{w.incident}/postmortem/publish"),
        409, "Only a resolved incident can have its postmortem published."),
    "demoting the last admin": Case(
        lambda w: w.admin.post(f"/admin/staff/{w.admin_id}/role", {"role": "editor"}),
        409, "The page needs at least one active admin."),
    "a user who exists already": Case(
        lambda w: w.admin.post("/admin/staff", {"email": "EDITOR@example.com",
                                                "role": "editor", "password": "long enough pw"}),
        409, "A user with this email address exists already."),
    "a short password": Case(
        lambda w: w.admin.post("/admin/staff", {"email": "new@example.com", "role": "editor",
                                                "password": "short"}),
        422, "Password must be at least 10 characters."),
    "an unknown time zone": Case(
        lambda w: w.admin.post("/admin/settings", {**VALID_SETTINGS, "time_zone": "Mars/Olympus"}),
        422, "Time zone must be an IANA name such as Europe/Stockholm."),
    "a javascript support link": Case(
        lambda w: w.admin.post("/admin/settings",
                               {**VALID_SETTINGS, "support_url": "javascript:alert(1)"}),
        422, "Support url must be an http(s) URL."),
    "an accent colour that is not one": Case(
        lambda w: w.admin.post("/admin/settings", {**VALID_SETTINGS, "accent_color": "red"}),
        422, "Accent colour must look like #2c7be5."),
    "editor changing page settings": Case(
        lambda w: w.editor.post("/admin/settings", {**VALID_SETTINGS, "name": "Hijacked"}),
        403, "Only admins can do this."),
    "editor adding a user": Case(
        lambda w: w.editor.post("/admin/staff", {"email": "friend@example.com",
                                                 "role": "admin", "password": "long enough pw"}),
        403, "Only admins can do this."),
    "editor reading the audit log": Case(
        lambda w: w.editor.client.get("/admin/audit"),
        403, "Only admins can do this."),
    "script tag in an overlong component name": Case(
        lambda w: w.admin.post("/admin/components/new", {"name": SCRIPT + "x" * 100}),
        422, "Name must be at most 100 characters.", shown_as_text=SCRIPT),
    "script tag in an incident name with an unknown status": Case(
        lambda w: w.admin.post("/admin/incidents/new",
                               {**VALID_INCIDENT, "name": SCRIPT, "status": "panic"}),
        422, "Unknown status 'panic'", shown_as_text=SCRIPT),
}


@pytest.mark.parametrize("case", list(CASES.values()), ids=list(CASES))
def test_bad_input_is_refused_clearly_and_changes_nothing(world: SimpleNamespace,
                                                          case: Case) -> None:
    before = everything()
    response = case.send(world)
    page = response.get_data(as_text=True)
    assert response.status_code == case.status, page
    assert case.message in html.unescape(page)
    assert "<script>alert" not in page
    if case.shown_as_text:
        assert html.escape(case.shown_as_text) in page
    after = everything()
    if case.audited:
        [added] = set(after.pop("audit_entry")) - set(before.pop("audit_entry"))
        assert f"'{case.audited}'" in added
    assert after == before
