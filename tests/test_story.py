"""The foundation's story, as a new ops user lives it: through the console to the public page."""

from __future__ import annotations

import re

import sqlalchemy as sa

from statuspage import components as comp
from statuspage.incidents import Incident


def _text(response) -> str:
    assert response.status_code == 200, response.status_code
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.get_data(as_text=True)))


def test_an_incident_from_the_console_moves_the_banner_then_lands_in_history(
        db, client, logged_in, make_group, make_component):
    group = make_group("Pagero Online")
    portal = make_component("Web portal", group_id=group.id)
    api = make_component("API", group_id=group.id)
    make_component("SFTP", group_id=group.id)
    assert "All Systems Operational" in _text(client.get("/"))

    opened = logged_in.post("/admin/incidents/new", {
        "name": "Invoices stuck in the portal",
        "status": "investigating",
        "impact_override": "",
        "body": "Some invoices do not reach their receivers.",
        f"component-{portal.id}": "partial_outage",
        f"component-{api.id}": "partial_outage",
        "deliver_notifications": "y",
    })
    assert opened.status_code in (302, 303)
    incident = db.session.scalars(sa.select(Incident)).one()

    page = _text(client.get("/"))
    assert "Partial System Outage" in page
    assert "Invoices stuck in the portal" in page

    for status, body in (("monitoring", "A fix is out; watching the queue."),
                         ("resolved", "All invoices were delivered.")):
        posted = logged_in.post(f"/admin/incidents/{incident.id}/updates",
                                {"status": status, "body": body,
                                 "deliver_notifications": "y"})
        assert posted.status_code in (302, 303), posted.get_data(as_text=True)

    db.session.expire_all()
    assert {c.name: c.status.value for c in comp.all_components()} == {
        "Web portal": "operational", "API": "operational", "SFTP": "operational"}
    page = _text(client.get("/"))
    assert "All Systems Operational" in page
    past = page.split("Past Incidents", 1)[1]
    assert "Invoices stuck in the portal" in past and "All invoices were delivered." in past
    history = _text(client.get("/history"))
    assert "Invoices stuck in the portal" in history
    timeline = _text(client.get(f"/incidents/{incident.id}"))
    assert timeline.index("All invoices were delivered.") < timeline.index(
        "A fix is out; watching the queue.") < timeline.index("Some invoices do not reach")
