"""Embeds: status badges, the maintenance calendar, and the one page allowed in a frame."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from icalendar import Calendar

from statuspage import incidents as inc
from statuspage import maintenance as maint
from statuspage.components import set_component_status
from statuspage.feeds import text_width

SVG = "{http://www.w3.org/2000/svg}"
GREEN, YELLOW, ORANGE, RED, BLUE = "#4c1", "#dfb317", "#fe7d37", "#e05d44", "#007ec6"


def read_badge(response: Any) -> dict[str, Any]:
    """The badge's texts, message colour and widths, read as XML."""
    assert response.status_code == 200
    assert response.content_type == "image/svg+xml; charset=utf-8"
    root = ET.fromstring(response.data)
    assert root.tag == f"{SVG}svg"
    texts = [t.text for t in root.iter(f"{SVG}text") if t.get("aria-hidden") is None]
    rects = [r for r in root.find(f"{SVG}g").iter(f"{SVG}rect")]
    return {
        "label": texts[0], "message": texts[1], "colour": rects[1].get("fill"),
        "width": int(root.get("width")),
        "parts": [int(r.get("width")) for r in rects[:2]],
        "title": root.find(f"{SVG}title").text,
    }


# --- the overall badge --------------------------------------------------------------------------

def test_badge_says_all_systems_operational_in_green(client: Any, make_component: Any) -> None:
    make_component("API")
    badge = read_badge(client.get("/badge.svg"))
    assert (badge["label"], badge["message"]) == ("status", "All Systems Operational")
    assert badge["colour"] == GREEN
    assert badge["title"] == "status: All Systems Operational"
    assert badge["width"] == sum(badge["parts"])


@pytest.mark.parametrize(("statuses", "message", "colour"), [
    (["degraded_performance", "operational"], "Partially Degraded Service", YELLOW),
    (["partial_outage", "partial_outage"], "Partial System Outage", ORANGE),
    (["major_outage", "major_outage"], "Major System Outage", RED),
    (["under_maintenance", "operational"], "Service Under Maintenance", BLUE),
])
def test_badge_colour_follows_the_indicator(client: Any, make_component: Any,
                                            statuses: list[str], message: str,
                                            colour: str) -> None:
    for status in statuses:
        make_component(status=status)
    badge = read_badge(client.get("/badge.svg"))
    assert (badge["message"], badge["colour"]) == (message, colour)


def test_badge_agrees_with_the_banner_when_an_incident_raises_it(
        client: Any, make_component: Any, make_incident: Any) -> None:
    make_component("API")
    make_incident("Data loss", impact_override="critical")
    status = client.get("/api/v2/status.json").get_json()["status"]
    badge = read_badge(client.get("/badge.svg"))
    assert badge["message"] == status["description"] == "Major System Outage"
    assert badge["colour"] == RED
    assert "Major System Outage" in client.get("/").get_data(as_text=True)


def test_badge_changes_after_a_status_change_and_revalidates_by_etag(
        client: Any, make_component: Any) -> None:
    api = make_component("API")
    first = client.get("/badge.svg")
    assert first.cache_control.public and 0 < first.cache_control.max_age <= 300
    etag = first.headers["ETag"]
    assert client.get("/badge.svg", headers={"If-None-Match": etag}).status_code == 304
    set_component_status(api, "major_outage")
    second = client.get("/badge.svg", headers={"If-None-Match": etag})
    assert second.status_code == 200
    assert second.headers["ETag"] != etag
    assert read_badge(second)["message"] == "Major System Outage"


def test_badge_width_follows_the_text(client: Any, make_component: Any) -> None:
    short = read_badge(client.get(f"/components/{make_component('DB').id}/badge.svg"))
    long = read_badge(client.get(
        f"/components/{make_component('Customer-facing payment gateway').id}/badge.svg"))
    assert long["parts"][0] - short["parts"][0] == round(
        text_width("Customer-facing payment gateway")) - round(text_width("DB"))
    assert text_width("WWW") > text_width("iii")


# --- component badges ---------------------------------------------------------------------------

def test_component_badge_shows_its_name_and_status(client: Any, make_component: Any) -> None:
    api = make_component("API", status="partial_outage")
    badge = read_badge(client.get(f"/components/{api.id}/badge.svg"))
    assert (badge["label"], badge["message"], badge["colour"]) == ("API", "Partial Outage",
                                                                    ORANGE)


def test_component_badge_escapes_the_name(client: Any, make_component: Any) -> None:
    odd = make_component('<b>"Tom" & Jerry</b>')
    response = client.get(f"/components/{odd.id}/badge.svg")
    assert b"<b>" not in response.data
    assert read_badge(response)["label"] == '<b>"Tom" & Jerry</b>'


