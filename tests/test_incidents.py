"""Incidents, updates, postmortems and scheduled maintenance, as domain operations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from statuspage import components as comp
from statuspage import history, postmortems, vocabulary
from statuspage import incidents as inc
from statuspage import maintenance as maint
from statuspage.components import ComponentStatusChange
from statuspage.incidents import Incident, IncidentUpdate
from statuspage.validation import Conflict, NotFound, ValidationError
from statuspage.vocabulary import (
    ACTIVE_MAINTENANCE_STATUSES,
    Impact,
    IncidentKind,
)
from statuspage.vocabulary import (
    ComponentStatus as S,
)

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def test_opening_an_incident_moves_components_and_derives_impact(db, make_component):
    api, web = make_component("API"), make_component("Web")
    incident = inc.open_incident(
        "Elevated error rates", body="Looking into it.", author="ops@example.com", now=T0,
        components={api.id: "partial_outage", str(web.id): "degraded_performance"},
    )
    assert (incident.status, incident.impact, incident.started_at) == (
        "investigating", Impact.MAJOR, T0)
    assert (api.status, web.status) == (S.PARTIAL_OUTAGE, S.DEGRADED_PERFORMANCE)
    [update] = incident.updates
    assert [(a.component_name, a.old_status, a.new_status) for a in update.affected] == [
        ("API", S.OPERATIONAL, S.PARTIAL_OUTAGE), ("Web", S.OPERATIONAL, S.DEGRADED_PERFORMANCE)]
    assert set(incident.components) == {api, web}
    history = db.session.scalars(sa.select(ComponentStatusChange)
                                 .where(ComponentStatusChange.cause == "incident")).all()
    assert {(h.component_id, h.incident_id) for h in history} == {
        (api.id, incident.id), (web.id, incident.id)}


def test_impact_override_wins_over_the_components(db, make_component):
    api = make_component("API")
    incident = inc.open_incident("Slow", components={api.id: "major_outage"},
                                 impact_override="minor")
    assert incident.impact is Impact.MINOR


def test_impact_never_drops_while_components_recover(db, make_component):
    api = make_component("API")
    incident = inc.open_incident("Outage", components={api.id: "major_outage"}, now=T0)
    inc.post_update(incident, status="monitoring", components={api.id: "degraded_performance"},
                    now=T0 + timedelta(minutes=30))
    assert incident.impact is Impact.CRITICAL
    assert incident.monitoring_at == T0 + timedelta(minutes=30)


def test_empty_body_takes_the_statuspage_default_text(db):
    incident = inc.open_incident("Trouble", body="  ")
    assert incident.updates[0].body == "We are currently investigating this issue."


def test_resolving_returns_components_to_operational(db, make_component):
    api, web = make_component("API"), make_component("Web")
    incident = inc.open_incident("Outage", components={api.id: "partial_outage",
                                                       web.id: "partial_outage"}, now=T0)
    inc.post_update(incident, status="monitoring", body="Fixed, watching.", now=T0 + timedelta(1))
    update = inc.resolve_incident(incident, now=T0 + timedelta(days=2))
    assert (api.status, web.status) == (S.OPERATIONAL, S.OPERATIONAL)
    assert incident.resolved_at == T0 + timedelta(days=2)
    assert not incident.is_open
    assert {a.new_status for a in update.affected} == {S.OPERATIONAL}
    assert [u.status for u in incident.updates] == ["resolved", "monitoring", "investigating"]


def test_resolving_can_leave_components_as_they_are(db, make_component):
    api = make_component("API")
    incident = inc.open_incident("Outage", components={api.id: "major_outage"})
    inc.resolve_incident(incident, restore_components=False)
    assert api.status is S.MAJOR_OUTAGE


def test_resolving_keeps_a_component_another_open_incident_holds(db, make_component):
    api = make_component("API")
    first = inc.open_incident("Errors", components={api.id: "partial_outage"})
    inc.open_incident("Latency", components={api.id: "partial_outage"})
    inc.resolve_incident(first)
    assert api.status is S.PARTIAL_OUTAGE


def test_reopening_clears_resolved_at(db, make_component):
    incident = inc.open_incident("Outage")
    inc.resolve_incident(incident)
    inc.post_update(incident, status="investigating", body="It is back.")
    assert incident.resolved_at is None and incident.is_open


@pytest.mark.parametrize(
    ("kwargs", "field", "message"),
    [
        ({"name": ""}, "name", "Name must not be empty."),
        ({"name": "n" * 201}, "name", "Name must be at most 200 characters."),
        ({"status": "exploded"}, "status", "Unknown status"),
        ({"status": "scheduled"}, "status", "Unknown status"),
        ({"impact_override": "apocalyptic"}, "impact_override", "Unknown impact"),
        ({"components": {"999": "major_outage"}}, "components", "Unknown component"),
        ({"body": "b" * 20001}, "body", "Body must be at most 20000 characters."),
    ],
)
def test_bad_incident_input_is_refused_and_stores_nothing(db, make_component, kwargs, field,
                                                          message):
    api = make_component("API")
    args = {"name": "Outage", "components": {api.id: "major_outage"}, **kwargs}
    with pytest.raises(ValidationError) as caught:
        inc.open_incident(args.pop("name"), **args)
    assert message in caught.value.message and caught.value.field == field
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count(Incident.id))) == 0
    assert comp.get_component(api.id).status is S.OPERATIONAL


def test_an_unknown_component_status_in_an_update_changes_nothing(db, make_component):
    api = make_component("API")
    incident = inc.open_incident("Outage", components={api.id: "degraded_performance"})
    with pytest.raises(ValidationError):
        inc.post_update(incident, status="identified", components={api.id: "on_fire"})
    db.session.rollback()
    assert len(inc.get_incident(incident.id).updates) == 1
    assert comp.get_component(api.id).status is S.DEGRADED_PERFORMANCE


def test_edit_update_changes_text_only(db, make_component):
    api = make_component("API")
    incident = inc.open_incident("Outage", body="Typo", components={api.id: "major_outage"})
    update = incident.updates[0]
    inc.edit_update(update, body="Fixed the typo.", actor="ops@example.com")
    assert (update.body, update.status) == ("Fixed the typo.", "investigating")
    assert api.status is S.MAJOR_OUTAGE


def _stored_bodies(db):
    db.session.expire_all()  # read back what was written, not the objects in memory
    return db.session.execute(sa.select(IncidentUpdate.body, IncidentUpdate.body_html,
                                        IncidentUpdate.body_text)
                              .order_by(IncidentUpdate.id)).all()


def test_an_update_is_stored_with_its_html_and_plain_text(db):
    incident = inc.open_incident("Outage", body="We *found* it & fixed <script>it</script>.")
    inc.post_update(incident, status="identified")  # the default body is rendered too

    assert _stored_bodies(db) == [
        ("We *found* it & fixed <script>it</script>.",
         "<p>We <em>found</em> it &amp; fixed .</p>", "We found it & fixed ."),
        (vocabulary.DEFAULT_BODIES["identified"],
         f"<p>{vocabulary.DEFAULT_BODIES['identified']}</p>",
         vocabulary.DEFAULT_BODIES["identified"]),
    ]


def test_editing_an_update_renders_its_new_body(db):
    incident = inc.open_incident("Outage", body="Typo")
    inc.edit_update(incident.updates[0], body="**Fixed** the typo.")

    assert _stored_bodies(db) == [("**Fixed** the typo.", "<p><strong>Fixed</strong> the typo.</p>",
                                   "Fixed the typo.")]


def test_a_postmortem_draft_is_stored_with_its_html(db):
    incident = inc.open_incident("Outage")
    postmortems.save_postmortem(incident, "## Cause\n\nA *full* disk.")
    assert incident.postmortem_html == "<h4>Cause</h4>\n<p>A <em>full</em> disk.</p>"

    postmortems.save_postmortem(incident, "")
    assert (incident.postmortem_body, incident.postmortem_html) == (None, None)


def test_delete_incident_removes_its_updates(db):
    incident = inc.open_incident("Outage")
    inc.post_update(incident, status="identified")
    inc.delete_incident(incident)
    assert db.session.scalar(sa.select(sa.func.count(IncidentUpdate.id))) == 0
    with pytest.raises(NotFound):
        inc.get_incident(incident.id)


def test_postmortem_is_published_only_after_resolution(db):
    incident = inc.open_incident("Outage")
    postmortems.save_postmortem(incident, "## What happened\nA disk filled up.")
    with pytest.raises(Conflict):
        postmortems.publish_postmortem(incident)
    db.session.rollback()
    inc.resolve_incident(incident)
    postmortems.publish_postmortem(incident, now=T0)
    assert (incident.status, incident.postmortem_published_at) == ("postmortem", T0)
    postmortems.revert_postmortem(incident)
    assert incident.status == "resolved" and not incident.postmortem_published


def test_publishing_an_empty_postmortem_is_refused(db):
    incident = inc.open_incident("Outage")
    inc.resolve_incident(incident)
    with pytest.raises(ValidationError):
        postmortems.publish_postmortem(incident)


def test_update_incident_renames_and_overrides_impact(db, make_component):
    api = make_component("API")
    incident = inc.open_incident("Outage", components={api.id: "degraded_performance"})
    inc.change_incident(incident, edits={"name": "API latency", "impact_override": "critical"})
    assert (incident.name, incident.impact) == ("API latency", Impact.CRITICAL)
    inc.change_incident(incident, edits={"impact_override": ""})
    assert incident.impact is Impact.MINOR


# --- maintenance ---------------------------------------------------------------------------

def test_maintenance_runs_its_window_by_itself(db, make_component):
    api, web = make_component("API"), make_component("Web")
    start = T0 + timedelta(days=1)
    maintenance = maint.schedule_maintenance(
        "Database upgrade", scheduled_for=start, scheduled_until=start + timedelta(hours=2),
        component_ids=[api.id], now=T0)
    assert (maintenance.status, maintenance.impact) == ("scheduled", Impact.MAINTENANCE)
    assert [(a.old_status, a.new_status) for a in maintenance.updates[0].affected] == [
        (S.OPERATIONAL, S.OPERATIONAL)]
    assert maint.run_due_transitions(now=start - timedelta(seconds=1)) == []
    maint.run_due_transitions(now=start)
    assert (maintenance.status, api.status, web.status) == (
        "in_progress", S.UNDER_MAINTENANCE, S.OPERATIONAL)
    assert maint.windows(ACTIVE_MAINTENANCE_STATUSES) == [maintenance]
    maint.run_due_transitions(now=start + timedelta(hours=2))
    assert (maintenance.status, api.status) == ("completed", S.OPERATIONAL)
    assert [u.status for u in maintenance.updates] == ["completed", "in_progress", "scheduled"]
    assert maint.run_due_transitions(now=start + timedelta(hours=3)) == []


def test_maintenance_without_automation_waits_for_ops(db, make_component):
    api = make_component("API")
    maintenance = maint.schedule_maintenance(
        "Manual work", scheduled_for=T0, scheduled_until=T0 + timedelta(hours=1),
        component_ids=[api.id], auto_start=False, auto_complete=False,
        to_maintenance_state=False, to_operational_state=False)
    maint.run_due_transitions(now=T0 + timedelta(hours=5))
    assert maintenance.status == "scheduled"
    maint.start_maintenance(maintenance)
    assert api.status is S.OPERATIONAL


def test_a_window_that_ends_before_it_starts_is_refused(db):
    with pytest.raises(ValidationError) as caught:
        maint.schedule_maintenance("Upgrade", scheduled_for=T0,
                                 scheduled_until=T0 - timedelta(minutes=1))
    assert caught.value.field == "scheduled_until"
    assert "end after it starts" in caught.value.message


def test_a_naive_window_is_refused(db):
    with pytest.raises(ValidationError) as caught:
        maint.schedule_maintenance("Upgrade", scheduled_for=datetime(2026, 12, 1),
                                 scheduled_until=datetime(2026, 12, 2))
    assert caught.value.field == "scheduled_for"


def test_cancelling_a_running_maintenance_restores_components(db, make_component):
    api = make_component("API")
    maintenance = maint.schedule_maintenance(
        "Upgrade", scheduled_for=T0, scheduled_until=T0 + timedelta(hours=1),
        component_ids=[api.id])
    maint.start_maintenance(maintenance)
    update = maint.cancel_maintenance(maintenance)
    assert (maintenance.status, api.status, update.body) == (
        "completed", S.OPERATIONAL, vocabulary.CANCELLED_BODY)
    assert maintenance.cancelled_at is not None
    with pytest.raises(Conflict):
        maint.change_maintenance(maintenance, edits={"name": "Again"})


def test_edit_maintenance_moves_the_window_and_components(db, make_component):
    api, web = make_component("API"), make_component("Web")
    maintenance = maint.schedule_maintenance(
        "Upgrade", scheduled_for=T0, scheduled_until=T0 + timedelta(hours=1),
        component_ids=[api.id])
    maint.change_maintenance(maintenance, edits={
        "scheduled_until": T0 + timedelta(hours=3), "component_ids": [web.id],
        "auto_start": False})
    assert maintenance.scheduled_until == T0 + timedelta(hours=3)
    assert maintenance.components == [web] and not maintenance.auto_start
    with pytest.raises(ValidationError):
        maint.change_maintenance(maintenance, edits={"scheduled_for": T0 + timedelta(hours=4)})


def test_incident_statuses_are_not_maintenance_statuses(db):
    maintenance = maint.schedule_maintenance(
        "Upgrade", scheduled_for=T0, scheduled_until=T0 + timedelta(hours=1))
    with pytest.raises(ValidationError):
        inc.post_update(maintenance, status="investigating")


def test_history_queries_file_incidents_and_maintenance_by_their_time(db):
    old = inc.open_incident("Old", now=T0 - timedelta(days=40))
    new = inc.open_incident("New", now=T0)
    done = maint.schedule_maintenance("Done", scheduled_for=T0 - timedelta(days=1),
                                    scheduled_until=T0 - timedelta(hours=20), now=T0)
    maint.run_due_transitions(now=T0)
    maint.schedule_maintenance("Upcoming", scheduled_for=T0 + timedelta(days=1),
                             scheduled_until=T0 + timedelta(days=2), now=T0)
    window = history.between(T0 - timedelta(days=7), T0 + timedelta(days=7))
    assert window == [new, done]
    assert history.oldest_occurrence() == old.started_at
    assert inc.open_incidents() == [new, old]
    assert [m.name for m in history.recent(IncidentKind.MAINTENANCE)] == ["Upcoming", "Done"]


@pytest.mark.parametrize("name", ["Outage\r\nBcc: victim@example.com", "Nul\x00byte",
                                  "Bell\x07", "Line\u2028separator"])
def test_names_with_control_characters_or_line_breaks_are_refused(db, name):
    with pytest.raises(ValidationError) as caught:
        inc.open_incident(name)
    assert caught.value.field == "name" and "not allowed" in caught.value.message
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count(Incident.id))) == 0


def test_bodies_keep_their_line_breaks(db):
    incident = inc.open_incident("Outage", body="Line one\r\n\r\nLine two")
    assert incident.updates[0].body == "Line one\r\n\r\nLine two"
