"""The subscriber's journey end to end, over HTTP, with the worker sending to a real SMTP server.

Visitors and ops act only through the pages (each visitor with their own client, so with their
own cookies); the worker runs its jobs once whenever mail is due; every link is taken from an
email that the SMTP server on loopback received.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from flask import Flask

from statuspage import scheduler
from statuspage.dbtypes import utcnow
from tests.conftest import Actions
from tests.smtp import SmtpServer, body_of

BASE = "http://status.test"


def path_of(url: str) -> str:
    """The path of one of the page's own absolute links."""
    assert url.startswith(BASE + "/"), url
    return urlsplit(url).path


def join(app: Flask, smtp: SmtpServer, address: str, **choice: Any) -> None:
    """A visitor subscribes in the seed's order: the address ("Subscribe via email"), the
    choice and Save, then the confirmation email's link and its button."""
    visitor = Actions(app, app.test_client())
    chooser = visitor.client.post("/subscribe", data={"email": address})
    ticket = re.search(r'name="ticket" type="hidden" value="([^"]+)"',
                       chooser.get_data(as_text=True)).group(1)
    answer = visitor.post("/subscribe/components", {"ticket": ticket, "language": "en",
                                                    **choice})
    assert answer.status_code == 200 and "Check your inbox" in answer.get_data(as_text=True)

    scheduler.run_once(app)

    [confirmation] = smtp.to(address)
    found = re.search(rf"{re.escape(BASE)}/subscriptions/confirm/\S+", body_of(confirmation))
    assert found, body_of(confirmation)
    link = path_of(found.group(0))
    page = visitor.client.get(link)
    assert page.status_code == 200
    request_id = re.search(r'name="request_id" type="hidden" value="(\d+)"',
                           page.get_data(as_text=True)).group(1)
    saved = visitor.post(link, {"request_id": request_id})
    assert saved.status_code == 302, saved.get_data(as_text=True)
    assert "Your subscription is confirmed." in visitor.client.get(
        saved.location).get_data(as_text=True)


def recipients(smtp: SmtpServer) -> list[str]:
    return sorted(str(m["To"]) for m in smtp.messages)


def test_a_subscriber_hears_only_about_their_component_until_one_click_unsubscribe(
        app: Flask, smtp: SmtpServer, logged_in: Actions, make_component: Any) -> None:
    api, web, _sftp = (make_component(name) for name in ("API", "Web portal", "SFTP"))
    join(app, smtp, "reader@example.com", scope="some", component_ids=[str(api.id)])
    join(app, smtp, "web-fan@example.com", scope="some", component_ids=[str(web.id)])
    join(app, smtp, "everything@example.com", scope="all")
    smtp.clear()

    # Ops open an incident on the API through the console.
    opened = logged_in.post("/admin/incidents/new", {
        "name": "API errors", "status": "investigating", "body": "Some requests **fail**.",
        f"component-{api.id}": "partial_outage", "deliver_notifications": "y"})
    assert opened.status_code == 302, opened.get_data(as_text=True)
    incident_path = opened.location
    scheduler.run_once(app)

    [email] = smtp.to("reader@example.com")
    [raw] = smtp.raw_to("reader@example.com")
    assert email["Subject"] == "[Acme] API errors"
    assert body_of(email).startswith("Investigating - ")
    assert smtp.to("web-fan@example.com") == []
    assert recipients(smtp) == ["everything@example.com", "reader@example.com"]
    smtp.clear()

    # A maintenance of the API reaches its subscribers and those of everything, nobody else.
    starts = (utcnow() + timedelta(days=2)).replace(second=0, microsecond=0)
    scheduled = logged_in.post("/admin/maintenance/new", {
        "name": "API database upgrade", "body": "A short pause in writes.",
        "scheduled_for": starts.strftime("%Y-%m-%dT%H:%M"),
        "scheduled_until": (starts + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
        "component_ids": [str(api.id)], "deliver_notifications": "y"})
    assert scheduled.status_code == 302, scheduled.get_data(as_text=True)
    scheduler.run_once(app)

    assert recipients(smtp) == ["everything@example.com", "reader@example.com"]
    assert all("API database upgrade" in m["Subject"] for m in smtp.messages)
    smtp.clear()

    # One-click unsubscribe, as a mail provider does it: the URL read from the raw header (plain
    # <https://...> on one line, never encoded), a POST without cookies.
    assert b"\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n" in raw
    found = re.search(rb"\r\nList-Unsubscribe: <(http://status\.test/[!-~]+)>\r\n", raw)
    assert found, raw.split(b"\r\n\r\n")[0].decode()
    unsubscribe = found.group(1).decode()
    mail_client = app.test_client()
    left = mail_client.post(path_of(unsubscribe), data={"List-Unsubscribe": "One-Click"},
                            content_type="application/x-www-form-urlencoded")
    assert left.status_code == 200

    # The next update on the API sends this address nothing; mail still flows to the others.
    updated = logged_in.post(f"{incident_path}/updates", {
        "status": "identified", "body": "A bad deploy; rolling back.",
        f"component-{api.id}": "partial_outage", "deliver_notifications": "y"})
    assert updated.status_code == 302, updated.get_data(as_text=True)
    scheduler.run_once(app)

    assert smtp.to("reader@example.com") == []
    assert recipients(smtp) == ["everything@example.com"]
