"""The public pages through the test client: status page, incident pages, history."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from statuspage import staff
from statuspage.components import set_component_status
from statuspage.dbtypes import utcnow
from statuspage.incidents import post_update, resolve_incident
from statuspage.postmortems import publish_postmortem, save_postmortem

SCRIPT = "<script>alert(1)</script>"
ESCAPED_SCRIPT = "&lt;script&gt;alert(1)&lt;/script&gt;"


def _html(response) -> str:
    return response.get_data(as_text=True)


def _between(html: str, start: str, end: str) -> str:
    return html[html.index(start):html.index(end, html.index(start))]


# --- the status page -----------------------------------------------------------------------------

def test_status_page_reads_all_systems_operational_on_a_quiet_day(client, make_component):
    make_component("API")

    html = _html(client.get("/"))

    assert "All Systems Operational" in html
    assert 'class="banner banner-none"' in html
    assert "Acme" in html  # the page name from the settings


def test_two_components_in_partial_outage_read_partial_system_outage(client, make_component,
                                                                      make_incident):
    api = make_component("API")
    web = make_component("Web portal")
    make_incident("Slow responses", components={api.id: "partial_outage",
                                                web.id: "partial_outage"})

    html = _html(client.get("/"))

    assert re.search(r'class="banner banner-major".*?Partial System Outage', html, re.S)
    box = _between(html, 'class="incident-box', "</section>")
    assert "Slow responses" in box
    assert "<strong class=\"update-status\">Investigating</strong>" in box
    assert "API, Web portal" in box


def test_open_incident_lists_every_update_newest_first(client, make_incident):
    incident = make_incident(body="First we looked.")
    post_update(incident, status="identified", body="Then we *found* it.",
                now=utcnow() + timedelta(minutes=1))

    box = _between(_html(client.get("/")), 'class="incident-box', "</section>")

    assert box.index("Then we <em>found</em> it.") < box.index("First we looked.")
    assert box.count("<time datetime=") == 2


def test_components_sit_in_their_groups_with_status_and_uptime(client, make_group,
                                                               make_component):
    group = make_group("Networks", collapsed=True)
    make_component("AS2", group_id=group.id)
    peppol = make_component("Peppol Access Point", group_id=group.id)
    make_component("Web portal")
    set_component_status(peppol, "degraded_performance")

    html = _html(client.get("/"))

    details = _between(html, "<details data-group-id", "</details>")
    assert "Networks" in details and "AS2" in details and "Peppol Access Point" in details
    assert 'data-status="degraded_performance" open' in details  # opened: a member is degraded
    degraded = re.search(r'class="component-status status-degraded_performance">(.*?)</span>',
                         details).group(1)
    assert degraded.endswith("Degraded Performance") and "#degraded_performance" in degraded
    # One bar per day for each showcased component (three of them); a quiet day is bare, a
    # day with something to tell says it.
    bars = re.findall(r'<div class="uptime-bars".*?</div>', html, re.S)
    assert [b.count("<i") for b in bars] == [90, 90, 90]
    # The day's status word comes from its class letter in page.js, not from each day.
    assert re.search(r'<i class="d" title="[A-Z][a-z]{2} \d+, \d{4}: Degraded Performance, '
                     r'100\.00% uptime"></i>', html)
    assert '"d": "Degraded Performance"' in html.replace("&#34;", '"')
    assert "100.00% uptime" in html


def test_ninety_quiet_days_cost_seven_bytes_each(client, make_component):
    from statuspage.dbtypes import utcnow as now

    for n in range(3):
        make_component(f"Old {n}", now=now() - timedelta(days=200))

    html = _html(client.get("/"))

    first = (now().date() - timedelta(days=89)).isoformat()
    assert f'data-first-day="{first}"' in html
    bars = re.findall(r'<div class="uptime-bars"[^>]*>(.*?)</div>', html, re.S)
    assert bars == ["<i></i>" * 90] * 3


def test_collapsed_group_is_closed_without_javascript(client, make_group, make_component):
    group = make_group("Integrations", collapsed=True)
    make_component("SFTP", group_id=group.id)

    html = _html(client.get("/"))

    assert re.search(r'<details data-group-id="\d+" data-status="operational">', html)
    assert "<summary" in html


def test_upcoming_maintenance_shows_its_window(client, make_component, make_maintenance):
    api = make_component("API")
    make_maintenance("Database upgrade", component_ids=[api.id])

    section = _between(_html(client.get("/")), 'class="scheduled"', "</section>")

    assert "Database upgrade" in section
    assert re.search(r"Scheduled for <time datetime=\"[0-9T:.-]+Z\">.+ UTC</time>", section)


def test_past_incidents_list_fifteen_days_with_a_resolved_incident(client, make_component,
                                                                  make_incident):
    api = make_component("API")
    incident = make_incident("Delivery delays", components={api.id: "major_outage"})
    resolve_incident(incident, body="All delivered.")

    html = _html(client.get("/"))

    past = html[html.index('id="past-heading"'):]
    # Today has the incident; the fourteen quiet days before it fold into one line.
    assert past.count('class="day-heading"') == 1
    assert re.search(r'<p class="quiet-days"><time datetime="[\d-]+">[^<]+</time> – '
                     r'<time datetime="[\d-]+">[^<]+</time>: no incidents reported\.</p>', past)
    assert "Delivery delays" in past and "All delivered." in past
    assert "All Systems Operational" in html  # resolved: the components are back


def test_every_time_is_a_utc_time_element_naming_the_zone(client, make_incident):
    make_incident()

    html = _html(client.get("/"))

    times = re.findall(r'<time datetime="([^"]+)">([^<]+)</time>', html)
    instants = [(iso, text) for iso, text in times if "T" in iso]
    assert instants
    assert all(iso.endswith("Z") and text.endswith(" UTC") for iso, text in instants)


def test_status_page_links_to_history_and_support(client, db):
    from statuspage.site import update_page_settings

    update_page_settings(support_url="https://support.example.com/help")

    html = _html(client.get("/"))

    assert 'href="/history"' in html
    assert 'href="https://support.example.com/help"' in html


def test_the_page_works_without_javascript(client, make_group, make_component, make_incident):
    group = make_group("Pagero Online")
    make_component("Web portal", group_id=group.id)
    make_incident()

    html = _html(client.get("/"))

    # The only script is the optional enhancement, loaded deferred; nothing depends on it.
    assert re.findall(r"<script[^>]*>", html) == ['<script src="/static/page.js" defer>']
    assert "onclick" not in html
    assert "<details" in html and "<summary" in html


# --- caching -------------------------------------------------------------------------------------

def test_status_page_answers_304_while_nothing_changed(app, client, make_component):
    api = make_component("API")

    first = client.get("/")
    etag = first.headers["ETag"]
    again = client.get("/", headers={"If-None-Match": etag})

    assert first.status_code == 200
    assert first.headers["Cache-Control"] == ("public, max-age=10, stale-while-revalidate=30, "
                                              "stale-if-error=86400")
    assert first.headers["Last-Modified"]
    assert again.status_code == 304
    assert again.get_data() == b""

    set_component_status(api, "major_outage")
    changed = client.get("/", headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["ETag"] != etag
    assert "Major System Outage" in _html(changed)


def test_cache_lifetime_comes_from_the_settings(app, client, db):
    app.config.update(PAGE_CACHE_SECONDS=60, PAGE_STALE_WHILE_REVALIDATE_SECONDS=5,
                      PAGE_STALE_IF_ERROR_SECONDS=3600)

    assert client.get("/").headers["Cache-Control"] == (
        "public, max-age=60, stale-while-revalidate=5, stale-if-error=3600")


# --- incident pages ------------------------------------------------------------------------------

def test_incident_page_shows_the_full_timeline_newest_first(client, make_component,
                                                            make_incident):
    api = make_component("API")
    incident = make_incident("Login failures", components={api.id: "major_outage"},
                             body="Looking into it.")
    start = utcnow()
    post_update(incident, status="monitoring", body="Fix deployed.",
                now=start + timedelta(minutes=5))
    resolve_incident(incident, body="All good now.", now=start + timedelta(minutes=10))

    response = client.get(f"/incidents/{incident.id}")
    html = _html(response)

    assert response.status_code == 200
    assert html.index("All good now.") < html.index("Fix deployed.") < html.index(
        "Looking into it.")
    assert "<title>Login failures" in html
    facts = _between(html, 'class="incident-facts"', "</dl>")
    assert "Resolved" in facts and "Critical" in facts and "API" in facts
    assert "API (Major Outage)" in html and "API (Operational)" in html


def test_incident_page_shows_a_published_postmortem_rendered(client, make_incident):
    incident = make_incident()
    resolve_incident(incident)
    save_postmortem(incident, "## Cause\n\nA **full** disk.")

    assert "A <strong>full</strong> disk." not in _html(client.get(f"/incidents/{incident.id}"))
    publish_postmortem(incident)
    html = _html(client.get(f"/incidents/{incident.id}"))

    assert "Postmortem" in html
    assert "A <strong>full</strong> disk." in html


def test_maintenance_page_shows_its_window(client, make_maintenance):
    maintenance = make_maintenance("Network upgrade")

    html = _html(client.get(f"/incidents/{maintenance.id}"))

    assert "Scheduled maintenance for Acme" in html
    assert html.count("<time datetime=") >= 3  # the window's two ends and the update


@pytest.mark.parametrize("path", ["/incidents/999999", "/incidents/abc", "/incidents/-1"])
def test_unknown_incident_answers_a_404_page(client, db, path):
    response = client.get(path)

    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert "Back to the status page" in _html(response)


# --- untrusted text ------------------------------------------------------------------------------

def test_script_in_an_incident_name_and_body_is_shown_as_text(client, make_incident):
    incident = make_incident(SCRIPT, body=f"{SCRIPT}\n\nSee `{SCRIPT}` and "
                                          "[x](javascript:alert(1))")

    for path in ("/", f"/incidents/{incident.id}", "/history"):
        html = _html(client.get(path))
        assert SCRIPT not in html, path
        assert "javascript:" not in html, path
        assert ESCAPED_SCRIPT in html, path


# --- history -------------------------------------------------------------------------------------

def test_history_lists_months_with_their_incidents_and_pages_back(client, make_incident):
    now = utcnow()
    recent = make_incident("Recent outage", now=now - timedelta(days=1))
    resolve_incident(recent, now=now)
    make_incident("Old outage", now=now - timedelta(days=150))

    first = _html(client.get("/history"))
    second = _html(client.get("/history?page=2"))

    assert first.count('class="month-heading"') == 3
    assert now.strftime("%B %Y") in first
    assert "Recent outage" in first and "Old outage" not in first
    assert "No incidents reported for this month." in first
    assert 'href="/history?page=2"' in first and "Newer" not in first
    assert "Old outage" in second and "Recent outage" not in second
    assert 'href="/history"' in second


@pytest.mark.parametrize("page_number", ["0", "-1", "abc", "2", "1.5"])
def test_history_page_out_of_range_answers_404(client, make_incident, page_number):
    make_incident()

    assert client.get(f"/history?page={page_number}").status_code == 404


def test_the_public_page_varies_by_cookie_only_for_the_language(logged_in, make_component):
    # Signed in, the session cookie travels with every request; only the language cookie may
    # choose what a shared cache keeps, and an explicit ?lang= is chosen by the URL alone.
    make_component("API")
    response = logged_in.client.get("/")
    assert response.status_code == 200
    assert set(response.vary) == {"Accept-Language", "Cookie"}
    explicit = logged_in.client.get("/?lang=en")
    assert explicit.headers.get("Vary") is None


def test_public_pages_never_load_the_signed_in_user(logged_in, monkeypatch, make_component):
    # Templates get Flask-Login's proxy, not the user it stands for: a page that never uses it
    # reads neither the user's row nor their session for it.
    make_component("API")
    loads = []
    session_user = staff.session_user

    def counting_session_user(session_id):
        loads.append(session_id)
        return session_user(session_id)

    monkeypatch.setattr(staff, "session_user", counting_session_user)

    for url in ("/", "/history", "/subscribe"):
        assert logged_in.client.get(url).status_code == 200
    assert loads == []
    assert logged_in.client.get("/admin/").status_code == 200
    assert loads, "the console loads the user, so the probe would have seen a load"


def test_the_page_head_links_both_history_feeds(client):
    html = client.get("/").get_data(as_text=True)
    assert 'rel="alternate" type="application/rss+xml"' in html
    assert 'href="/history.rss"' in html and 'href="/history.atom"' in html
    assert client.get("/history.rss").status_code == 200
    assert client.get("/history.atom").status_code == 200


def test_the_rendered_page_is_reused_until_the_page_changes(client, make_component):
    api = make_component("API")
    first = client.get("/").get_data(as_text=True)
    assert client.get("/").get_data(as_text=True) == first
    from statuspage.components import set_component_status
    set_component_status(api, "major_outage")
    assert "Major System Outage" in client.get("/").get_data(as_text=True)


def test_no_public_read_renders_markdown(client, monkeypatch, make_component, make_incident,
                                         make_maintenance):
    # Bodies are rendered when written; a read that rendered one would fail here.
    import markdown

    api = make_component("API")
    incident = make_incident(body="We are *on it*.", components={api.id: "major_outage"})
    resolve_incident(incident, body="**Fixed**.")
    save_postmortem(incident, "A *full* disk.")
    publish_postmortem(incident)
    make_incident("Still open", body="- one\n- two")
    make_maintenance(body="We *upgrade* the database.")

    def refuse(*args, **kwargs):
        raise AssertionError("Markdown rendered on a read")

    monkeypatch.setattr(markdown, "markdown", refuse)
    monkeypatch.setattr(markdown.Markdown, "convert", refuse)
    urls = ["/", "/history", f"/incidents/{incident.id}", "/history.rss", "/history.atom",
            f"/components/{api.id}/history.atom", "/maintenance.ics", "/embed", "/badge.svg",
            f"/components/{api.id}/badge.svg", "/api/v2/summary.json",
            "/api/v2/incidents.json", "/api/v2/scheduled-maintenances.json"]
    for url in urls:
        response = client.get(url)
        assert response.status_code == 200, url
    html = client.get(f"/incidents/{incident.id}").get_data(as_text=True)
    assert "A <em>full</em> disk." in html and "<strong>Fixed</strong>." in html