def test_component_badge_of_a_hidden_component_still_answers(client: Any,
                                                             make_component: Any) -> None:
    quiet = make_component("Batch jobs", only_show_if_degraded=True)
    badge = read_badge(client.get(f"/components/{quiet.id}/badge.svg"))
    assert (badge["label"], badge["message"]) == ("Batch jobs", "Operational")


def test_component_badge_of_an_unknown_component_is_404(client: Any, db: Any) -> None:
    assert client.get("/components/4242/badge.svg").status_code == 404


# --- the maintenance calendar -------------------------------------------------------------------

def events_of(client: Any) -> dict[str, Any]:
    response = client.get("/maintenance.ics")
    assert response.status_code == 200
    assert response.content_type == "text/calendar; charset=utf-8"
    calendar = Calendar.from_ical(response.data)
    return {str(e["summary"]): e for e in calendar.walk("VEVENT")}


def test_calendar_holds_scheduled_running_and_completed_windows(
        client: Any, make_component: Any, make_incident: Any,
        make_maintenance: Any) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    upcoming = make_maintenance("Database upgrade", scheduled_for=now + timedelta(days=2),
                                body="We upgrade **PostgreSQL**.")
    running = make_maintenance("Network work", scheduled_for=now - timedelta(minutes=10))
    maint.start_maintenance(running, body="Started on time.")
    done = make_maintenance("Old window", scheduled_for=now - timedelta(days=3))
    maint.start_maintenance(done)
    inc.resolve_incident(done)
    make_incident("Not a maintenance")

    events = events_of(client)
    assert set(events) == {"Database upgrade", "Network work", "Old window"}
    event = events["Database upgrade"]
    assert str(event["uid"]) == f"maintenance-{upcoming.id}@status.test"
    assert event.decoded("dtstart") == now + timedelta(days=2)
    assert event.decoded("dtend") == now + timedelta(days=2, hours=2)
    assert event.decoded("dtstart").utcoffset() == timedelta(0)
    assert str(event["description"]).startswith("We upgrade PostgreSQL.")
    assert str(event["url"]) == f"http://status.test/incidents/{upcoming.id}"
    assert str(event["status"]) == "CONFIRMED"
    assert event.decoded("last-modified") is not None
    # The latest update is the one described.
    assert str(events["Network work"]["description"]).startswith("Started on time.")


def test_cancelled_maintenance_is_a_cancelled_event(client: Any,
                                                    make_maintenance: Any) -> None:
    called_off = make_maintenance("Called off")
    maint.cancel_maintenance(called_off)
    event = events_of(client)["Called off"]
    assert str(event["status"]) == "CANCELLED"
    assert str(event["uid"]) == f"maintenance-{called_off.id}@status.test"


def test_calendar_uids_stay_the_same_across_changes(client: Any, make_maintenance: Any) -> None:
    window = make_maintenance("Database upgrade")
    before = str(events_of(client)["Database upgrade"]["uid"])
    maint.change_maintenance(window, edits={"name": "Database upgrade"})
    maint.start_maintenance(window)
    assert str(events_of(client)["Database upgrade"]["uid"]) == before


def test_calendar_revalidates_by_etag(client: Any, make_maintenance: Any) -> None:
    make_maintenance()
    etag = client.get("/maintenance.ics").headers["ETag"]
    assert client.get("/maintenance.ics", headers={"If-None-Match": etag}).status_code == 304
    make_maintenance("Second window")
    assert client.get("/maintenance.ics", headers={"If-None-Match": etag}).status_code == 200


# --- the embed page and framing -----------------------------------------------------------------

def test_embed_page_shows_the_status_and_links_open_incidents_in_a_new_tab(
        client: Any, make_component: Any, make_incident: Any) -> None:
    api = make_component("API")
    incident = make_incident("Elevated <errors>", components={api.id: "partial_outage"})
    inc.resolve_incident(make_incident("Quietly fixed"))
    response = client.get("/embed")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Partial System Outage" in html
    assert (f'<a href="/incidents/{incident.id}" target="_blank" rel="noopener">'
            "Elevated &lt;errors&gt;</a>") in html
    assert "Quietly fixed" not in html
    assert "<script" not in html


def test_only_the_embed_page_may_be_framed(client: Any, make_component: Any) -> None:
    make_component("API")
    embed = client.get("/embed")
    assert "X-Frame-Options" not in embed.headers
    assert embed.headers["Content-Security-Policy"].endswith("; frame-ancestors *")
    for path in ("/", "/history", "/admin/login", "/api/v2/summary.json", "/badge.svg",
                 "/api/docs", "/no-such-page"):
        response = client.get(path)
        assert response.headers["X-Frame-Options"] == "DENY", path
        assert response.headers["Content-Security-Policy"].endswith(
            "; frame-ancestors 'none'"), path
