"""Subscribers and email in the ops console: counts, search, import/export, what each update
sent, the reach of an update before it is posted, and the warning when no worker runs."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from statuspage import notifications as notify
from statuspage import scheduler, subscriber_csv, subscriber_lists
from statuspage import subscriptions as subs
from statuspage.audit import AuditEntry
from statuspage.dbtypes import utcnow
from statuspage.extensions import db as _db
from statuspage.outbox import Delivery, DeliveryKind, DeliveryStatus
from tests.conftest import Actions, form_errors
from tests.smtp import body_of


def text(response: Any) -> str:
    return response.get_data(as_text=True)


def confirmed(*emails: str, component_ids: list[int] | None = None) -> list[Any]:
    """Subscribers confirmed as an import with consent makes them (no email involved)."""
    subscriber_csv.import_subscribers("\n".join(emails), confirmed=True)
    people = [subs.find_subscriber(e) for e in emails]
    if component_ids is not None:
        people = [subs.choose(p, all_components=False, component_ids=component_ids)
                  for p in people]
    return people


def count_shown(html: str, name: str) -> int:
    found = re.search(rf'data-count="{name}">\s*(\d+)', html)
    assert found, f"no {name} count in the page"
    return int(found.group(1))


def audit_actions(db: Any) -> list[str]:
    return list(db.session.scalars(sa.select(AuditEntry.action).order_by(AuditEntry.id)))


def upload(content: bytes, name: str = "people.csv") -> tuple[io.BytesIO, str]:
    return io.BytesIO(content), name


# --- the subscribers page -------------------------------------------------------------------------

def test_the_subscribers_page_counts_confirmed_unconfirmed_and_quarantined(
        app: Any, logged_in: Actions, smtp: Any) -> None:
    app.config["MAIL_RETRY_LIMIT"] = 1
    confirmed("kept@example.com", "bounces@example.com")
    subs.subscribe("pending@example.com")
    notify.deliver()  # the confirmation email leaves
    smtp.refuse("550 5.1.1 No such user", address="bounces@example.com")
    subs.resend_confirmation(subs.find_subscriber("bounces@example.com"))
    notify.deliver()

    html = text(logged_in.client.get("/admin/subscribers"))

    assert (count_shown(html, "confirmed"), count_shown(html, "unconfirmed"),
            count_shown(html, "quarantined")) == (2, 1, 1)
    row = html[html.index("bounces@example.com"):]
    assert "quarantined" in row[:600] and "550 5.1.1 No such user" in row[:800]
    assert "Clear quarantine" in row[:1500]


def test_clearing_a_quarantine_lets_the_address_receive_email_again(
        app: Any, logged_in: Actions, smtp: Any) -> None:
    app.config["MAIL_RETRY_LIMIT"] = 1
    [person] = confirmed("bounces@example.com")
    smtp.refuse("550 Mailbox unavailable", address="bounces@example.com")
    subs.resend_confirmation(person)
    notify.deliver()
    assert subs.find_subscriber("bounces@example.com").quarantined

    response = logged_in.post(f"/admin/subscribers/{person.id}/unquarantine")

    assert response.status_code == 302
    _db.session.expire_all()
    assert not subs.find_subscriber("bounces@example.com").quarantined
    assert "subscriber.unquarantine" in audit_actions(_db)
    past_cooldown(person)
    logged_in.post(f"/admin/subscribers/{person.id}/resend")
    notify.deliver()
    assert len(smtp.to("bounces@example.com")) == 1


def test_search_finds_subscribers_by_part_of_their_address_and_treats_wildcards_literally(
        logged_in: Actions) -> None:
    confirmed("alice@example.com", "bob@example.org", "carol_x@example.com")

    found = text(logged_in.client.get("/admin/subscribers?q=EXAMPLE.COM"))
    assert "alice@example.com" in found and "carol_x@example.com" in found
    assert "bob@example.org" not in found

    underscore = text(logged_in.client.get("/admin/subscribers?q=_"))
    assert "carol_x@example.com" in underscore and "alice@example.com" not in underscore

    nothing = text(logged_in.client.get("/admin/subscribers?q=%25"))
    assert "No subscriber's address contains “%”." in nothing


def test_each_subscriber_shows_what_they_chose(logged_in: Actions, make_component: Any
                                               ) -> None:
    api, web = make_component("API"), make_component("Web")
    confirmed("everything@example.com")
    confirmed("picky@example.com", component_ids=[api.id, web.id])

    html = text(logged_in.client.get("/admin/subscribers"))

    assert re.search(r"everything@example.com</td>.*?<td>\s*All components", html, re.S)
    assert re.search(r"picky@example.com</td>.*?<td>\s*API, Web", html, re.S)


def test_removing_a_subscriber_asks_first_then_cancels_their_queued_email(
        logged_in: Actions) -> None:
    subs.subscribe("leaving@example.com")
    person = subs.find_subscriber("leaving@example.com")

    question = logged_in.client.get(f"/admin/subscribers/{person.id}/delete")
    assert "Remove leaving@example.com?" in text(question)
    assert subs.find_subscriber("leaving@example.com") is not None

    response = logged_in.post(f"/admin/subscribers/{person.id}/delete",
                              follow_redirects=True)

    assert "Removed leaving@example.com." in text(response)
    assert subs.find_subscriber("leaving@example.com") is None
    [confirmation] = _db.session.scalars(sa.select(Delivery)).all()
    assert confirmation.status is DeliveryStatus.CANCELLED
    assert "subscriber.remove" in audit_actions(_db)


def past_cooldown(person: Any) -> None:
    """Move the last link sent to ``person`` back past the resend cooldown."""
    _db.session.refresh(person)
    person.link_sent_at = utcnow() - subs.LINK_RESEND_COOLDOWN * 2
    _db.session.commit()


def test_resending_a_confirmation_emails_a_fresh_link_after_the_cooldown(
        logged_in: Actions, smtp: Any) -> None:
    subs.subscribe("slow-reader@example.com")
    notify.deliver()
    person = subs.find_subscriber("slow-reader@example.com")
    past_cooldown(person)

    response = logged_in.post(f"/admin/subscribers/{person.id}/resend", follow_redirects=True)
    notify.deliver()

    assert "A new link is on its way to slow-reader@example.com." in text(response)
    first, second = smtp.to("slow-reader@example.com")
    assert second["Subject"] == "[Acme] Confirm your subscription"
    assert "/subscriptions/confirm/" in body_of(second)


def test_resending_to_a_quarantined_address_is_refused_with_the_reason(
        logged_in: Actions) -> None:
    [person] = confirmed("bounces@example.com")
    person.quarantined_at = utcnow()
    _db.session.commit()

    response = logged_in.post(f"/admin/subscribers/{person.id}/resend", follow_redirects=True)

    assert "This address is quarantined; clear it first." in text(response)
    assert notify.queue_status().queued == 0


def test_actions_on_a_subscriber_that_does_not_exist_are_not_found(logged_in: Actions
                                                                   ) -> None:
    assert logged_in.post("/admin/subscribers/999/resend").status_code == 404
    assert logged_in.client.get("/admin/subscribers/999/delete").status_code == 404


# --- CSV export and import ------------------------------------------------------------------------

def test_the_csv_export_is_an_audited_download_whose_cells_cannot_run_as_formulas(
        logged_in: Actions, make_component: Any) -> None:
    api = make_component("=HYPERLINK(\"http://evil.example\")")
    confirmed("=cmd@example.com", component_ids=[api.id])
    confirmed("plain@example.com")

    response = logged_in.client.get("/admin/subscribers/export.csv")

    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].startswith("attachment; filename=")
    assert response.headers["Cache-Control"] == "no-store"
    rows = list(csv.reader(io.StringIO(text(response))))
    assert rows[0][:3] == ["email", "confirmed_at", "components"]
    by_address = {row[0]: row for row in rows[1:]}
    assert by_address["'=cmd@example.com"][2] == "'=HYPERLINK(\"http://evil.example\")"
    assert by_address["plain@example.com"][2] == "all"
    assert audit_actions(_db)[-1] == "subscriber.export"


def test_importing_without_consent_sends_each_new_address_a_confirmation_email(
        logged_in: Actions, smtp: Any) -> None:
    confirmed("known@example.com")
    content = (b"\xef\xbb\xbfemail\nnew1@example.com\nKnown@Example.com\nnot an address\n"
               b"new2@example.com\n")

    response = logged_in.post("/admin/subscribers/import",
                              {"file": upload(content)}, content_type="multipart/form-data")
    notify.deliver()

    html = text(response)
    assert response.status_code == 200
    assert "Imported 2 addresses to confirm by email." in html
    assert re.search(r"<strong>2</strong> added.*?<strong>1</strong> already known.*?"
                     r"<strong>1</strong> not valid", html, re.S)
    assert "<td>4</td><td><code>not an address</code></td>" in html
    assert sorted(str(m["To"]) for m in smtp.messages) == ["new1@example.com",
                                                           "new2@example.com"]
    assert all(m["Subject"] == "[Acme] Confirm your subscription" for m in smtp.messages)
    counts = subscriber_lists.subscriber_counts()
    assert (counts.confirmed, counts.unconfirmed) == (1, 2)


def test_importing_with_consent_confirms_the_addresses_without_any_email(
        logged_in: Actions) -> None:
    response = logged_in.post(
        "/admin/subscribers/import",
        {"file": upload(b"a@example.com\nb@example.com\n"), "confirmed": "y"},
        content_type="multipart/form-data")

    assert "Imported 2 confirmed subscribers." in text(response)
    assert subscriber_lists.subscriber_counts().confirmed == 2
    assert subs.find_subscriber("a@example.com").all_components
    assert notify.queue_status().queued == 0  # nobody is emailed


@pytest.mark.parametrize(("data", "message"), [
    ({}, "Choose a CSV file."),
    ({"file": (io.BytesIO(b"x@example.com"), "people.xlsx")}, "Upload a .csv or .txt file."),
    ({"file": (io.BytesIO(b"\xff\xfe\x00bad"), "people.csv")}, "The file is not UTF-8 text."),
])
def test_an_import_that_cannot_be_read_is_refused_and_adds_nobody(
        logged_in: Actions, data: dict[str, Any], message: str) -> None:
    response = logged_in.post("/admin/subscribers/import", data,
                              content_type="multipart/form-data")

    assert response.status_code == 422
    assert any(e.startswith(message) for e in form_errors(text(response))), form_errors(
        text(response))
    assert subscriber_lists.subscriber_counts() == subscriber_lists.SubscriberCounts(0, 0, 0)


# --- who may see what -----------------------------------------------------------------------------

@pytest.mark.parametrize(("method", "url"), [
    ("get", "/admin/subscribers"),
    ("get", "/admin/subscribers/export.csv"),
    ("get", "/admin/subscribers/import"),
    ("post", "/admin/subscribers/import"),
    ("get", "/admin/deliveries/failed"),
    ("post", "/admin/deliveries/retry"),
])
def test_subscriber_addresses_are_for_admins_only(
        actions: Actions, make_user: Any, method: str, url: str) -> None:
    make_user("editor@example.com", role="editor")
    actions.login("editor@example.com")
    confirmed("private@example.com")

    response = (actions.client.get(url) if method == "get" else actions.post(url))

    assert response.status_code == 403
    assert "private@example.com" not in text(response)


def test_editors_see_the_reach_and_no_subscribers_link(actions: Actions, make_user: Any
                                                       ) -> None:
    make_user("editor@example.com", role="editor")
    actions.login("editor@example.com")
    confirmed("a@example.com", "b@example.com")

    assert actions.client.get("/admin/reach").get_json() == {
        "reach": 2, "channels": {"email": 2, "webhook": 0, "slack": 0, "teams": 0}}
    assert 'href="/admin/subscribers"' not in text(actions.client.get("/admin/"))


# --- what an update sent --------------------------------------------------------------------------

def test_an_update_shows_its_emails_sent_and_failed_and_ops_can_retry_the_failed(
        app: Any, logged_in: Actions, make_incident: Any, smtp: Any) -> None:
    app.config["MAIL_RETRY_LIMIT"] = 1
    confirmed("a@example.com", "b@example.com", "gone@example.com")
    smtp.refuse("550 5.1.1 No such user", address="gone@example.com")
    incident = make_incident()
    [update] = incident.updates
    notify.deliver()

    html = text(logged_in.client.get(f"/admin/incidents/{incident.id}"))
    counts = html[html.index(f'id="deliveries-{update.id}"'):]
    assert re.search(r"0 queued.*?2 sent.*?<strong>1 failed</strong>", counts, re.S)
    assert f"/admin/incidents/{incident.id}/updates/{update.id}/retry" in counts

    subs.clear_quarantine(subs.find_subscriber("gone@example.com"))
    response = logged_in.post(f"/admin/incidents/{incident.id}/updates/{update.id}/retry",
                              follow_redirects=True)

    assert "1 failed email queued again." in text(response)
    assert re.search(r"1 queued.*?2 sent.*?0 failed", text(response), re.S)
    notify.deliver()
    assert len(smtp.to("gone@example.com")) == 1
    assert notify.delivery_counts([update.id])[update.id].sent == 3


def test_an_update_that_notified_nobody_shows_no_email_counts(
        logged_in: Actions, make_incident: Any) -> None:
    incident = make_incident(deliver_notifications=False)

    html = text(logged_in.client.get(f"/admin/incidents/{incident.id}"))

    assert 'id="deliveries-' not in html


def test_the_failed_emails_page_lists_each_with_the_servers_last_answer(
        app: Any, logged_in: Actions, make_incident: Any, smtp: Any) -> None:
    app.config["MAIL_RETRY_LIMIT"] = 1
    confirmed("gone@example.com", "fine@example.com")
    smtp.refuse("550 5.1.1 <gone@example.com>: Recipient address rejected",
                address="gone@example.com")
    make_incident()
    notify.deliver()

    html = text(logged_in.client.get("/admin/deliveries/failed"))

    assert "gone@example.com" in html and "fine@example.com" not in html
    assert "550 5.1.1 &lt;gone@example.com&gt;: Recipient address rejected" in html
    subs.clear_quarantine(subs.find_subscriber("gone@example.com"))
    response = logged_in.post("/admin/deliveries/retry", follow_redirects=True)
    assert "1 failed email queued again." in text(response)
    assert "No failed emails." in text(response)


# --- reach before posting -------------------------------------------------------------------------

@pytest.fixture
def audience(make_component: Any) -> Any:
    """API and Web, with one subscriber to all, one to API, two to Web."""
    api, web = make_component("API"), make_component("Web")
    confirmed("everything@example.com")
    confirmed("api-fan@example.com", component_ids=[api.id])
    confirmed("web-1@example.com", "web-2@example.com", component_ids=[web.id])
    return api, web


def reach_shown(html: str) -> int:
    found = re.search(r"<strong data-reach>(\d+)</strong>", html)
    assert found, "no reach count on the page"
    return int(found.group(1))


def test_the_new_incident_form_shows_that_without_components_it_reaches_everyone(
        logged_in: Actions, audience: Any) -> None:
    html = text(logged_in.client.get("/admin/incidents/new"))

    assert reach_shown(html) == 4
    assert 'src="/static/reach.js"' in html


def test_the_reach_endpoint_counts_the_subscribers_of_the_chosen_components(
        logged_in: Actions, audience: Any) -> None:
    api, web = audience
    get = logged_in.client.get

    assert get(f"/admin/reach?component={api.id}").get_json()["reach"] == 2
    assert get(f"/admin/reach?component={web.id}").get_json()["reach"] == 3
    assert get(f"/admin/reach?component={api.id}&component={web.id}").get_json()["reach"] == 4
    assert get("/admin/reach").get_json()["reach"] == 4
    bad = get("/admin/reach?component=api")
    assert bad.status_code == 422 and bad.get_json() == {
        "error": "Unprocessable Entity", "message": "Unknown component.", "field": "components"}


def test_the_update_form_counts_the_incidents_components_subscribers(
        logged_in: Actions, audience: Any, make_incident: Any) -> None:
    api, _web = audience
    incident = make_incident(components={api.id: "partial_outage"})

    html = text(logged_in.client.get(f"/admin/incidents/{incident.id}"))

    assert reach_shown(html) == 2
    assert f'data-announced="{api.id}"' in html


def test_reach_leaves_out_unconfirmed_and_quarantined_addresses(
        logged_in: Actions, audience: Any) -> None:
    subs.subscribe("not-yet@example.com")
    quarantined = subs.find_subscriber("everything@example.com")
    quarantined.quarantined_at = utcnow()
    _db.session.commit()

    assert logged_in.client.get("/admin/reach").get_json()["reach"] == 3


# --- is a worker sending? -------------------------------------------------------------------------

WARNING = "No worker is running"


def test_every_admin_page_warns_when_mail_waits_and_no_worker_beats(logged_in: Actions
                                                                    ) -> None:
    subs.subscribe("waiting@example.com")

    for url in ("/admin/", "/admin/components", "/admin/incidents"):
        html = text(logged_in.client.get(url))
        assert WARNING in html, url
        assert "1 email waiting" in html and "<code>flask --app wsgi worker</code>" in html
        assert "No worker has ever been seen." in html

    scheduler.record_progress(worker_id="web-1:42")
    html = text(logged_in.client.get("/admin/"))
    assert WARNING not in html and "stuck" not in html
    assert "running" in html and "1 waiting" in html


def test_a_worker_whose_mail_loop_is_blocked_shows_as_stuck(logged_in: Actions) -> None:
    subs.subscribe("waiting@example.com")
    long_ago = utcnow() - scheduler.ALIVE_WITHIN - timedelta(seconds=5)
    scheduler.record_progress(worker_id="web-1:42", now=long_ago)
    # Its process is still up, but its sending loop only fails since.
    scheduler.beat(worker_id="web-1:42")
    scheduler.record_progress(worker_id="web-1:42", error="TimeoutError: timed out")

    html = text(logged_in.client.get("/admin/"))

    assert "Mail is stuck: 1 email waiting" in html and WARNING not in html
    assert "web-1:42 is running but its mail has not moved since" in html
    assert "TimeoutError: timed out" in html
    assert ">stuck<" in html


def test_the_warning_returns_when_the_last_heartbeat_is_old(logged_in: Actions) -> None:
    subs.subscribe("waiting@example.com")
    scheduler.beat(worker_id="web-1:42",
                   now=utcnow() - scheduler.ALIVE_WITHIN - timedelta(seconds=5))

    html = text(logged_in.client.get("/admin/"))

    assert WARNING in html and "The last worker was seen" in html
    assert "not running" in html


def test_no_warning_while_nothing_waits_even_without_a_worker(logged_in: Actions) -> None:
    html = text(logged_in.client.get("/admin/"))

    assert WARNING not in html
    assert "not running" in html  # the dashboard still tells


def test_the_sign_in_page_shows_no_mail_state(client: Any, db: Any) -> None:
    subs.subscribe("waiting@example.com")

    assert WARNING not in text(client.get("/admin/login"))


# --- development mail -----------------------------------------------------------------------------

def test_caught_mail_is_not_found_when_the_catcher_is_off(app: Any, logged_in: Actions
                                                          ) -> None:
    app.config["DEV_MAIL_CATCHER"] = False

    assert logged_in.client.get("/admin/mail").status_code == 404
    assert logged_in.client.get("/admin/mail/1700000000000000-0123abcd").status_code == 404
    assert 'href="/admin/mail"' not in text(logged_in.client.get("/admin/"))


def test_kinds_of_delivery_in_the_queue_are_shown_plainly(app: Any, logged_in: Actions,
                                                          smtp: Any) -> None:
    app.config["MAIL_RETRY_LIMIT"] = 1
    smtp.refuse("550 No", address="x@example.com")
    subs.subscribe("x@example.com")
    notify.deliver()

    html = text(logged_in.client.get("/admin/deliveries/failed"))

    assert DeliveryKind.CONFIRM.value in html and "550 No" in html


# --- checking the mail settings -------------------------------------------------------------------

def test_send_test_mail_sends_one_email_now_without_the_queue(runner: Any, db: Any, smtp: Any
                                                            ) -> None:
    result = runner.invoke(args=["send-test-mail", "ops@example.com"])

    assert result.exit_code == 0, result.output
    assert f"Sent a test email to ops@example.com through 127.0.0.1:{smtp.port}" in result.output
    [message] = smtp.messages
    assert message["Subject"] == "[Acme] Test email"
    assert "the mail settings work" in body_of(message)
    assert notify.queue_status().queued == 0


@pytest.mark.parametrize(("fault", "expected"), [
    ("refused", "The relay 127.0.0.1:{port} refused the email: 550 5.7.1 Relaying denied"),
    ("down", "Could not send through 127.0.0.1:{port}: ConnectionRefusedError"),
])
def test_send_test_mail_prints_the_relays_error_and_fails(runner: Any, smtp: Any, fault: str,
                                                          expected: str) -> None:
    if fault == "refused":
        smtp.refuse("550 5.7.1 Relaying denied")
    else:
        smtp.stop()

    result = runner.invoke(args=["send-test-mail", "ops@example.com"])

    assert result.exit_code == 1
    assert f"Error: {expected.format(port=smtp.port)}" in result.output
    assert "Traceback" not in result.output and smtp.messages == []


def test_send_test_mail_refuses_an_address_that_is_not_one(runner: Any, db: Any) -> None:
    result = runner.invoke(args=["send-test-mail", "not an address"])

    assert result.exit_code == 1
    assert "Error: Enter a valid email address." in result.output
