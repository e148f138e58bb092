"""The public page in a real browser (headless Debian Chromium through Playwright)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.conftest import TEST_PASSWORD

pytestmark = pytest.mark.browser

@pytest.fixture
def tab(browser: Any) -> Iterator[Any]:
    """A fresh page in its own context (no shared storage), in Tokyo time and British English."""
    context = browser.new_context(timezone_id="Asia/Tokyo", locale="en-GB")
    context.set_default_timeout(10_000)
    try:
        yield context.new_page()
    finally:
        context.close()


def test_public_page_shows_banner_components_and_open_incident(tab, live_server, make_group,
                                                               make_component, make_incident):
    group = make_group("Pagero Online", collapsed=False)
    api = make_component("API", group_id=group.id)
    make_component("Web portal", group_id=group.id)
    make_component("SFTP")
    make_incident("API errors", components={api.id: "partial_outage"}, body="We are **on it**.")

    tab.goto(live_server + "/")

    # One component of three in partial outage, raised by the incident's major impact.
    assert tab.locator(".banner").inner_text() == "Partial System Outage"
    box = tab.locator(".incident-box")
    assert box.locator("h2").inner_text() == "API errors"
    assert box.locator(".update-body strong").inner_text() == "on it"
    rows = tab.locator(".component-list .component-line")
    assert [re.sub(r"\s+", " ", t).strip() for t in rows.all_inner_texts()] == [
        "Pagero Online 2 components Partial Outage", "API Partial Outage",
        "Web portal Operational", "SFTP Operational"]
    assert tab.locator(".uptime-bars").count() == 3


def test_a_collapsed_group_expands_on_click_and_is_remembered(tab, live_server, make_group,
                                                              make_component):
    group = make_group("Networks", collapsed=True)
    make_component("AS2", group_id=group.id)
    make_component("Peppol Access Point", group_id=group.id)

    tab.goto(live_server + "/")
    member = tab.get_by_text("Peppol Access Point")
    assert not member.is_visible()

    tab.locator("summary", has_text="Networks").click()

    assert member.is_visible()
    assert tab.locator("details[data-group-id]").evaluate("el => el.open") is True
    tab.reload()
    assert tab.get_by_text("Peppol Access Point").is_visible()


def test_times_are_shown_in_the_visitors_zone_keeping_the_page_time_as_title(
        tab, live_server, make_incident):
    make_incident("Slow portal", now=datetime(2026, 11, 20, 12, 0, tzinfo=UTC))

    tab.goto(live_server + "/")
    posted = tab.locator(".incident-box time").first

    assert posted.get_attribute("datetime") == "2026-11-20T12:00:00.000Z"
    assert posted.get_attribute("title") == "Nov 20, 2026 12:00 UTC"
    assert "21:00" in posted.inner_text()  # noon UTC is nine in the evening in Tokyo
    # Day headings are calendar days of the page and stay as they are.
    heading = tab.locator(".day-heading time").first
    assert heading.get_attribute("title") is None


def test_ops_open_an_incident_and_the_public_banner_follows(tab, live_server, admin_user,
                                                            make_component):
    api = make_component("API")
    web = make_component("Web portal")
    make_component("SFTP")

    tab.goto(live_server + "/admin/login")
    tab.fill('input[name="email"]', admin_user.email)
    tab.fill('input[name="password"]', TEST_PASSWORD)
    tab.get_by_role("button", name="Sign in").click()
    tab.wait_for_url(re.compile(r"/admin/?$"))

    tab.goto(live_server + "/admin/incidents/new")
    tab.fill('input[name="name"]', "Portal and API slow")
    tab.select_option('select[name="status"]', "investigating")
    tab.fill('textarea[name="body"]', "We are looking into slow responses.")
    tab.select_option(f'select[name="component-{api.id}"]', "partial_outage")
    tab.select_option(f'select[name="component-{web.id}"]', "partial_outage")
    tab.uncheck('input[name="deliver_notifications"]')
    tab.get_by_role("button", name="Open incident").click()
    tab.wait_for_url(re.compile(r"/admin/incidents/\d+$"))

    tab.goto(live_server + "/")

    assert tab.locator(".banner").inner_text() == "Partial System Outage"
    assert tab.locator(".incident-box h2").inner_text() == "Portal and API slow"
    assert tab.locator(".component-status.status-partial_outage").count() == 2


def test_every_uptime_bar_has_a_tooltip_once_the_script_ran(tab, live_server, make_component):
    from statuspage.components import set_component_status
    from statuspage.dbtypes import utcnow

    now = utcnow()
    noon = datetime.combine(now.date() - timedelta(days=3), datetime.min.time(), UTC).replace(
        hour=12)
    api = make_component("API", now=now - timedelta(days=200))
    set_component_status(api, "partial_outage", now=noon)
    set_component_status(api, "operational", now=noon + timedelta(hours=3))

    tab.goto(live_server + "/")
    titles = tab.locator(".uptime-bars i").evaluate_all("bars => bars.map(b => b.title)")

    days = [now.date() - timedelta(days=89 - n) for n in range(90)]
    assert len(titles) == 90
    assert titles[0] == f"{days[0]:%b} {days[0].day}, {days[0].year}: Operational, 100.00% uptime"
    trouble = [t for t in titles if "Partial Outage" in t]
    assert len(trouble) == 1 and trouble[0].endswith("% uptime")
    assert titles[-1].startswith(f"{days[-1]:%b} {days[-1].day}, {days[-1].year}: ")
