"""Real, unmodified Statuspage clients pointed at a running statuspage on loopback.

The official status widget runs in headless Chromium on a page served from a second origin, so
it fetches ``summary.json`` cross-origin exactly as it does when embedded elsewhere. The npm
client ``statuspage.io`` runs under Node, and the PyPI client ``crunch-statuspageio`` drives
the management API. Each is configured only through its own public settings (a ``src``
attribute, ``setApiUrl``, ``base_url``); none is patched.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from statuspage.incidents import resolve_incident
from statuspage.site import get_page_settings
from statuspage.staff import create_api_key
from tests.conftest import require_tool
from tests.processes import serving

CLIENTS = Path(__file__).resolve().parent / "clients"
NODE_MODULES = CLIENTS / "node_modules"
WIDGET_BUNDLE = "node_modules/@statuspage/status-widget/dist/index.js"
NODE = shutil.which("node")


def _no_proxy_for_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    # A proxy configured on the machine would otherwise receive the loopback requests.
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.setenv(name, ",".join(filter(None, [os.environ.get(name), "127.0.0.1"])))


# --- the official status widget in a browser ---------------------------------------------------

WIDGET_PAGE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Our product</title>
<script src="/{bundle}"></script></head>
<body>
<p>Embedded status:</p>
<statuspage-widget src="{src}"></statuspage-widget>
<statuspage-widget src="{src}" appearance="badge" title="acme status"></statuspage-widget>
</body>
</html>
"""


class _EmbeddingSite(SimpleHTTPRequestHandler):
    """Another site that embeds the widget: its page at /, the widget bundle from tests/clients."""

    status_src = ""

    def do_GET(self) -> None:  # noqa: N802  (the name http.server calls)
        if self.path == "/favicon.ico":  # asked for by the browser; an error would be noise
            self.send_response(204)
            self.end_headers()
            return None
        if self.path != "/":
            return super().do_GET()
        body = WIDGET_PAGE.format(bundle=WIDGET_BUNDLE, src=self.status_src).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        return None

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass  # keep the test output to pytest's own


@pytest.fixture
def embedding_site(live_server: str) -> Iterator[str]:
    """A second origin on loopback whose page embeds the widget pointed at ``live_server``."""
    require_tool("tests/clients/node_modules (run `npm ci --prefix tests/clients`)",
                 (NODE_MODULES / WIDGET_BUNDLE.removeprefix("node_modules/")).exists())
    handler = type("Handler", (_EmbeddingSite,), {"status_src": live_server})
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(handler, directory=str(CLIENTS)))
    server.daemon_threads = True
    with serving(server) as base:
        yield base


@pytest.fixture
def widget_tab(browser: Any) -> Iterator[Any]:
    """A fresh page in its own context, so no cached summary carries over."""
    context = browser.new_context()
    context.set_default_timeout(10_000)
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.mark.browser
def test_official_widget_embedded_on_another_site_shows_the_page_status(
        widget_tab, embedding_site, live_server, make_group, make_component, make_incident):
    group = make_group("Pagero Online")
    api = make_component("API", group_id=group.id)
    make_component("Web portal", group_id=group.id)
    make_component("SFTP")
    make_incident("API errors", components={api.id: "partial_outage"})
    fetched: list[Any] = []
    widget_tab.on("response", lambda r: fetched.append(r) if "/api/v2/" in r.url else None)
    errors: list[str] = []
    widget_tab.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

    widget_tab.goto(embedding_site + "/")

    basic = widget_tab.locator("statuspage-widget:not([appearance]) .status-text")
    assert basic.inner_text() == "Partial System Outage"
    indicator = widget_tab.locator("statuspage-widget:not([appearance]) .status-indicator")
    assert indicator.get_attribute("class").split() == ["status-indicator", "major"]
    # The widget colours the dot by the indicator class, so a wrong enum shows as grey.
    assert indicator.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(230, 126, 34)"
    badge = widget_tab.locator("statuspage-widget[appearance=badge]")
    assert badge.locator(".status-text").inner_text() == "acme status"
    # The badge lowercases the description by CSS only.
    assert badge.locator(".status-indicator").text_content().strip() == "Partial System Outage"
    assert widget_tab.locator("statuspage-widget a.basic").get_attribute("href") == live_server

    # One cross-origin request (the widget caches per URL), allowed by CORS.
    assert [r.url for r in fetched] == [live_server + "/api/v2/summary.json"]
    assert fetched[0].request.all_headers()["origin"] == embedding_site
    assert fetched[0].headers["access-control-allow-origin"] == "*"
    assert errors == []
    widget_tab.screenshot(path="/tmp/statuspage-widget.png")


@pytest.mark.browser
def test_official_widget_shows_all_systems_operational_on_a_quiet_page(
        widget_tab, embedding_site, make_component):
    make_component("API")

    widget_tab.goto(embedding_site + "/")

    dot = widget_tab.locator("statuspage-widget:not([appearance]) .status-indicator")
    assert dot.get_attribute("class").split() == ["status-indicator", "none"]
    assert widget_tab.locator("statuspage-widget:not([appearance]) .status-text").inner_text() \
        == "All Systems Operational"


