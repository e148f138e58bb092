"""Every page under the content security policy in a real browser: nothing is refused.

The policy forbids inline scripts and styles; a page that still had one would work in the
tests of the server's answers and break in a browser. Headless Chromium reports each refusal
as a ``securitypolicyviolation`` event and a console error, and both are collected here while
the pages of the public site and of the ops console are walked.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from statuspage import devmail
from statuspage import notifications as notify
from statuspage import subscriptions as subs
from statuspage.extensions import mail
from tests.conftest import TEST_PASSWORD, free_port

pytestmark = pytest.mark.browser

FAILED_LOAD = "Failed to load resource: "  # reported with its address as a response below
COLLECT = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__violations.push(`${event.violatedDirective} ${event.blockedURI} ${event.sourceFile}:`
                           + `${event.lineNumber}`);
});
"""


@pytest.fixture
def tab(browser: Any) -> Iterator[Any]:
    """A fresh page that collects policy violations and console errors."""
    context = browser.new_context(locale="en-GB")
    context.set_default_timeout(10_000)
    context.add_init_script(COLLECT)
    page = context.new_page()
    page.errors = []
    page.on("console", lambda m: m.type == "error" and not m.text.startswith(FAILED_LOAD)
            and page.errors.append(m.text))
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    # A file a page needs and cannot load (the page itself may be an error page).
    page.on("response", lambda r: r.status >= 400 and r.request.resource_type != "document"
            and not r.url.endswith("/favicon.ico") and page.errors.append(f"{r.status} {r.url}"))
    try:
        yield page
    finally:
        context.close()


def refusals(tab: Any, url: str) -> list[str]:
    """What the browser refused, or logged as an error, while loading ``url``."""
    tab.errors.clear()
    tab.goto(url)
    tab.wait_for_load_state("networkidle")
    found = [*tab.evaluate("window.__violations"), *tab.errors]
    for frame in tab.frames[1:]:
        found += frame.evaluate("window.__violations || []")
    return found


@pytest.fixture
def smtp(app: Any, tmp_path: Path) -> Iterator[devmail.MailCatcher]:
    """The development mail catcher, so that the console's mail viewer has a message (named
    ``smtp``: it is the one SMTP server these tests may talk to)."""
    app.instance_path = str(tmp_path)
    port = free_port()
    found = devmail.MailCatcher(devmail.mail_directory(app), "127.0.0.1", port)
    app.config.update(DEV_MAIL_CATCHER=True, MAIL_SERVER="127.0.0.1", MAIL_PORT=port)
    mail.init_app(app)
    found.start()
    try:
        yield found
    finally:
        found.stop()


@pytest.fixture
def site(make_group: Any, make_component: Any, make_incident: Any, make_maintenance: Any,
         smtp: Any) -> dict[str, Any]:
    group = make_group("Platform", collapsed=False)
    api = make_component("API", group_id=group.id)
    make_component("SFTP")
    incident = make_incident("API errors", components={api.id: "partial_outage"},
                             body="We are **on it**.")
    maintenance = make_maintenance("Database upgrade")
    subs.subscribe("reader@example.com")
    notify.deliver()  # the confirmation, into the catcher
    subscriber = subs.find_subscriber("reader@example.com")
    return {"incident": incident.id, "maintenance": maintenance.id, "component": api.id,
            "group": group.id,
            "confirm": subs.make_token(subscriber, subs.TokenPurpose.CONFIRM),
            "manage": subs.make_token(subscriber, subs.TokenPurpose.MANAGE)}


PUBLIC = ["/", "/history", "/incidents/{incident}", "/incidents/{maintenance}", "/subscribe",
          "/subscribe/channel", "/incidents/{incident}/subscribe", "/embed", "/api/docs",
          "/subscriptions/confirm/{confirm}",
          "/subscriptions/manage/{manage}", "/subscriptions/unsubscribe/{manage}",
          "/subscriptions/manage/forged", "/nowhere"]
CONSOLE = ["/admin/", "/admin/components", "/admin/components/new",
           "/admin/components/{component}/edit", "/admin/groups/new", "/admin/incidents",
           "/admin/incidents/new", "/admin/incidents/{incident}",
           "/admin/incidents/{incident}/edit", "/admin/maintenance",
           "/admin/maintenance/new", "/admin/maintenance/{maintenance}",
           "/admin/subscribers", "/admin/subscribers/import", "/admin/deliveries/failed",
           "/admin/settings", "/admin/staff", "/admin/api-keys", "/admin/audit", "/admin/mail",
           "/admin/account", "/admin/templates", "/admin/templates/new"]


def test_no_public_page_breaks_the_policy(tab: Any, app: Any, live_server: str,
                                          site: dict[str, Any]) -> None:
    app.config["SUBSCRIBE_CHALLENGE"] = True  # its script runs on the forms that subscribe
    found = {path: refusals(tab, live_server + path.format(**site)) for path in PUBLIC}
    assert {path: errors for path, errors in found.items() if errors} == {}
    # Swagger UI drew the document (its script ran under the policy).
    tab.goto(live_server + "/api/docs")
    tab.get_by_text("Public API v2").first.wait_for()


def test_no_console_page_breaks_the_policy(tab: Any, live_server: str, admin_user: Any,
                                           site: dict[str, Any]) -> None:
    tab.goto(live_server + "/admin/login")
    tab.fill('input[name="email"]', admin_user.email)
    tab.fill('input[name="password"]', TEST_PASSWORD)
    tab.get_by_role("button", name="Sign in").click()
    tab.wait_for_url(re.compile(r"/admin/?$"))

    found = {path: refusals(tab, live_server + path.format(**site)) for path in CONSOLE}
    tab.goto(live_server + "/admin/mail")
    [message] = re.findall(r'href="(/admin/mail/[0-9a-f-]+)"', tab.content())
    found[message] = refusals(tab, live_server + message)
    assert {path: errors for path, errors in found.items() if errors} == {}
    # The email's own inline styles apply inside its sandboxed frame.
    frame = tab.frame_locator("iframe.mail-html")
    button = frame.get_by_role("link", name="Choose components and confirm")
    assert button.evaluate("el => getComputedStyle(el).display") == "inline-block"

    # Setting up two-factor sign-in draws its QR code here, under the policy too.
    tab.goto(live_server + "/admin/account")
    tab.errors.clear()
    tab.get_by_role("button", name="Set up two-factor sign-in").click()
    tab.locator("svg.totp-qr").wait_for()
    assert [*tab.evaluate("window.__violations"), *tab.errors] == []
