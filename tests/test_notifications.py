"""Notifications end to end over a real SMTP server: who gets what, and what the email says."""

from __future__ import annotations

import re
import threading
import time
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from statuspage import audience, incidents, scheduler
from statuspage import maintenance as maint
from statuspage import notifications as notify
from statuspage import subscriptions as subs
from statuspage.dbtypes import utcnow
from statuspage.extensions import db as _db
from statuspage.outbox import Delivery, Notice, NoticeKind
from statuspage.site import update_page_settings
from tests.smtp import body_of

BASE = "http://status.test"


def link(message: Any, kind: str) -> str:
    """The token of the first /subscriptions/<kind>/ link in the text part."""
    found = re.search(rf"{BASE}/subscriptions/{kind}/(\S+)", body_of(message))
    assert found, f"no {kind} link in:\n{body_of(message)}"
    return found.group(1)


def join(email: str, smtp: Any, **choice: Any) -> Any:
    """Subscribe, read the confirmation email, follow its link and save a choice."""
    subs.subscribe(email)
    notify.deliver()
    [confirmation] = smtp.to(email)
    subscriber = subs.load_token("confirm", link(confirmation, "confirm"))
    choice.setdefault("all_components", False)
    return subs.choose(subscriber, **choice)


@pytest.fixture
def three(make_component: Any) -> Any:
    return [make_component(name) for name in ("API", "Web", "Billing")]


def test_an_update_reaches_exactly_the_subscribers_of_its_component(
        three: Any, smtp: Any) -> None:
    api, web, billing = three
    join("api-fan@example.com", smtp, component_ids=[api.id])
    join("web-fan@example.com", smtp, component_ids=[web.id])
    join("everything@example.com", smtp, all_components=True)
    smtp.clear()

    incidents.open_incident("Elevated API errors", components={api.id: "partial_outage"},
                            body="Requests **fail** sometimes.")
    notify.deliver()

    assert sorted(str(m["To"]) for m in smtp.messages) == [
        "api-fan@example.com", "everything@example.com"]
    assert smtp.to("web-fan@example.com") == []


def test_the_confirmation_email_explains_itself_and_its_link_expires(db: Any, smtp: Any
                                                                      ) -> None:
    subs.subscribe("reader@example.com")
    notify.deliver()

    [message] = smtp.messages
    assert message["Subject"] == "[Acme] Confirm your subscription"
    assert "7 days" in body_of(message)
    assert message["List-Unsubscribe"] is None
    token = link(message, "confirm")
    with pytest.raises(subs.TokenExpired):
        subs.load_token("confirm", token, now=utcnow() + timedelta(days=8))


