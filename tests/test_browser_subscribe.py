"""Subscribing in a real browser (headless Debian Chromium through Playwright), mail included."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from statuspage import scheduler
from statuspage import subscriptions as subs
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


def test_a_visitor_subscribes_ticks_a_group_and_confirms(tab: Any, app: Any, live_server: str,
                                                         smtp: Any, make_group: Any,
                                                         make_component: Any) -> None:
    app.config["SUBSCRIBE_CHALLENGE"] = True  # as in production: the page solves it
    group = make_group("Networks", collapsed=True)
    make_component("AS2", group_id=group.id)
    make_component("Peppol Access Point", group_id=group.id)
    make_component("SFTP")

    tab.goto(live_server + "/")
    tab.get_by_role("link", name="Subscribe to updates").click()
    tab.wait_for_url(re.compile(r"/subscribe$"))
    tab.get_by_label("Email address").fill("reader@example.com")
    tab.get_by_role("button", name="Subscribe", exact=True).click()
    tab.get_by_role("heading", name="Check your inbox").wait_for()

    scheduler.run_once(app)  # the worker sends the confirmation email
    [email] = smtp.to("reader@example.com")
    link = re.search(r"http://status\.test(/subscriptions/confirm/\S+)", body_of(email)).group(1)
    tab.goto(live_server + link)

    networks = tab.get_by_label("Networks")
    as2, peppol = tab.get_by_label("AS2"), tab.get_by_label("Peppol Access Point")
    assert tab.get_by_label("All components, including ones added later").is_checked()
    networks.check()
    assert as2.is_checked() and peppol.is_checked()
    assert tab.get_by_label("Only the components I tick").is_checked()
    assert not tab.get_by_label("SFTP").is_checked()
    # Unticking one member unticks the group, so that the group's value is not sent.
    as2.uncheck()
    assert not networks.is_checked()
    as2.check()
    assert networks.is_checked()
    tab.get_by_role("button", name="Save").click()
    tab.wait_for_url(re.compile(r"/subscriptions/manage/"))

    assert tab.get_by_role("status").inner_text() == "Your subscription is confirmed."
    _db.session.rollback()
    subscriber = subs.find_subscriber("reader@example.com")
    assert subscriber.confirmed and not subscriber.all_components
    assert sorted(c.name for c in subscriber.components) == ["AS2", "Peppol Access Point"]
