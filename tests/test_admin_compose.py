"""The console's writing aids: closing messages, incident templates, the Markdown and email
previews, the component picker and each maintenance's own reminder lead."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest

from statuspage import incident_templates as templates
from statuspage import maintenance as maint
from statuspage import subscriptions as subs
from statuspage.dbtypes import utcnow
from statuspage.outbox import Notice, NoticeKind
from tests.conftest import Actions


def text(response: Any) -> str:
    return response.get_data(as_text=True)


def json_post(actions: Actions, url: str, payload: dict[str, Any]) -> Any:
    """A JSON POST as compose.js makes it, the CSRF token in its header."""
    return actions.client.post(url, json=payload, headers={"X-CSRFToken": actions.csrf_token()})


# --- closing messages ----------------------------------------------------------------------------

@pytest.mark.parametrize(("message", "shown"), [
    ("Fixed by a **rollback**.", "Fixed by a **rollback**."),
    ("", "This incident has been resolved."),
])
def test_resolving_posts_the_closing_message_or_the_default_one(logged_in: Actions,
                                                                make_incident: Any,
                                                                message: str,
                                                                shown: str) -> None:
    incident = make_incident("API errors")

    response = logged_in.post(f"/admin/incidents/{incident.id}/resolve", {"body": message})

    assert response.status_code == 302
    assert incident.updates[0].status == "resolved" and incident.updates[0].body == shown


def test_completing_a_maintenance_posts_its_closing_message(logged_in: Actions,
                                                            make_maintenance: Any) -> None:
    maintenance = make_maintenance("Database upgrade")

    logged_in.post(f"/admin/maintenance/{maintenance.id}/complete",
                   {"body": "Done ahead of time."})

    assert maintenance.status == "completed"
    assert maintenance.updates[0].body == "Done ahead of time."


# --- incident templates --------------------------------------------------------------------------

def test_a_template_is_kept_and_starts_a_new_incident(logged_in: Actions,
                                                      make_component: Any) -> None:
    api = make_component("API")
    saved = logged_in.post("/admin/templates/new", {
        "name": "API errors", "title": "Elevated API error rates", "status": "identified",
        "body": "We know why and are fixing it.", f"component-{api.id}": "partial_outage"})
    assert saved.status_code == 302, text(saved)
    [template] = templates.templates()
    assert template.components == {api.id: "partial_outage"}
    assert "API errors" in text(logged_in.client.get("/admin/templates"))

    page = text(logged_in.client.get(f"/admin/incidents/new?template={template.id}"))

    assert 'value="Elevated API error rates"' in page
    assert re.search(r'<option selected value="identified">', page)
    assert "We know why and are fixing it." in page
    select = re.search(rf'<select id="component-{api.id}".*?</select>', page, re.S).group(0)
    assert '<option selected value="partial_outage">' in select


def test_a_template_starts_an_update_and_an_unknown_one_is_ignored(
        logged_in: Actions, make_incident: Any, make_component: Any) -> None:
    api = make_component("API")
    template = templates.save_template(name="Fixed", title="x", status="monitoring",
                                       body="A fix is live.", components={api.id: "operational"})
    incident = make_incident("API errors")

    page = text(logged_in.client.get(f"/admin/incidents/{incident.id}?template={template.id}"))
    plain = text(logged_in.client.get(f"/admin/incidents/{incident.id}?template=999"))

    assert re.search(r'<option selected value="monitoring">', page) and "A fix is live." in page
    assert "A fix is live." not in plain


def test_a_template_name_is_unique_and_a_template_can_be_deleted(logged_in: Actions,
                                                                 db: Any) -> None:
    templates.save_template(name="Outage", title="Outage")

    again = logged_in.post("/admin/templates/new", {"name": "Outage", "title": "Another",
                                                   "status": "investigating"})
    assert again.status_code == 409 and "exists already" in text(again)
    [template] = templates.templates()
    asked = logged_in.client.get(f"/admin/templates/{template.id}/delete")
    assert asked.status_code == 200 and templates.templates() == [template]

    logged_in.post(f"/admin/templates/{template.id}/delete")

    assert templates.templates() == []


# --- previews -------------------------------------------------------------------------------------

def test_the_markdown_preview_shows_the_message_as_the_page_will(logged_in: Actions) -> None:
    response = json_post(logged_in, "/admin/preview/markdown",
                         {"text": "**Down** <script>x</script>"})

    assert response.status_code == 200
    assert response.get_json()["html"].startswith("<p><strong>Down</strong>")
    assert "<script>" not in response.get_json()["html"]


def test_the_markdown_preview_needs_the_csrf_token(logged_in: Actions) -> None:
    response = logged_in.client.post("/admin/preview/markdown", json={"text": "x"})

    assert response.status_code == 400


def test_the_email_preview_shows_each_language_and_whom_it_reaches(logged_in: Actions,
                                                                   make_component: Any) -> None:
    api = make_component("API")
    make_component("Web")
    subs.add_subscriber("pl@example.com", confirmed=True, language="pl")
    subs.add_subscriber("en@example.com", confirmed=True, component_ids=[api.id])
    web_only = subs.add_subscriber("web@example.com", confirmed=True)
    web_only.all_components = False
    subs.change_subscriber(web_only)

    response = json_post(logged_in, "/admin/preview/email", {
        "name": "API errors", "status": "investigating", "body": "",
        "components": {str(api.id): "partial_outage"}})

    data = response.get_json()
    assert response.status_code == 200
    assert data["reach"] == {"en": 1, "pl": 1} and data["total"] == 2
    # One subject per incident in every language (clients thread them); the status leads.
    assert data["emails"]["pl"]["subject"] == data["emails"]["en"]["subject"] == \
        "[Acme] API errors"
    assert data["emails"]["pl"]["text"].startswith("Analizujemy - ")
    assert "Analizujemy ten problem." in data["emails"]["pl"]["text"]
    assert "API (Częściowa awaria)" in data["emails"]["pl"]["text"]
    assert data["emails"]["en"]["text"].startswith("Investigating - ")


def test_the_email_preview_refuses_an_unknown_component(logged_in: Actions, db: Any) -> None:
    response = json_post(logged_in, "/admin/preview/email", {
        "name": "x", "status": "investigating", "components": {"999": "major_outage"}})

    assert response.status_code == 422
    assert response.get_json()["field"] == "components"


# --- the component picker -------------------------------------------------------------------------

def test_the_component_picker_folds_quiet_groups_and_opens_troubled_ones(
        logged_in: Actions, make_group: Any, make_component: Any) -> None:
    quiet = make_group("Networks")
    make_component("AS2", group_id=quiet.id)
    busy = make_group("Platform")
    make_component("API", group_id=busy.id, status="major_outage")

    page = text(logged_in.client.get("/admin/incidents/new"))

    picker = page[page.index("data-component-picker"):page.index("</fieldset>")]
    assert re.search(r'<details class="picker-group" data-picker-group>\s*<summary><strong>'
                     r'Networks</strong>', picker)
    assert re.search(r'<details class="picker-group" data-picker-group open>\s*<summary>'
                     r'<strong>Platform</strong>', picker)
    assert 'data-name="as2"' in picker and 'data-set-group' in picker


# --- each maintenance's reminder lead -------------------------------------------------------------

def test_a_maintenance_is_reminded_of_at_its_own_lead(logged_in: Actions, db: Any) -> None:
    now = utcnow()
    starts = (now + timedelta(days=1)).replace(second=0, microsecond=0)
    scheduled = logged_in.post("/admin/maintenance/new", {
        "name": "Upgrade", "scheduled_for": starts.strftime("%Y-%m-%dT%H:%M"),
        "scheduled_until": (starts + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
        "remind_prior": "y", "reminder_minutes": "180"})
    assert scheduled.status_code == 302, text(scheduled)
    [maintenance] = maint.windows([maint.MaintenanceStatus.SCHEDULED])
    assert maintenance.reminder_minutes == 180 and maint.reminder_lead(maintenance) == 180

    assert maint.enqueue_reminders(now=starts - timedelta(minutes=181)) == 0
    assert maint.enqueue_reminders(now=starts - timedelta(minutes=179)) == 1
    [notice] = db.session.query(Notice).filter_by(kind=NoticeKind.MAINTENANCE_REMINDER).all()
    assert notice.incident_id == maintenance.id


@pytest.mark.parametrize("minutes", ["0", "10081", "soon"])
def test_a_reminder_lead_out_of_bounds_is_refused(logged_in: Actions, make_maintenance: Any,
                                                  minutes: str) -> None:
    maintenance = make_maintenance("Upgrade")
    form = {"name": "Upgrade",
            "scheduled_for": maintenance.scheduled_for.strftime("%Y-%m-%dT%H:%M"),
            "scheduled_until": maintenance.scheduled_until.strftime("%Y-%m-%dT%H:%M"),
            "remind_prior": "y", "reminder_minutes": minutes}

    response = logged_in.post(f"/admin/maintenance/{maintenance.id}/edit", form)

    assert response.status_code == 422
    assert maintenance.reminder_minutes is None
