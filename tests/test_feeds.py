"""RSS and Atom feeds of the incident history, whole and per component."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from typing import Any

import feedparser
import pytest

from statuspage import feeds
from statuspage.components import create_component
from statuspage.incidents import open_incident, post_update, resolve_incident
from statuspage.maintenance import schedule_maintenance, start_maintenance
from statuspage.postmortems import publish_postmortem, save_postmortem
from statuspage.site import update_page_settings

T0 = datetime(2026, 3, 16, 18, 0, tzinfo=UTC)
ATOM = "{http://www.w3.org/2005/Atom}"
FEED_PATHS = {"rss": "/history.rss", "atom": "/history.atom"}


def parse(client: Any, path: str, **kwargs: Any) -> Any:
    response = client.get(path, **kwargs)
    assert response.status_code == 200, response.get_data(as_text=True)
    parsed = feedparser.parse(response.data)
    assert parsed.bozo == 0, parsed.get("bozo_exception")
    return parsed


def raw_contents(client: Any, kind: str, path: str | None = None) -> list[str]:
    """Each entry's HTML exactly as written in the XML (feedparser would rewrite it)."""
    root = ET.fromstring(client.get(path or FEED_PATHS[kind]).data)
    if kind == "rss":
        return [item.findtext("description") for item in root.iter("item")]
    return [entry.findtext(f"{ATOM}content") for entry in root.iter(f"{ATOM}entry")]


@pytest.fixture
def story(db: Any) -> Any:
    """An incident with four updates, in a page kept in Stockholm time."""
    update_page_settings(time_zone="Europe/Stockholm")
    api = create_component("API", now=T0 - timedelta(days=10))
    incident = open_incident("Elevated API errors", body="We are looking into it.",
                             components={api.id: "partial_outage"}, now=T0)
    post_update(incident, status="identified", body="A bad deploy.",
                now=T0 + timedelta(minutes=20))
    post_update(incident, status="identified", body="Rolling back.",
                now=T0 + timedelta(minutes=30))
    resolve_incident(incident, body="This incident has been resolved.",
                     now=T0 + timedelta(minutes=46))
    return incident


# --- both formats parse cleanly ---------------------------------------------------------------

@pytest.mark.parametrize("kind", ["rss", "atom"])
def test_history_feed_parses_without_warnings_and_names_the_page(client, story, kind):
    response = client.get(FEED_PATHS[kind])
    parsed = parse(client, FEED_PATHS[kind])

    assert response.content_type == feeds.CONTENT_TYPES[kind]
    assert parsed.feed.title == "Acme Status - Incident History"
    assert parsed.feed.link == "http://status.test"
    assert [e.title for e in parsed.entries] == ["Elevated API errors"]


@pytest.mark.parametrize("kind", ["rss", "atom"])
def test_an_empty_history_is_still_a_valid_feed(client, db, kind):
    parsed = parse(client, FEED_PATHS[kind])

    assert parsed.entries == []
    assert parsed.feed.title == "Acme Status - Incident History"


def test_the_channel_link_of_rss_is_the_page_not_the_feed(client, db):
    update_page_settings(url="https://status.acme.example")

    root = ET.fromstring(client.get("/history.rss").data)

    assert root.findtext("channel/link") == "https://status.acme.example"


# --- entries -----------------------------------------------------------------------------------

def test_rss_entries_link_to_the_incident_page_with_a_permalink_guid(client, story):
    entry = parse(client, "/history.rss").entries[0]

    assert entry.link == f"http://status.test/incidents/{story.id}"
    assert entry.id == f"http://status.test/incidents/{story.id}"
    assert entry.published_parsed[:5] == (2026, 3, 16, 18, 0)
    guid = ET.fromstring(client.get("/history.rss").data).find("channel/item/guid")
    assert guid.get("isPermaLink") == "true"


def test_atom_entries_have_stable_tag_ids_and_creation_and_update_times(client, story):
    entry = parse(client, "/history.atom").entries[0]

    assert entry.id == f"tag:status.test,2005:Incident/{story.id}"
    assert entry.link == f"http://status.test/incidents/{story.id}"
    assert datetime.fromisoformat(entry.published) == T0
    assert datetime.fromisoformat(entry.updated) == T0 + timedelta(minutes=46)


@pytest.mark.parametrize("kind", ["rss", "atom"])
def test_content_has_every_update_newest_first_in_the_page_time_zone(client, story, kind):
    [content] = raw_contents(client, kind)

    assert content == (
        "<p><small>Mar 16, 19:46 CET</small><br><strong>Resolved</strong> - "
        "This incident has been resolved.</p>"
        "<p><small>Mar 16, 19:30 CET</small><br><strong>Update</strong> - Rolling back.</p>"
        "<p><small>Mar 16, 19:20 CET</small><br><strong>Identified</strong> - "
        "A bad deploy.</p>"
        "<p><small>Mar 16, 19:00 CET</small><br><strong>Investigating</strong> - "
        "We are looking into it.</p>"
    )


def test_summer_time_is_named_as_such(client, db):
    update_page_settings(time_zone="Europe/Stockholm")
    open_incident("Summer outage", body="Hot.", now=datetime(2026, 7, 1, 10, 5, tzinfo=UTC))

    [content] = raw_contents(client, "atom")

    assert content.startswith("<p><small>Jul 1, 12:05 CEST</small>")