# --- the npm client `statuspage.io` under Node -------------------------------------------------

def _run_node_client(base_url: str) -> dict[str, Any]:
    require_tool("node", NODE is not None)
    require_tool("tests/clients/node_modules (run `npm ci --prefix tests/clients`)",
                 (NODE_MODULES / "statuspage.io").exists())
    done = subprocess.run([NODE, str(CLIENTS / "public_api.mjs"), base_url], cwd=CLIENTS,
                          capture_output=True, text=True, timeout=20, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_npm_client_reads_summary_status_components_incidents_and_maintenance(
        live_server, monkeypatch, make_group, make_component, make_incident, make_maintenance):
    _no_proxy_for_loopback(monkeypatch)
    group = make_group("Networks")
    as2 = make_component("AS2", group_id=group.id)
    make_component("Peppol Access Point", group_id=group.id)
    api = make_component("API")
    incident = make_incident("Slow AS2 deliveries", components={as2.id: "degraded_performance"},
                             body="Messages are **delayed**.")
    fixed = make_incident("Login failures", components={api.id: "major_outage"})
    resolve_incident(fixed, body="Fixed.")
    window = datetime.now(UTC) + timedelta(days=3)
    maintenance = make_maintenance("Certificate rotation", scheduled_for=window,
                                   component_ids=[api.id])
    page_id = get_page_settings().page_code

    got = _run_node_client(live_server)

    summary = got["summary"]
    assert summary["page"]["id"] == page_id
    assert summary["page"]["name"] == "Acme"
    assert summary["status"] == {"indicator": "minor",
                                 "description": "Partially Degraded Service"}
    assert got["status"] == {"page": summary["page"], "status": summary["status"]}
    assert [(c["name"], c["status"], c["group"]) for c in got["components"]["components"]] == [
        ("Networks", "degraded_performance", True), ("AS2", "degraded_performance", False),
        ("Peppol Access Point", "operational", False), ("API", "operational", False)]
    assert got["components"]["components"] == summary["components"]
    networks, as2_json = summary["components"][:2]
    assert as2_json["group_id"] == networks["id"]
    assert networks["components"] == [as2_json["id"], summary["components"][2]["id"]]

    assert [i["id"] for i in summary["incidents"]] == [str(incident.id)]
    assert got["unresolved"]["incidents"] == summary["incidents"]
    opened = summary["incidents"][0]
    assert opened["status"] == "investigating"
    assert opened["impact"] == "minor"
    assert opened["incident_updates"][0]["body"] == "Messages are **delayed**."
    assert opened["incident_updates"][0]["affected_components"] == [{
        "code": as2_json["id"], "name": "AS2", "old_status": "operational",
        "new_status": "degraded_performance"}]
    assert [c["id"] for c in opened["components"]] == [as2_json["id"]]
    assert opened["created_at"].endswith("Z") and len(opened["created_at"]) == 24

    # Newest first, resolved ones included.
    assert [(i["name"], i["status"]) for i in got["incidents"]["incidents"]] == [
        ("Login failures", "resolved"), ("Slow AS2 deliveries", "investigating")]
    assert got["incidents"]["incidents"][0]["resolved_at"] is not None

    upcoming = got["upcoming"]["scheduled_maintenances"]
    assert [(m["id"], m["status"], m["impact"]) for m in upcoming] == [
        (str(maintenance.id), "scheduled", "maintenance")]
    assert upcoming[0]["scheduled_for"].startswith(window.strftime("%Y-%m-%dT%H:%M"))
    assert summary["scheduled_maintenances"] == upcoming


# --- a PyPI client of the management API v1 ----------------------------------------------------



@pytest.fixture
def v1_client(db, live_server, monkeypatch) -> Any:
    """``crunch-statuspageio`` configured as its README says, with our server as base URL."""
    import statuspageio

    _no_proxy_for_loopback(monkeypatch)
    _, token = create_api_key("incident bot", scope="write")
    return statuspageio.Client(api_key=token, page_id=get_page_settings().page_code,
                               base_url=live_server)


def _v2(live_server: str, path: str) -> dict[str, Any]:
    import requests

    response = requests.get(f"{live_server}/api/v2/{path}", timeout=5)
    assert response.status_code == 200
    return response.json()


def test_python_client_runs_an_incident_from_open_to_resolved(v1_client, live_server,
                                                              make_component):
    api = make_component("API")
    make_component("Web portal")

    listed = v1_client.components.list()
    assert [(c.name, c.status) for c in listed] == [("API", "operational"),
                                                   ("Web portal", "operational")]
    api_id = next(c.id for c in listed if c.name == "API")
    assert api_id == str(api.id)

    created = v1_client.incidents.create(name="API errors", status="investigating",
                                         body="We are looking into it.", component_ids=[api_id],
                                         impact_override="major")
    assert created.name == "API errors"
    assert created.status == "investigating"
    assert [c.id for c in created.components] == [api_id]
    assert [u.body for u in created.incident_updates] == ["We are looking into it."]
    moved = v1_client.components.update(api_id, status="partial_outage")
    assert moved.status == "partial_outage"

    summary = _v2(live_server, "summary.json")
    assert [i["id"] for i in summary["incidents"]] == [created.id]
    assert summary["incidents"][0]["impact"] == "major"
    assert summary["status"]["indicator"] == "major"
    assert summary["components"][0]["status"] == "partial_outage"

    identified = v1_client.incidents.update(created.id, status="identified",
                                            body="A bad deploy; rolling back.")
    assert identified.status == "identified"
    assert [u.status for u in identified.incident_updates] == ["identified", "investigating"]
    first_update = identified.incident_updates[1]
    edited = v1_client.incidents.update_previous(created.id, first_update.id,
                                                 body="We are looking into API errors.")
    assert edited.body == "We are looking into API errors."
    assert [i.id for i in v1_client.incidents.list_unresolved()] == [created.id]

    resolved = v1_client.incidents.update(created.id, status="resolved",
                                          body="Rolled back; all good.")
    assert resolved.status == "resolved"
    assert resolved.resolved_at is not None
    assert len(resolved.incident_updates) == 3

    summary = _v2(live_server, "summary.json")
    assert summary["incidents"] == []
    assert summary["status"] == {"indicator": "none", "description": "All Systems Operational"}
    assert [c["status"] for c in summary["components"]] == ["operational", "operational"]
    history = _v2(live_server, "incidents.json")["incidents"]
    assert [(i["id"], i["status"]) for i in history] == [(created.id, "resolved")]
    assert [u["body"] for u in history[0]["incident_updates"]] == [
        "Rolled back; all good.", "A bad deploy; rolling back.",
        "We are looking into API errors."]
    assert [i.id for i in v1_client.incidents.list()] == [created.id]
    assert v1_client.incidents.list_unresolved() == []


def test_python_client_with_a_wrong_key_gets_a_json_401(db, live_server, monkeypatch):
    import statuspageio

    _no_proxy_for_loopback(monkeypatch)
    client = statuspageio.Client(api_key="not-a-key", page_id=get_page_settings().page_code,
                                 base_url=live_server)

    with pytest.raises(statuspageio.RequestError) as raised:
        client.components.list()

    assert raised.value.http_status == 401
    assert isinstance(raised.value.errors, dict)


def test_python_client_groups_components_and_runs_a_maintenance_window(v1_client, live_server,
                                                                      make_component):
    database = make_component("Database")
    web = make_component("Web portal")

    group = v1_client.component_groups.create("Backend", [str(database.id)],
                                              description="Storage and queues")
    assert group.name == "Backend"
    assert group.components == [str(database.id)]
    assert [g.name for g in v1_client.component_groups.list()] == ["Backend"]
    members = _v2(live_server, "components.json")["components"]
    assert sorted((c["name"], c["group_id"]) for c in members) == [
        ("Backend", None), ("Database", group.id), ("Web portal", None)]

    start = (datetime.now(UTC) + timedelta(days=1)).replace(microsecond=0)
    scheduled = v1_client.incidents.create_scheduled(
        name="Database upgrade", status="scheduled", body="Upgrading to the next major version.",
        scheduled_for=start.isoformat(), scheduled_until=(start + timedelta(hours=2)).isoformat(),
        scheduled_auto_in_progress=False, scheduled_auto_completed=False,
        component_ids=[str(database.id)])
    assert scheduled.status == "scheduled"
    assert scheduled.impact == "maintenance"
    assert [m.id for m in v1_client.incidents.list_upcoming()] == [scheduled.id]
    upcoming = _v2(live_server, "scheduled-maintenances/upcoming.json")
    assert [m["id"] for m in upcoming["scheduled_maintenances"]] == [scheduled.id]
    assert upcoming["scheduled_maintenances"][0]["scheduled_for"] == \
        start.strftime("%Y-%m-%dT%H:%M:%S.000Z")

    started = v1_client.incidents.update(scheduled.id, status="in_progress",
                                         body="The upgrade has begun.")
    assert started.status == "in_progress"
    assert [m.id for m in v1_client.incidents.list_active_maintenance()] == [scheduled.id]
    summary = _v2(live_server, "summary.json")
    assert [m["status"] for m in summary["scheduled_maintenances"]] == ["in_progress"]
    assert {c["name"]: c["status"] for c in summary["components"]} == {
        "Backend": "under_maintenance", "Database": "under_maintenance",
        "Web portal": "operational"}
    assert summary["status"]["indicator"] == "maintenance"

    completed = v1_client.incidents.update(scheduled.id, status="completed",
                                           body="The upgrade is done.")
    assert completed.status == "completed"
    summary = _v2(live_server, "summary.json")
    assert summary["scheduled_maintenances"] == []
    assert summary["status"] == {"indicator": "none", "description": "All Systems Operational"}
    everything = _v2(live_server, "scheduled-maintenances.json")["scheduled_maintenances"]
    assert [(m["id"], m["status"]) for m in everything] == [(scheduled.id, "completed")]
    assert web.id not in [int(c["id"]) for c in everything[0]["components"]]
