"""Following one incident in a real browser (headless Chromium): the form's proof of work
solved by the page, confirmed by email, every update heard, nothing after the resolution."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import pytest

from statuspage import incidents, scheduler
from statuspage.extensions import db as _db
from tests.smtp import body_of

pytestmark = pytest.mark.browser


@pytest.fixture
def tab(browser: Any) -> Iterator[Any]:
    """A fresh page in its own context (no shared storage)."""
    context = browser.new_context(locale="en-GB")
    context.set_default_timeout(10_000)
    try:
        yield context.new_page()
    finally:
        context.close()


def test_a_visitor_follows_one_incident_by_email_until_it_is_resolved(
        tab: Any, app: Any, live_server: str, smtp: Any, make_component: Any) -> None:
    app.config["SUBSCRIBE_CHALLENGE"] = True  # as in production: the page solves it
    api = make_component("API")
    followed = incidents.open_incident("Checkout errors", components={api.id: "major_outage"},
                                       body="Looking into it.")
    other = incidents.open_incident("Slow search", body="Another one.")
    scheduler.run_once(app)
    smtp.clear()

    tab.goto(f"{live_server}/incidents/{followed.id}")
    tab.get_by_role("link", name="Subscribe to this incident").click()
    tab.locator("main").get_by_label("Email address").fill("follower@example.com")
    tab.get_by_text("Ready.").wait_for()  # challenge.js found the number while we typed
    tab.get_by_role("button", name="Subscribe to this incident").click()
    tab.get_by_role("heading", name="Almost done").wait_for()

    scheduler.run_once(app)
    [email] = smtp.to("follower@example.com")
    link = re.search(r"http://status\.test(/subscriptions/confirm/\S+)", body_of(email)).group(1)
    tab.goto(live_server + link)
    assert tab.get_by_text("You will hear every update of this one incident").is_visible()
    tab.get_by_role("button", name="Save").click()
    tab.wait_for_url(re.compile(r"/subscriptions/manage/"))
    smtp.clear()

    _db.session.rollback()
    followed = _db.session.get(incidents.Incident, followed.id)
    other = _db.session.get(incidents.Incident, other.id)
    incidents.post_update(followed, status="identified", body="Found the bad deploy.")
    incidents.post_update(other, status="identified", body="Not followed.")
    scheduler.run_once(app)
    [update] = smtp.to("follower@example.com")
    assert update["Subject"] == "[Acme] Checkout errors"
    assert "Found the bad deploy." in body_of(update)

    incidents.resolve_incident(followed, body="All fixed.")
    scheduler.run_once(app)
    [resolution] = smtp.to("follower@example.com")[1:]
    assert "All fixed." in body_of(resolution)

    smtp.clear()
    incidents.post_update(followed, status="resolved", body="A late note.")
    scheduler.run_once(app)
    assert smtp.to("follower@example.com") == []

    # The page is rebuilt for the new page version, which every process learns within a bound.
    deadline = time.monotonic() + 15
    while True:
        tab.goto(f"{live_server}/incidents/{followed.id}")
        if tab.get_by_role("link", name="Subscribe to this incident").count() == 0:
            break
        assert time.monotonic() < deadline, "the resolved incident still offers to follow it"
        time.sleep(0.5)
