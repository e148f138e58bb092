"""The page snapshot: what a visitor sees, how it is cached, and the history pages."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa

from statuspage import page
from statuspage.components import set_component_status
from statuspage.incidents import post_update, resolve_incident
from statuspage.maintenance import run_due_transitions
from statuspage.postmortems import publish_postmortem, save_postmortem
from statuspage.site import update_page_settings
from statuspage.validation import NotFound
from statuspage.vocabulary import ComponentStatus
from tests.conftest import NOW

LONG_AGO = NOW - timedelta(days=200)


def _names(snapshot: page.Snapshot) -> list[str]:
    names = []
    for item in snapshot.tree:
        names.append(item.name)
        if isinstance(item, page.GroupView):
            names.extend(member.name for member in item.components)
    return names


# --- the banner ----------------------------------------------------------------------------------

def test_banner_reads_all_systems_operational_when_nothing_is_wrong(make_component):
    make_component("API", now=LONG_AGO)

    snap = page.snapshot(now=NOW)

    assert (snap.status.indicator, snap.status.description) == ("none",
                                                                "All Systems Operational")


def test_components_shown_only_if_degraded_are_hidden_and_ignored_while_operational(
        make_component):
    api = make_component("API", now=LONG_AGO)
    quiet = make_component("Legacy FTP", only_show_if_degraded=True, now=LONG_AGO)
    set_component_status(api, "partial_outage", now=NOW - timedelta(hours=1))

    snap = page.snapshot(now=NOW)

    # Were the hidden operational component counted, only "some" would be in partial outage.
    assert snap.status.description == "Partial System Outage"
    assert "Legacy FTP" not in _names(snap)

    set_component_status(quiet, "degraded_performance", now=NOW)
    snap = page.snapshot(now=NOW)
    assert "Legacy FTP" in _names(snap)
    assert snap.status.description == "Minor Service Outage"


def test_an_open_incident_raises_the_banner_above_what_components_say(make_component,
                                                                      make_incident):
    make_component("API", now=LONG_AGO)
    make_incident("Payments failing", impact_override="critical", now=NOW)

    snap = page.snapshot(now=NOW)

    assert snap.status.indicator == "critical"
    assert snap.status.description == "Major System Outage"
    assert [i.name for i in snap.open_incidents] == ["Payments failing"]


def test_resolved_incidents_no_longer_raise_the_banner(make_component, make_incident):
    api = make_component("API", now=LONG_AGO)
    incident = make_incident(components={api.id: "major_outage"}, now=NOW - timedelta(hours=2))
    resolve_incident(incident, now=NOW - timedelta(hours=1))

    snap = page.snapshot(now=NOW)

    assert snap.status.description == "All Systems Operational"
    assert snap.open_incidents == ()


# --- the component tree --------------------------------------------------------------------------

def test_a_group_shows_its_worst_member_and_opens_while_one_is_in_trouble(make_group,
                                                                          make_component):
    online = make_group("Pagero Online", collapsed=True)
    networks = make_group("Networks", collapsed=True)
    integrations = make_group("Integrations", collapsed=False)
    make_component("Web portal", group_id=online.id, now=LONG_AGO)
    api = make_component("API", group_id=online.id, now=LONG_AGO)
    make_component("AS2", group_id=networks.id, now=LONG_AGO)
    make_component("SFTP", group_id=integrations.id, now=LONG_AGO)
    make_component("Billing", now=LONG_AGO)
    set_component_status(api, "major_outage", now=NOW)

    snap = page.snapshot(now=NOW)

    groups = {item.name: item for item in snap.tree if isinstance(item, page.GroupView)}
    assert [item.name for item in snap.tree] == ["Pagero Online", "Networks", "Integrations",
                                                 "Billing"]
    assert groups["Pagero Online"].status is ComponentStatus.MAJOR_OUTAGE
    assert [m.name for m in groups["Pagero Online"].components] == ["Web portal", "API"]
    assert groups["Pagero Online"].starts_open  # collapsed, but a member is down
    assert groups["Networks"].status is ComponentStatus.OPERATIONAL
    assert not groups["Networks"].starts_open
    assert groups["Integrations"].starts_open


def test_a_group_whose_members_are_all_hidden_is_hidden_too(make_group, make_component):
    group = make_group("Legacy")
    make_component("Old FTP", group_id=group.id, only_show_if_degraded=True, now=LONG_AGO)

    assert page.snapshot(now=NOW).tree == ()


# --- uptime --------------------------------------------------------------------------------------

def test_uptime_shows_ninety_days_and_a_major_outage_lowers_it(make_component):
    api = make_component("API", now=LONG_AGO)
    make_component("Web", now=LONG_AGO)
    outage_start = datetime(2026, 11, 18, 6, 0, tzinfo=UTC)
    set_component_status(api, "major_outage", now=outage_start)
    set_component_status(api, "operational", now=outage_start + timedelta(hours=6))

    snap = page.snapshot(now=NOW)

    api_view, web_view = snap.tree
    assert len(api_view.uptime) == 90
    assert api_view.uptime[-1].day == date(2026, 11, 20)
    outage_day = next(bar for bar in api_view.uptime if bar.day == date(2026, 11, 18))
    assert outage_day.status is ComponentStatus.MAJOR_OUTAGE
    assert outage_day.uptime == pytest.approx(75.0)
    assert api_view.uptime_percentage == pytest.approx(100 - 25 / 90)
    assert web_view.uptime_percentage == pytest.approx(100.0)
    assert snap.shows_uptime


def test_components_not_showcased_have_no_uptime_bars(make_component):
    make_component("Internal", showcase=False, now=LONG_AGO)

    snap = page.snapshot(now=NOW)

    assert snap.tree[0].uptime == ()
    assert not snap.shows_uptime


def test_days_before_a_component_existed_are_not_measured(make_component):
    make_component("New", now=NOW - timedelta(days=2, hours=1))

    bars = page.snapshot(now=NOW).tree[0].uptime

    assert [bar.measured for bar in bars[-4:]] == [False, True, True, True]
    assert sum(bar.measured for bar in bars) == 3


# --- past incidents and maintenance --------------------------------------------------------------

def test_past_incidents_list_fifteen_days_and_quiet_days_have_none(make_component, make_incident,
                                                                   make_maintenance):
    api = make_component("API", now=LONG_AGO)
    incident = make_incident("Slow API", components={api.id: "degraded_performance"},
                             now=NOW - timedelta(days=3))
    resolve_incident(incident, now=NOW - timedelta(days=3) + timedelta(hours=1))
    done = make_maintenance("Network work", scheduled_for=NOW - timedelta(days=5),
                            component_ids=[api.id], now=NOW - timedelta(days=9))
    run_due_transitions(now=done.scheduled_for + timedelta(minutes=1))
    run_due_transitions(now=done.scheduled_until + timedelta(minutes=1))
    make_maintenance("Next week's upgrade", scheduled_for=NOW + timedelta(days=7),
                     now=NOW - timedelta(days=1))
    make_incident("Too old to list", now=NOW - timedelta(days=15))

    snap = page.snapshot(now=NOW)

    days = snap.past_days
    assert len(days) == 15
    assert days[0].day == date(2026, 11, 20) and days[-1].day == date(2026, 11, 6)
    listed = {day.day: [i.name for i in day.incidents] for day in days if day.incidents}
    assert listed == {date(2026, 11, 17): ["Slow API"], date(2026, 11, 15): ["Network work"]}
    assert [u.status for u in days[3].incidents[0].updates] == ["resolved", "investigating"]
    assert [m.name for m in snap.upcoming_maintenance] == ["Next week's upgrade"]
    assert snap.active_maintenance == ()


def test_maintenance_in_progress_is_active_and_upcoming_no_more(make_component, make_maintenance):
    api = make_component("API", now=LONG_AGO)
    maintenance = make_maintenance("Upgrade", scheduled_for=NOW - timedelta(minutes=30),
                                   component_ids=[api.id], now=NOW - timedelta(days=1))
    run_due_transitions(now=maintenance.scheduled_for)

    snap = page.snapshot(now=NOW)

    assert [m.name for m in snap.active_maintenance] == ["Upgrade"]
    assert snap.upcoming_maintenance == ()
    assert snap.status.description == "Service Under Maintenance"
    assert snap.active_maintenance[0].components == ("API",)


def test_days_follow_the_page_time_zone(db, make_incident):
    update_page_settings(time_zone="America/New_York")
    # 03:00 UTC on the 20th is still the evening of the 19th in New York.
    make_incident("Late evening incident", now=datetime(2026, 11, 20, 3, 0, tzinfo=UTC))

    snap = page.snapshot(now=NOW)

    assert snap.today == date(2026, 11, 20)
    assert snap.settings.time_zone == "America/New_York"
    assert snap.past_days[0].incidents == ()
    assert [i.name for i in snap.past_days[1].incidents] == ["Late evening incident"]


def test_today_begins_at_midnight_in_the_page_time_zone(db):
    update_page_settings(time_zone="Asia/Tokyo")

    snap = page.snapshot(now=datetime(2026, 11, 20, 16, 0, tzinfo=UTC))  # 01:00 in Tokyo

    assert snap.today == date(2026, 11, 21)
    assert snap.past_days[0].day == date(2026, 11, 21)


# --- the cache -----------------------------------------------------------------------------------

def test_the_snapshot_is_reused_while_nothing_changes(make_component):
    make_component("API", now=LONG_AGO)

    first = page.snapshot(now=NOW)
    builds = page.build_count()
    again = page.snapshot(now=NOW + timedelta(hours=1))

    assert again is first
    assert page.build_count() == builds


def test_a_write_makes_the_next_snapshot_fresh(make_component):
    api = make_component("API", now=LONG_AGO)
    first = page.snapshot(now=NOW)

    set_component_status(api, "major_outage", now=NOW)
    fresh = page.snapshot(now=NOW)

    assert fresh is not first
    assert fresh.version > first.version
    assert fresh.tree[0].status is ComponentStatus.MAJOR_OUTAGE
    assert fresh.etag != first.etag


def test_a_new_day_in_the_page_time_zone_makes_a_fresh_snapshot(make_component):
    make_component("API", now=LONG_AGO)
    first = page.snapshot(now=NOW)

    tomorrow = page.snapshot(now=NOW + timedelta(days=1))

    assert tomorrow is not first
    assert tomorrow.past_days[0].day == date(2026, 11, 21)


def test_the_snapshot_holds_no_database_objects(make_component, make_incident):
    api = make_component("API", now=LONG_AGO)
    make_incident(components={api.id: "partial_outage"}, now=NOW)

    snap = page.snapshot(now=NOW)

    def walk(value):
        if isinstance(value, tuple):
            for item in value:
                yield from walk(item)
        elif hasattr(value, "__dataclass_fields__"):
            yield value
            for name in value.__dataclass_fields__:
                yield from walk(getattr(value, name))
        else:
            yield value

    assert not [v for v in walk(snap) if hasattr(v, "_sa_instance_state")]


# --- one incident ---------------------------------------------------------------------------------

def test_an_incident_shows_its_updates_newest_first_and_only_a_published_postmortem(
        make_component, make_incident):
    api = make_component("API", now=LONG_AGO)
    incident = make_incident(components={api.id: "partial_outage"}, now=NOW)
    post_update(incident, status="monitoring", body="Watching.", now=NOW + timedelta(minutes=5))
    resolve_incident(incident, now=NOW + timedelta(minutes=10))
    save_postmortem(incident, "The **cause** was a disk.")

    draft = page.incident(incident.id)
    publish_postmortem(incident, now=NOW + timedelta(days=1))
    published = page.incident(incident.id)

    assert [u.status for u in draft.updates] == ["resolved", "monitoring", "investigating"]
    assert draft.postmortem_html is None
    assert published.postmortem_html == "<p>The <strong>cause</strong> was a disk.</p>"
    assert draft.components == ("API",)
    assert draft.impact == "major"


def test_an_unknown_incident_is_not_found(db):
    with pytest.raises(NotFound):
        page.incident(12345)


# --- history --------------------------------------------------------------------------------------

@pytest.fixture
def months_of_incidents(make_incident):
    for name, when in [("November outage", datetime(2026, 11, 2, tzinfo=UTC)),
                       ("Second November outage", datetime(2026, 11, 10, tzinfo=UTC)),
                       ("September outage", datetime(2026, 9, 30, 23, tzinfo=UTC)),
                       ("July outage", datetime(2026, 7, 15, tzinfo=UTC))]:
        resolve_incident(make_incident(name, now=when), now=when + timedelta(hours=1))


def test_history_lists_months_newest_first_with_quiet_months_empty(months_of_incidents):
    first = page.history(1, now=NOW)

    assert [m.month for m in first.months] == [date(2026, 11, 1), date(2026, 10, 1),
                                               date(2026, 9, 1)]
    assert [[i.name for i in m.incidents] for m in first.months] == [
        ["Second November outage", "November outage"], [], ["September outage"]]
    assert (first.newer, first.older) == (None, 2)


def test_history_pages_back_to_the_oldest_incident_and_no_further(months_of_incidents):
    second = page.history(2, now=NOW)

    assert [m.month for m in second.months] == [date(2026, 8, 1), date(2026, 7, 1),
                                                date(2026, 6, 1)]
    assert [i.name for i in second.months[1].incidents] == ["July outage"]
    assert (second.newer, second.older) == (1, None)
    with pytest.raises(NotFound):
        page.history(3, now=NOW)


def test_history_months_follow_the_page_time_zone(months_of_incidents):
    update_page_settings(time_zone="Europe/Stockholm")

    first = page.history(1, now=NOW)

    # 23:00 UTC on Sep 30 is already October in Stockholm.
    assert [i.name for i in first.months[1].incidents] == ["September outage"]
    assert first.months[2].incidents == ()


def test_history_page_size_comes_from_the_settings(app, months_of_incidents):
    app.config["HISTORY_PAGE_SIZE"] = 1

    assert [m.month for m in page.history(3, now=NOW).months] == [date(2026, 9, 1)]


def test_history_of_an_empty_page_has_one_page(db):
    only = page.history(1, now=NOW)

    assert [m.incidents for m in only.months] == [(), (), ()]
    assert (only.newer, only.older) == (None, None)
    with pytest.raises(NotFound):
        page.history(2, now=NOW)


def test_a_history_page_costs_the_same_queries_with_many_incidents(db, make_incident):
    def statements_for_history() -> int:
        seen = []

        def count(*args):
            seen.append(args)

        sa.event.listen(db.engine, "before_cursor_execute", count)
        try:
            page.history(1, now=NOW)
        finally:
            sa.event.remove(db.engine, "before_cursor_execute", count)
        return len(seen)

    make_incident("First", now=NOW - timedelta(days=1))
    few = statements_for_history()
    for n in range(60):
        make_incident(f"Incident {n}", now=NOW - timedelta(days=n % 80, hours=n % 7))
    many = statements_for_history()

    assert many == few
    assert many <= 8