def test_markdown_bodies_are_rendered_and_sanitised(client, db):
    open_incident("Odd text", body="**Bold** move <script>alert(1)</script>\n\n- one\n- two",
                  now=T0)

    [content] = raw_contents(client, "rss")

    assert "<script" not in content
    assert content.startswith("<p><small>Mar 16, 18:00 UTC</small><br><strong>Investigating"
                              "</strong> - <strong>Bold</strong> move")
    # A list cannot sit inside the paragraph, so it follows it.
    assert "</p><ul>" in content and "<li>one</li>" in content


def test_a_published_postmortem_leads_the_entry(client, story):
    save_postmortem(story, "What went *wrong*.", now=T0 + timedelta(days=1))
    publish_postmortem(story, now=T0 + timedelta(days=1))

    [content] = raw_contents(client, "atom")
    entry = parse(client, "/history.atom").entries[0]

    assert content.startswith("<p><small>Mar 17, 19:00 CET</small><br><strong>Postmortem"
                              "</strong> - What went <em>wrong</em>.</p>")
    assert datetime.fromisoformat(entry.updated) == T0 + timedelta(days=1)


def test_maintenance_appears_once_announced_with_its_own_labels(client, db):
    maintenance = schedule_maintenance(
        "Database upgrade", scheduled_for=T0 + timedelta(days=2),
        scheduled_until=T0 + timedelta(days=2, hours=2), now=T0)
    assert [e.title for e in parse(client, "/history.rss").entries] == ["Database upgrade"]

    start_maintenance(maintenance, now=T0 + timedelta(days=2))
    resolve_incident(maintenance, now=T0 + timedelta(days=2, hours=2))
    [content] = raw_contents(client, "rss")

    labels = [part.split("</strong>")[0] for part in content.split("<strong>")[1:]]
    assert labels == ["Completed", "In progress", "Scheduled"]


def test_entries_are_newest_first_incidents_and_maintenance_together(client, db):
    open_incident("First", body="a", now=T0)
    schedule_maintenance("Second", scheduled_for=T0 + timedelta(days=9),
                         scheduled_until=T0 + timedelta(days=9, hours=1),
                         now=T0 + timedelta(hours=1))
    open_incident("Third", body="c", now=T0 + timedelta(hours=2))

    for kind, path in FEED_PATHS.items():
        assert [e.title for e in parse(client, path).entries] == ["Third", "Second", "First"], kind


def test_the_feed_keeps_only_the_most_recent_entries(client, db, monkeypatch):
    monkeypatch.setattr(feeds, "FEED_LIMIT", 2)
    for hour in range(3):
        open_incident(f"Incident {hour}", body="x", now=T0 + timedelta(hours=hour))

    assert [e.title for e in parse(client, "/history.atom").entries] == ["Incident 2",
                                                                         "Incident 1"]


# --- caching -----------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["rss", "atom"])
def test_an_unchanged_feed_answers_304_and_a_new_update_changes_it(client, story, kind):
    first = client.get(FEED_PATHS[kind])
    assert first.headers["ETag"] and first.last_modified is not None
    assert "max-age" in first.headers["Cache-Control"]

    by_etag = client.get(FEED_PATHS[kind], headers={"If-None-Match": first.headers["ETag"]})
    by_date = client.get(FEED_PATHS[kind],
                         headers={"If-Modified-Since": first.headers["Last-Modified"]})
    assert (by_etag.status_code, by_etag.data) == (304, b"")
    assert by_date.status_code == 304

    open_incident("Another one", body="x")
    after = client.get(FEED_PATHS[kind], headers={"If-None-Match": first.headers["ETag"]})
    assert after.status_code == 200
    assert after.headers["ETag"] != first.headers["ETag"]


# --- per-component feeds -----------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["rss", "atom"])
def test_a_component_feed_holds_only_what_touched_that_component(client, db, kind):
    api = create_component("API")
    web = create_component("Web")
    open_incident("API down", body="x", components={api.id: "major_outage"}, now=T0)
    open_incident("Web slow", body="x", components={web.id: "degraded_performance"},
                  now=T0 + timedelta(hours=1))
    open_incident("Everything odd", body="x", now=T0 + timedelta(hours=2))
    schedule_maintenance("API upgrade", scheduled_for=T0 + timedelta(days=3),
                         scheduled_until=T0 + timedelta(days=3, hours=1),
                         component_ids=[api.id], now=T0 + timedelta(hours=3))

    parsed = parse(client, f"/components/{api.id}/history.{kind}")

    assert parsed.feed.title == "Acme Status - API Incident History"
    assert [e.title for e in parsed.entries] == ["API upgrade", "API down"]


def test_an_unknown_component_feed_is_404_in_the_shape_asked_for(client, db):
    as_json = client.get("/components/999/history.rss", headers={"Accept": "application/json"})
    as_html = client.get("/components/999/history.atom", headers={"Accept": "text/html"})

    assert as_json.status_code == 404
    assert as_json.get_json()["message"] == "No such component."
    assert as_html.status_code == 404
    assert as_html.mimetype == "text/html"


def test_a_feed_of_an_unknown_kind_is_refused(db):
    with pytest.raises(ValueError):
        feeds.build_feed("json")
