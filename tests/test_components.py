"""Components, groups, status history, the page status rule and uptime."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from statuspage import components as comp
from statuspage import incidents as inc
from statuspage import uptime
from statuspage.audit import AuditEntry
from statuspage.components import ComponentStatusChange
from statuspage.incidents import resolve_incident
from statuspage.validation import Conflict, NotFound, ValidationError
from statuspage.vocabulary import ComponentStatus as S
from statuspage.vocabulary import Indicator

OP, DEG, PART, MAJ, MAINT = (S.OPERATIONAL, S.DEGRADED_PERFORMANCE, S.PARTIAL_OUTAGE,
                             S.MAJOR_OUTAGE, S.UNDER_MAINTENANCE)


@pytest.mark.parametrize(
    ("statuses", "impacts", "indicator", "description"),
    [
        ([], [], "none", "All Systems Operational"),
        ([OP, OP], [], "none", "All Systems Operational"),
        ([OP], [], "none", "All Systems Operational"),
        ([DEG], [], "minor", "Degraded System Service"),
        ([PART], [], "major", "Partial System Outage"),
        ([MAJ], [], "critical", "Major System Outage"),
        ([MAINT], [], "maintenance", "Service Under Maintenance"),
        ([MAJ, MAJ], [], "critical", "Major System Outage"),
        ([MAJ, OP], [], "major", "Partial System Outage"),
        ([PART, PART], [], "major", "Partial System Outage"),
        ([PART, OP], [], "minor", "Minor Service Outage"),
        ([PART, DEG], [], "minor", "Minor Service Outage"),
        ([DEG, DEG], [], "minor", "Degraded System Service"),
        ([DEG, OP], [], "minor", "Partially Degraded Service"),
        ([DEG, MAINT], [], "minor", "Partially Degraded Service"),
        ([MAINT, OP], [], "maintenance", "Service Under Maintenance"),
        ([OP, OP], ["minor"], "minor", "Minor Service Outage"),
        ([OP, OP], ["none"], "none", "All Systems Operational"),
        ([OP], ["major"], "major", "Partial System Outage"),
        ([OP], ["critical", "minor"], "critical", "Major System Outage"),
        ([MAJ, MAJ], ["minor"], "critical", "Major System Outage"),
        ([MAINT], ["minor"], "minor", "Minor Service Outage"),
    ],
)
def test_page_status_follows_the_statuspage_rule(statuses, impacts, indicator, description):
    status = comp.page_status(statuses, impacts)
    assert (status.indicator, status.description) == (indicator, description)


def test_page_status_is_none_exactly_when_all_operational_and_nothing_open():
    for combo in ([OP, DEG], [MAINT], [PART]):
        assert comp.page_status(combo).indicator is not Indicator.NONE
    assert comp.page_status([OP, OP], []).indicator is Indicator.NONE


def test_create_component_records_its_first_status_in_history(db, make_component):
    api = make_component("API", status="degraded_performance")
    rows = db.session.scalars(sa.select(ComponentStatusChange)).all()
    assert [(r.component_id, r.from_status, r.to_status, r.cause) for r in rows] == [
        (api.id, None, DEG, "created")]


def test_set_status_records_from_to_and_audit(db, make_component):
    api = make_component("API")
    comp.set_component_status(api, "major_outage", actor="ops@example.com")
    change = db.session.scalars(
        sa.select(ComponentStatusChange).order_by(ComponentStatusChange.id.desc())).first()
    assert (change.from_status, change.to_status, change.cause) == (OP, MAJ, "manual")
    entry = db.session.scalars(sa.select(AuditEntry).order_by(AuditEntry.id.desc())).first()
    assert (entry.actor, entry.action, entry.summary) == (
        "ops@example.com", "component.status", "operational -> major_outage")


def test_setting_the_same_status_writes_no_history(db, make_component):
    api = make_component("API")
    comp.set_component_status(api, "operational")
    assert db.session.scalar(sa.select(sa.func.count(ComponentStatusChange.id))) == 1


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("name", "", "Name must not be empty."),
        ("name", "   ", "Name must not be empty."),
        ("name", "x" * 101, "Name must be at most 100 characters."),
        ("status", "broken", "Unknown component status"),
        ("description", "d" * 1001, "Description must be at most 1000 characters."),
    ],
)
def test_bad_component_input_is_refused_and_stores_nothing(db, field, value, message):
    kwargs = {"name": "API", field: value}
    with pytest.raises(ValidationError) as caught:
        comp.create_component(**kwargs)
    assert message in caught.value.message
    assert caught.value.field == field
    db.session.rollback()
    assert comp.all_components() == []


def test_unknown_group_is_not_found(db):
    with pytest.raises(NotFound):
        comp.create_component("API", group_id=999)


def test_group_shows_its_worst_member(db, make_group, make_component):
    group = make_group("Pagero Online")
    make_component("Web portal", group_id=group.id)
    make_component("API", group_id=group.id, status="partial_outage")
    make_component("SFTP", group_id=group.id, status="degraded_performance")
    assert group.status is PART


def test_tree_orders_groups_and_loose_components_by_position(db, make_group, make_component):
    first = make_component("Website")
    group = make_group("Networks")
    member_b = make_component("Peppol", group_id=group.id)
    member_a = make_component("AS2", group_id=group.id)
    last = make_component("Support")
    assert comp.component_tree() == [first, group, last]
    assert group.components == [member_b, member_a]
    comp.move(member_a, -1)
    comp.move(last, -1)
    db.session.expire_all()
    assert [c.name for c in comp.get_group(group.id).components] == ["AS2", "Peppol"]
    assert [item.name for item in comp.component_tree()] == ["Website", "Support", "Networks"]


def test_moving_past_the_end_keeps_the_order(db, make_component):
    a, b = make_component("A"), make_component("B")
    comp.move(b, 1)
    comp.move(a, -1)
    assert [c.name for c in comp.component_tree()] == ["A", "B"]


def test_deleting_a_group_keeps_its_members_ungrouped(db, make_group, make_component):
    group = make_group("Integrations")
    member = make_component("SFTP", group_id=group.id)
    comp.delete_group(group)
    db.session.expire_all()
    assert comp.get_component(member.id).group_id is None
    assert comp.all_groups() == []


def test_moving_a_component_into_a_group(db, make_group, make_component):
    group = make_group("Integrations")
    api = make_component("API")
    comp.update_component(api, group_id=group.id, name="API v2", showcase=False)
    assert (api.group_id, api.name, api.showcase) == (group.id, "API v2", False)


def test_a_component_in_an_open_incident_cannot_be_deleted(db, make_component, make_incident):
    api = make_component("API")
    incident = make_incident(components={api.id: "major_outage"})
    with pytest.raises(Conflict) as caught:
        inc.delete_component(api)
    assert "Elevated error rates" in caught.value.message
    db.session.rollback()
    resolve_incident(incident)
    inc.delete_component(api)
    assert comp.all_components() == []


def test_only_show_if_degraded_hides_an_operational_component(db, make_component):
    quiet = make_component("Legacy FTP", only_show_if_degraded=True)
    assert not quiet.visible
    comp.set_component_status(quiet, "partial_outage")
    assert quiet.visible


def test_uptime_counts_major_fully_and_partial_at_thirty_percent(db, make_component):
    utc = ZoneInfo("UTC")
    start = datetime(2026, 11, 1, tzinfo=UTC)
    api = make_component("API", now=start)
    comp.set_component_status(api, "major_outage", now=start + timedelta(days=5, hours=6))
    comp.set_component_status(api, "operational", now=start + timedelta(days=5, hours=12))
    comp.set_component_status(api, "partial_outage", now=start + timedelta(days=6))
    comp.set_component_status(api, "operational", now=start + timedelta(days=7))
    now = start + timedelta(days=9, hours=12)
    days = uptime.uptime_days([api.id], days=12, now=now, zone=utc)[api.id]
    assert len(days) == 12
    by_date = {d.day.isoformat(): d for d in days}
    assert not by_date["2026-10-31"].measured  # before the component existed
    outage = by_date["2026-11-06"]
    assert (outage.worst, outage.major_seconds) == (MAJ, 6 * 3600)
    assert outage.uptime == pytest.approx(0.75)
    partial = by_date["2026-11-07"]
    assert partial.worst is PART
    assert partial.uptime == pytest.approx(0.7)
    assert by_date["2026-11-08"].uptime == 1.0
    measured = [d for d in days if d.measured]
    assert uptime.uptime_percentage(days) == pytest.approx(
        100 * (len(measured) - 0.25 - 0.3) / len(measured))


def test_uptime_days_follow_the_page_time_zone(db, make_component):
    stockholm = ZoneInfo("Europe/Stockholm")
    start = datetime(2026, 11, 1, tzinfo=UTC)
    api = make_component("API", now=start)
    # 23:30 UTC on Nov 5 is 00:30 on Nov 6 in Stockholm.
    comp.set_component_status(api, "major_outage", now=datetime(2026, 11, 5, 23, 30, tzinfo=UTC))
    comp.set_component_status(api, "operational", now=datetime(2026, 11, 6, 0, 30, tzinfo=UTC))
    now = datetime(2026, 11, 8, tzinfo=UTC)
    days = {d.day.isoformat(): d for d in
            uptime.uptime_days([api.id], days=5, now=now, zone=stockholm)[api.id]}
    assert days["2026-11-05"].worst is OP
    assert days["2026-11-06"].major_seconds == 3600


def test_uptime_of_nothing_is_empty(db):
    assert uptime.uptime_days([]) == {}
    assert uptime.uptime_percentage([]) is None


def test_uptime_reads_the_status_at_the_window_start_from_older_history(db, make_component):
    utc = ZoneInfo("UTC")
    start = datetime(2026, 1, 1, tzinfo=UTC)
    api = make_component("API", now=start)
    for day in range(0, 200, 2):  # a long history before the window
        comp.set_component_status(api, "degraded_performance", now=start + timedelta(days=day))
        comp.set_component_status(api, "operational", now=start + timedelta(days=day, hours=1))
    comp.set_component_status(api, "major_outage", now=start + timedelta(days=250))
    now = start + timedelta(days=260, hours=12)
    days = uptime.uptime_days([api.id], days=5, now=now, zone=utc)[api.id]
    assert all(d.measured and d.worst is MAJ and d.uptime == 0.0 for d in days[:-1])
    assert days[-1].major_seconds == 12 * 3600
