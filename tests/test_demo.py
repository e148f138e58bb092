"""The demo page: what it contains, that its history is consistent, and that it loads once."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from statuspage import components, demo, history, incidents, site, staff, uptime
from statuspage import maintenance as maint
from statuspage.audit import AuditEntry
from statuspage.components import Component, ComponentStatusChange
from statuspage.extensions import db as _db
from statuspage.incidents import Incident
from statuspage.validation import ValidationError
from statuspage.vocabulary import ComponentStatus, IncidentKind, MaintenanceStatus

from .conftest import NOW

PASSWORD = "demo password 1234"


@pytest.fixture
def loaded(db: Any) -> demo.DemoResult:
    return demo.load(PASSWORD, now=NOW)


def row_counts(db: Any) -> dict[str, int]:
    return {table.name: db.session.scalar(sa.select(sa.func.count()).select_from(table))
            for table in db.metadata.sorted_tables}


def by_name(name: str) -> Incident:
    return _db.session.scalars(sa.select(Incident).where(Incident.name == name)).one()


def test_demo_fills_an_empty_database_with_the_e_invoicing_page(loaded: demo.DemoResult) -> None:
    assert loaded.created is True
    settings = site.get_page_settings()
    assert (settings.name, settings.time_zone) == ("Pagero", "Europe/Stockholm")
    assert settings.support_url and settings.support_url.startswith("https://")
    groups = {g.name: [c.name for c in g.components] for g in components.all_groups()}
    assert list(groups) == ["Pagero Online", "Integrations", "Networks"]
    assert {"Web portal", "API", "SFTP", "AS2"} <= set(groups["Pagero Online"])
    assert {"Peppol Access Point", "E-invoice delivery"} <= set(groups["Networks"])
    loose = [c.name for c in components.all_components() if c.group_id is None]
    assert loose == ["Login and single sign-on", "Notification emails"]


def test_demo_components_exist_from_before_the_uptime_window(loaded: demo.DemoResult) -> None:
    for component in components.all_components():
        assert component.created_at <= NOW - timedelta(days=90)


def test_demo_login_is_an_admin_who_can_sign_in(loaded: demo.DemoResult) -> None:
    assert (loaded.email, loaded.password) == (demo.DEMO_EMAIL, PASSWORD)
    user = staff.authenticate(loaded.email, PASSWORD, now=NOW)
    assert user is not None and user.is_admin


def test_demo_has_one_open_incident_degrading_as2(loaded: demo.DemoResult) -> None:
    [incident] = incidents.open_incidents()
    assert incident.name == "Delayed AS2 deliveries"
    assert incident.status == "identified"
    assert incident.impact == "minor"
    assert [u.status for u in incident.updates] == ["identified", "investigating"]
    assert all(u.display_at <= NOW for u in incident.updates)
    statuses = {c.name: c.status for c in components.all_components()}
    assert statuses.pop("AS2") is ComponentStatus.DEGRADED_PERFORMANCE
    assert set(statuses.values()) == {ComponentStatus.OPERATIONAL}
    banner = components.page_status([c.status for c in components.all_components()],
                                    [incident.impact])
    assert banner.description == "Partially Degraded Service"


def test_demo_resolved_incidents_each_tell_their_story_in_order(loaded: demo.DemoResult
                                                                ) -> None:
    past = [i for i in history.recent(IncidentKind.INCIDENT) if not i.is_open]
    assert len(past) >= 3
    for incident in past:
        story = list(reversed(incident.updates))  # updates are kept newest first
        assert [u.status for u in story] == ["investigating", "identified", "monitoring",
                                             "resolved"]
        times = [u.display_at for u in story]
        assert times == sorted(times) and len(set(times)) == len(times)
        assert times[-1] - times[0] >= timedelta(minutes=30)
        assert incident.resolved_at == times[-1]
        assert NOW - timedelta(days=90) < incident.started_at < NOW - timedelta(days=1)


def test_demo_has_a_major_outage_with_a_published_postmortem(loaded: demo.DemoResult) -> None:
    outage = by_name("Peppol Access Point unavailable")
    assert outage.impact == "critical"
    assert outage.status == "postmortem" and outage.postmortem_published
    assert outage.postmortem_published_at > outage.resolved_at
    assert "## Summary" in (outage.postmortem_body or "")


def test_demo_uptime_bars_show_the_outage_day(loaded: demo.DemoResult) -> None:
    peppol = by_name("Peppol Access Point unavailable").components[0]
    assert peppol.name == "Peppol Access Point"
    days = uptime.uptime_days([peppol.id], days=90, now=NOW,
                                  zone=ZoneInfo("Europe/Stockholm"))[peppol.id]
    assert all(d.measured for d in days)
    bad = [d for d in days if d.uptime < 1]
    assert [d.worst for d in bad] == [ComponentStatus.MAJOR_OUTAGE]
    assert 0.85 < bad[0].uptime < 0.95  # about two hours down
    assert 99 < uptime.uptime_percentage(days) < 100


def test_every_component_history_follows_on_from_creation_to_now(loaded: demo.DemoResult
                                                                 ) -> None:
    for component in components.all_components():
        rows = _db.session.scalars(
            sa.select(ComponentStatusChange)
            .where(ComponentStatusChange.component_id == component.id)
            .order_by(ComponentStatusChange.id)).all()
        assert rows[0].from_status is None and rows[0].cause == "created"
        for before, after in zip(rows, rows[1:], strict=False):
            assert after.from_status is before.to_status
            assert after.changed_at >= before.changed_at
        assert rows[-1].to_status is component.status


def test_demo_past_maintenance_was_started_and_completed_by_the_scheduler(
    loaded: demo.DemoResult,
) -> None:
    [done] = maint.windows([MaintenanceStatus.COMPLETED])
    assert [u.status for u in reversed(done.updates)] == ["scheduled", "in_progress",
                                                          "completed"]
    assert done.resolved_at == done.scheduled_until < NOW
    archive = done.components[0]
    assert archive.name == "Document archive"
    moves = [row.to_status for row in _db.session.scalars(
        sa.select(ComponentStatusChange).where(ComponentStatusChange.component_id == archive.id)
        .order_by(ComponentStatusChange.id))]
    assert moves == ["operational", "under_maintenance", "operational"]


def test_demo_upcoming_maintenance_starts_and_completes_on_time(loaded: demo.DemoResult
                                                                ) -> None:
    [upcoming] = maint.windows([MaintenanceStatus.SCHEDULED])
    assert NOW + timedelta(days=3) < upcoming.scheduled_for < NOW + timedelta(days=5)
    assert upcoming.auto_start and upcoming.auto_complete
    assert {c.name for c in upcoming.components} == {"Peppol Access Point",
                                                     "E-invoice delivery"}
    maint.run_due_transitions(now=upcoming.scheduled_for + timedelta(seconds=1))
    assert upcoming.status == "in_progress"
    assert {c.status for c in upcoming.components} == {ComponentStatus.UNDER_MAINTENANCE}
    maint.run_due_transitions(now=upcoming.scheduled_until + timedelta(seconds=1))
    assert upcoming.status == "completed"
    assert {c.status for c in upcoming.components} == {ComponentStatus.OPERATIONAL}


def test_demo_changes_are_in_the_audit_log_as_demo_or_scheduler(loaded: demo.DemoResult,
                                                                 db: Any) -> None:
    actors = set(db.session.scalars(sa.select(AuditEntry.actor)))
    assert actors == {"demo", "scheduler"}


def test_loading_twice_changes_nothing(loaded: demo.DemoResult, db: Any) -> None:
    before, version = row_counts(db), site.page_version()
    again = demo.load("another password 99", now=NOW + timedelta(hours=1))
    assert again.created is False
    assert row_counts(db) == before
    assert site.page_version() == version
    assert staff.authenticate(demo.DEMO_EMAIL, "another password 99", now=NOW) is None


@pytest.mark.parametrize("existing", ["component", "user"])
def test_demo_leaves_a_database_that_has_data_alone(db: Any, existing: str, make_component: Any,
                                                    make_user: Any) -> None:
    if existing == "component":
        make_component("Our own API")
    else:
        make_user("ops@example.com")
    before = row_counts(db)
    assert demo.load(PASSWORD, now=NOW).created is False
    assert row_counts(db) == before


def test_demo_with_an_unusable_password_writes_nothing(db: Any) -> None:
    with pytest.raises(ValidationError, match="at least 10 characters"):
        demo.load("short", now=NOW)
    assert demo.is_empty()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Component)) == 0