def test_the_incident_email_carries_everything_a_subscriber_needs(
        app: Any, three: Any, smtp: Any) -> None:
    api = three[0]
    app.config["MAIL_REPLY_TO"] = "support@example.com"
    update_page_settings(time_zone="Europe/Stockholm", support_url="https://help.example.com")
    join("reader@example.com", smtp, component_ids=[api.id])
    smtp.clear()
    incident = incidents.open_incident(
        "Elevated API errors", components={api.id: "major_outage"},
        body="We are <script>alert(1)</script> on it. See [the docs](javascript:alert(1)).",
        now=utcnow().replace(month=1, day=15, hour=10, minute=30))
    incidents.post_update(incident, status="monitoring", body="Looking *better*.")
    notify.deliver()

    first, second = smtp.to("reader@example.com")
    # One subject per incident, so mail clients thread its emails; the status leads the body.
    assert first["Subject"] == second["Subject"] == "[Acme] Elevated API errors"
    assert body_of(first).startswith("Investigating - Jan 15, ")
    assert body_of(second).startswith("Monitoring - ")
    assert first["From"] == "Acme <status@localhost>"
    assert first["Reply-To"] == "support@example.com"
    assert first["Auto-Submitted"] == "auto-generated"
    assert first["Message-ID"] != second["Message-ID"]
    thread = f"<incident-{incident.id}."
    assert first["In-Reply-To"].startswith(thread) and second["References"].startswith(thread)
    assert first["In-Reply-To"] == second["In-Reply-To"]
    assert first["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert re.fullmatch(rf"<{BASE}/subscriptions/unsubscribe/\S+>", first["List-Unsubscribe"])
    assert first["List-Id"] == f"Acme <{first['List-Id'].split('<')[1]}"

    text, html = body_of(first), body_of(first, "html")
    assert "Jan 15, " in text and "11:30 CET" in text  # the page's zone, named
    assert "API (Major Outage)" in text
    assert f"{BASE}/incidents/{incident.id}" in text
    assert "https://help.example.com" in text and "https://help.example.com" in html
    assert link(first, "manage") and link(first, "unsubscribe")
    assert "<script>" not in html and "javascript:" not in html
    assert "&lt;script&gt;" not in text  # plain text is not HTML-escaped
    assert "<em>better</em>" in body_of(second, "html")


def test_a_maintenance_reaches_its_components_subscribers_and_all_subscribers(
        three: Any, smtp: Any) -> None:
    api, web, billing = three
    join("web-fan@example.com", smtp, component_ids=[web.id])
    join("billing-fan@example.com", smtp, component_ids=[billing.id])
    join("everything@example.com", smtp, all_components=True)
    smtp.clear()

    maintenance = maint.schedule_maintenance(
        "Database upgrade", scheduled_for=utcnow() + timedelta(days=1),
        scheduled_until=utcnow() + timedelta(days=1, hours=2), component_ids=[web.id])
    notify.deliver()

    assert sorted(str(m["To"]) for m in smtp.messages) == [
        "everything@example.com", "web-fan@example.com"]
    [message] = smtp.to("web-fan@example.com")
    assert message["Subject"] == "[Acme] Database upgrade"
    assert body_of(message).startswith("Scheduled - ")
    assert "Scheduled for " in body_of(message) and "Web (Operational)" in body_of(message)

    smtp.clear()
    maint.run_due_transitions(now=maintenance.scheduled_for + timedelta(minutes=1))
    maint.run_due_transitions(now=maintenance.scheduled_until + timedelta(minutes=1))
    notify.deliver()
    assert sorted(body_of(m).split(" - ")[0] for m in smtp.to("web-fan@example.com")) == [
        "Completed", "In progress"]
    assert {m["Subject"] for m in smtp.to("web-fan@example.com")} == {"[Acme] Database upgrade"}
    assert smtp.to("billing-fan@example.com") == []


def test_an_incident_without_components_reaches_every_confirmed_subscriber(
        three: Any, smtp: Any) -> None:
    join("api-fan@example.com", smtp, component_ids=[three[0].id])
    join("everything@example.com", smtp, all_components=True)
    subs.subscribe("unconfirmed@example.com")
    notify.deliver()
    smtp.clear()

    incidents.open_incident("Everything is slow")
    notify.deliver()

    assert sorted(str(m["To"]) for m in smtp.messages) == [
        "api-fan@example.com", "everything@example.com"]


def test_unsubscribing_through_the_emailed_link_stops_the_mail(three: Any, smtp: Any) -> None:
    join("reader@example.com", smtp, all_components=True)
    smtp.clear()
    incident = incidents.open_incident("Elevated API errors")
    notify.deliver()
    [message] = smtp.messages
    token = message["List-Unsubscribe"].strip("<>").rsplit("/", 1)[1]

    subs.unsubscribe(subs.load_token("unsubscribe", token))
    incidents.post_update(incident, status="resolved")
    notify.deliver()

    assert len(smtp.messages) == 1
    assert _db.session.scalar(sa.select(sa.func.count()).select_from(Delivery).where(
        Delivery.to_address == "reader@example.com", Delivery.status == "queued")) == 0


@pytest.mark.parametrize("name", [
    "Outage\r\nBcc: victim@example.com",
    "Outage\nSubject: spoofed",
    "Outage\u2028X-Evil: yes\x0b",
])
def test_line_breaks_in_names_cannot_inject_headers(db: Any, smtp: Any, name: str) -> None:
    # The operations refuse such names; rows written before that rule (or by hand) are
    # stored here directly, and the email layer must still neutralise them.
    settings = update_page_settings(name="Acme")
    settings.name = "Acme\r\nX-Page: evil"
    _db.session.commit()
    join("reader@example.com", smtp, all_components=True)
    smtp.clear()

    incident = incidents.open_incident("Outage", deliver_notifications=False)
    incident.name = name
    _db.session.commit()
    incidents.post_update(incident, status="identified")
    notify.deliver()

    [message] = smtp.messages
    assert "\n" not in message["Subject"] and "\r" not in message["Subject"]
    assert message["Subject"] == "[Acme X-Page: evil] Outage " + " ".join(name.split()[1:])
    for injected in ("Bcc", "X-Evil", "X-Page"):
        assert message[injected] is None
    assert message.get_all("Subject") == [message["Subject"]]
    assert str(message["To"]) == "reader@example.com"
    assert "\n" not in str(message["From"])


def test_a_reminder_is_sent_once_before_the_maintenance_starts(
        app: Any, three: Any, smtp: Any) -> None:
    web = three[1]
    join("web-fan@example.com", smtp, component_ids=[web.id])
    now = utcnow()
    start = now + timedelta(hours=3)
    maintenance = maint.schedule_maintenance(
        "Database upgrade", scheduled_for=start, scheduled_until=start + timedelta(hours=1),
        component_ids=[web.id], now=now)
    maint.schedule_maintenance(  # asks for no reminder
        "Quiet work", scheduled_for=start, scheduled_until=start + timedelta(hours=1),
        component_ids=[web.id], remind_prior=False, now=now)
    lead = timedelta(minutes=app.config["MAINTENANCE_REMINDER_MINUTES"])
    notify.deliver()
    smtp.clear()

    assert maint.enqueue_reminders(now=start - lead - timedelta(minutes=1)) == 0
    assert maint.enqueue_reminders(now=start - lead + timedelta(minutes=1)) == 1
    assert maint.enqueue_reminders(now=start - timedelta(minutes=5)) == 0
    notify.deliver()

    [reminder] = smtp.messages
    assert reminder["Subject"] == "[Acme] Database upgrade"
    assert body_of(reminder).startswith("Reminder - scheduled maintenance starts ")
    assert "Web" in body_of(reminder) and reminder["List-Unsubscribe"]

    # Moving the window earns a fresh reminder; after the start, none.
    maint.change_maintenance(maintenance, edits={
        "scheduled_for": start + timedelta(days=1),
        "scheduled_until": start + timedelta(days=1, hours=1)})
    assert maint.enqueue_reminders(now=start + timedelta(days=1) - lead) == 1
    assert maint.enqueue_reminders(now=start + timedelta(days=1, minutes=1)) == 0
    assert _db.session.scalar(sa.select(sa.func.count()).select_from(Notice).where(
        Notice.kind == NoticeKind.MAINTENANCE_REMINDER)) == 2


def test_maintenance_scheduled_inside_the_lead_time_gets_no_separate_reminder(
        db: Any) -> None:
    now = utcnow()
    maint.schedule_maintenance("Hotfix", scheduled_for=now + timedelta(minutes=30),
                                   scheduled_until=now + timedelta(hours=1), now=now)
    assert maint.enqueue_reminders(now=now + timedelta(minutes=1)) == 0


def test_the_console_tells_a_moving_worker_from_a_stuck_or_gone_one(db: Any) -> None:
    now = utcnow()
    assert not scheduler.worker_status(now).alive

    scheduler.record_progress(worker_id="host-a:1", now=now)
    scheduler.beat(worker_id="host-b:2", now=now - timedelta(minutes=5))

    status = scheduler.worker_status(now + timedelta(seconds=30))
    assert status.alive and status.last_seen_at == now and status.stuck == []
    assert [w for w, _ in status.workers] == ["host-a:1", "host-b:2"]

    # The process still beats, but its mail loop reports only failures: stuck, not alive.
    later = now + scheduler.ALIVE_WITHIN
    scheduler.beat(worker_id="host-a:1", now=later)
    scheduler.record_progress(worker_id="host-a:1", error="TimeoutError: no answer", now=later)
    status = scheduler.worker_status(later + timedelta(seconds=1))
    assert not status.alive
    assert status.stuck == [("host-a:1", now, "TimeoutError: no answer")]

    scheduler.beat(worker_id="host-a:1", now=now + timedelta(days=2))
    assert [w for w, _ in scheduler.worker_status().workers] == ["host-a:1"]


def test_a_moving_webhook_loop_does_not_hide_a_sending_loop_that_cannot_move(
        app: Any, db: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scheduler, "PROGRESS_EVERY", 0.0)  # every call is written
    progress = scheduler.Progress(app, "host-c:3")

    def in_loop(name: str, error: str | None) -> scheduler.WorkerHeartbeat:
        thread = threading.Thread(target=progress, args=(error,), name=name)
        thread.start()
        thread.join()
        _db.session.expire_all()
        return _db.session.get(scheduler.WorkerHeartbeat, "host-c:3")

    sent_at = in_loop("mail-send-0", None).last_progress_at
    in_loop("http-post-0", None)
    in_loop("mail-send-0", "SMTP 127.0.0.1:25: timed out")
    for _ in range(3):
        row = in_loop("http-post-0", None)
    assert (row.last_progress_at, row.last_error) == (sent_at, "SMTP 127.0.0.1:25: timed out")
    assert row.last_seen_at > sent_at

    row = in_loop("mail-send-0", None)
    assert row.last_progress_at > sent_at and row.last_error is None


def test_the_worker_declares_every_job_and_a_thread_per_connection(app: Any) -> None:
    jobs = {job.id: job for job in scheduler.JOBS}
    assert {"heartbeat", "maintenance-reminders", "maintenance-transitions",
            "purge-unconfirmed"} <= set(jobs)
    app.config["MAIL_CONNECTIONS"] = 3
    app.config["WEBHOOK_CONNECTIONS"] = 2
    loops = scheduler.MailLoops(app)
    assert [t.name for t in loops.threads] == [
        "mail-expand", "mail-send-0", "mail-send-1", "mail-send-2", "http-post-0",
        "http-post-1"]


def test_running_the_jobs_once_sends_pending_mail_and_beats(app: Any, db: Any, smtp: Any
                                                            ) -> None:
    subs.subscribe("reader@example.com")

    scheduler.run_once(app)

    assert [str(m["To"]) for m in smtp.messages] == ["reader@example.com"]
    assert scheduler.worker_status().alive


def test_a_running_worker_sends_a_notice_within_five_seconds(app: Any, db: Any, smtp: Any
                                                             ) -> None:
    subs.choose(subs.find_subscriber(subs.subscribe("reader@example.com")),
                all_components=True)
    running = scheduler.start_in_background(app)
    try:
        time.sleep(0.2)  # let the scheduler settle before the commit we time
        committed = time.monotonic()
        incidents.open_incident("Elevated API errors")
        while time.monotonic() - committed < 5 and not any(
                "Elevated" in str(m["Subject"]) for m in smtp.messages):
            time.sleep(0.05)
        elapsed = time.monotonic() - committed
    finally:
        running.shutdown(wait=True)
    assert any("Elevated" in str(m["Subject"]) for m in smtp.messages)
    assert elapsed < 5


def test_sending_without_the_smtp_fixture_fails_the_test(db: Any) -> None:
    subs.subscribe("reader@example.com")
    with pytest.raises(pytest.fail.Exception, match="use the smtp fixture"):
        notify.send_due()


def test_count_reach_tells_ops_how_many_an_update_would_reach(three: Any, smtp: Any) -> None:
    api, web, _ = three
    join("api-fan@example.com", smtp, component_ids=[api.id])
    join("everything@example.com", smtp, all_components=True)

    assert audience.count_reach([api.id]) == 2
    assert audience.count_reach([web.id]) == 1
    assert audience.count_reach([]) == 2
