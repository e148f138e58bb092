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


def test_times_stay_in_the_page_zone_until_the_visitor_asks_for_their_own(
        tab, live_server, make_incident):
    make_incident("Slow portal", now=datetime(2026, 11, 20, 12, 0, tzinfo=UTC))

    tab.goto(live_server + "/")
    posted = tab.locator(".incident-box time").first
    assert posted.get_attribute("datetime") == "2026-11-20T12:00:00.000Z"
    assert posted.inner_text() == "Nov 20, 2026 12:00 UTC"
    assert "Times are shown in UTC." in tab.locator(".time-note").inner_text()

    toggle = tab.get_by_role("button", name="Show my local time")
    toggle.click()

    assert "21:00" in posted.inner_text()  # noon UTC is nine in the evening in Tokyo
    assert tab.get_by_role("button", name="Show the page time (UTC)").get_attribute(
        "aria-pressed") == "true"
    tab.reload()  # the choice is remembered
    assert "21:00" in tab.locator(".incident-box time").first.inner_text()
    # Day headings are calendar days of the page and stay as they are.
    assert tab.locator(".day-heading time").first.inner_text().endswith("2026")


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


def _partial_outage_three_days_ago(make_component: Any) -> Any:
    """A component of long standing with three hours of partial outage at noon three days ago."""
    from statuspage.components import set_component_status
    from statuspage.dbtypes import utcnow

    now = utcnow()
    noon = datetime.combine(now.date() - timedelta(days=3), datetime.min.time(), UTC).replace(
        hour=12)
    api = make_component("API", now=now - timedelta(days=200))
    set_component_status(api, "partial_outage", now=noon)
    set_component_status(api, "operational", now=noon + timedelta(hours=3))
    return api


def test_every_uptime_bar_has_a_tooltip_once_the_script_ran(tab, live_server, make_component):
    from statuspage.dbtypes import utcnow

    now = utcnow()
    _partial_outage_three_days_ago(make_component)

    tab.goto(live_server + "/")
    titles = tab.locator(".uptime-bars i").evaluate_all("bars => bars.map(b => b.title)")

    days = [now.date() - timedelta(days=89 - n) for n in range(90)]
    assert len(titles) == 90
    assert titles[0] == f"{days[0]:%b} {days[0].day}, {days[0].year}: Operational, 100.00% uptime"
    trouble = [t for t in titles if "Partial Outage" in t]
    assert len(trouble) == 1 and trouble[0].endswith("% uptime")
    assert titles[-1].startswith(f"{days[-1]:%b} {days[-1].day}, {days[-1].year}: ")


def test_a_day_of_the_uptime_bars_opens_on_click_and_keyboard_with_its_incidents(
        tab, live_server, make_component, make_incident):
    from statuspage.incidents import resolve_incident

    api = make_component("API", now=datetime(2026, 1, 1, tzinfo=UTC))
    incident = make_incident("API errors", components={api.id: "major_outage"})
    resolve_incident(incident)

    tab.goto(live_server + "/")
    strip = tab.locator(".uptime-bars")
    today = strip.locator("i").last
    today.click()

    detail = tab.locator(".day-detail")
    assert detail.is_visible()
    assert "Major Outage" in detail.inner_text()
    assert detail.get_by_role("link", name="API errors").get_attribute(
        "href") == f"/incidents/{incident.id}"
    detail.get_by_role("button", name="Close").click()
    assert not detail.is_visible()

    # By keyboard: the strip is one stop; arrows choose a day, and the detail follows.
    strip.focus()
    tab.keyboard.press("End")
    assert "API errors" in detail.inner_text()
    tab.keyboard.press("ArrowLeft")
    assert "No incidents this day." in detail.inner_text()
    assert strip.get_attribute("role") == "slider"
    assert "Operational" in strip.get_attribute("aria-valuetext")
    tab.keyboard.press("Escape")
    assert not detail.is_visible()


def test_a_day_in_polish_tells_its_uptime_and_links_its_incident_in_polish(
        tab, live_server, make_component, make_incident):
    # The page carries a day's percentage and incident ids only; page.js puts the words and
    # the links' common parts around them.
    api = _partial_outage_three_days_ago(make_component)
    incident = make_incident("API errors", components={api.id: "major_outage"})

    tab.goto(live_server + "/?lang=pl")
    strip = tab.locator(".uptime-bars")
    detail = tab.locator(".day-detail")
    day = strip.locator("i").nth(86)
    title = day.get_attribute("title")  # from the server: "<date>: <status>, <uptime>"
    assert re.fullmatch(r".+ \d{4}: Częściowa awaria, dostępność \d+,\d\d%", title), title
    day.click()
    assert detail.locator("p").first.inner_text() == title.split(": ")[1].replace(", ", " · ")
    strip.locator("i").last.click()
    assert detail.get_by_role("link", name="API errors").get_attribute(
        "href") == f"/incidents/{incident.id}?lang=pl"


def test_a_component_description_opens_on_click(tab, live_server, make_component):
    make_component("API", description="The REST API used by ERP systems.")

    tab.goto(live_server + "/")
    text = tab.get_by_text("The REST API used by ERP systems.")
    assert not text.is_visible()
    tab.get_by_label("About API").click()
    assert text.is_visible()
