"""The mail queue: notices in the writer's transaction, idempotent fan-out, claims, retries."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from statuspage import audience, emails, incidents, subscriber_lists
from statuspage import notifications as notify
from statuspage import subscriptions as subs
from statuspage.channels import smtp as smtp_channel
from statuspage.dbtypes import utcnow
from statuspage.extensions import db as _db
from statuspage.notifications import claims
from statuspage.outbox import Delivery, DeliveryKind, DeliveryStatus, Notice
from statuspage.validation import ValidationError


def confirmed(email: str, **choice: Any) -> Any:
    subs.subscribe(email)
    choice.setdefault("all_components", True)
    return subs.choose(subs.find_subscriber(email), **choice)


def incident_deliveries() -> list[Delivery]:
    return list(_db.session.scalars(
        sa.select(Delivery).where(Delivery.kind == DeliveryKind.INCIDENT_UPDATE)
        .order_by(Delivery.id)))


@pytest.fixture
def readers(db: Any) -> list[Any]:
    """Three confirmed subscribers to everything, their confirmation emails already handled."""
    people = [confirmed(f"reader{i}@example.com") for i in range(3)]
    _db.session.execute(sa.update(Delivery).values(status=DeliveryStatus.SENT))
    _db.session.commit()
    return people


def test_an_update_queues_its_notice_in_the_same_transaction(db: Any, make_incident: Any
                                                             ) -> None:
    incident = make_incident()
    quiet = incidents.post_update(incident, status="identified", deliver_notifications=False)
    loud = incidents.post_update(incident, status="monitoring")
    with pytest.raises(ValidationError):
        incidents.post_update(incident, status="nonsense")
    _db.session.rollback()

    notices = list(_db.session.scalars(sa.select(Notice).order_by(Notice.id)))
    assert [n.update_id for n in notices] == [incident.updates[-1].id, loud.id]
    assert quiet.id not in {n.update_id for n in notices}
    assert all(n.expanded_at is None for n in notices)


def test_expanding_twice_makes_no_duplicates(readers: Any, make_incident: Any) -> None:
    make_incident()
    assert notify.expand_notices() == 3
    assert notify.expand_notices() == 0

    # Even a notice expanded again from scratch adds nothing new.
    _db.session.execute(sa.update(Notice).values(expanded_at=None))
    _db.session.commit()
    assert notify.expand_notices() == 0
    assert sorted(d.to_address for d in incident_deliveries()) == [
        "reader0@example.com", "reader1@example.com", "reader2@example.com"]


def test_a_server_that_is_down_then_up_gets_everything_exactly_once(
        readers: Any, make_incident: Any, smtp: Any) -> None:
    now = utcnow()
    make_incident()
    notify.expand_notices(now=now)
    smtp.stop()

    report = notify.send_due(now=now)

    assert (report.claimed, report.sent, report.retrying) == (3, 0, 3)
    for delivery in incident_deliveries():
        assert delivery.status is DeliveryStatus.QUEUED and delivery.attempts == 1
        assert delivery.next_attempt_at > now and delivery.claimed_by is None
        assert "Connection" in delivery.last_error or "refused" in delivery.last_error
    assert notify.send_due(now=now).claimed == 0  # backing off, not hammering

    smtp.start()
    assert notify.send_due(now=now + timedelta(minutes=1)).sent == 3
    assert notify.send_due(now=now + timedelta(hours=3)).claimed == 0
    assert sorted(str(m["To"]) for m in smtp.messages) == [
        "reader0@example.com", "reader1@example.com", "reader2@example.com"]


def test_a_451_is_retried_with_backoff_and_then_delivered(readers: Any, make_incident: Any,
                                                          smtp: Any) -> None:
    now = utcnow()
    make_incident()
    notify.expand_notices(now=now)
    smtp.refuse("451 4.3.0 Try again later", address="reader1@example.com")

    first = notify.send_due(now=now)

    assert (first.sent, first.retrying) == (2, 1)
    waiting = [d for d in incident_deliveries() if d.status is DeliveryStatus.QUEUED]
    assert [d.to_address for d in waiting] == ["reader1@example.com"]
    assert waiting[0].last_error.startswith("451")
    assert waiting[0].next_attempt_at == now + notify.backoff(1) == now + timedelta(seconds=30)
    assert notify.send_due(now=now + timedelta(seconds=29)).claimed == 0
    assert notify.send_due(now=now + timedelta(seconds=30)).sent == 1
    assert len(smtp.to("reader1@example.com")) == 1
    assert len(smtp.messages) == 3


def test_a_550_fails_after_the_retry_limit_and_quarantines_the_address(
        app: Any, readers: Any, make_incident: Any, smtp: Any) -> None:
    app.config["MAIL_RETRY_LIMIT"] = 2
    now = utcnow()
    make_incident()
    notify.expand_notices(now=now)
    smtp.refuse("550 5.1.1 No such user", address="reader2@example.com", times=5)

    notify.send_due(now=now)
    [retrying] = [d for d in incident_deliveries() if d.status is DeliveryStatus.QUEUED]
    assert retrying.attempts == 1
    notify.send_due(now=now + timedelta(minutes=1))

    [failed] = notify.failed_deliveries()
    assert failed.to_address == "reader2@example.com" and failed.attempts == 2
    assert failed.last_error.startswith("550 5.1.1")
    counts = notify.delivery_counts([failed_update_id(failed)])
    assert counts[failed_update_id(failed)] == notify.DeliveryCounts(sent=2, failed=1)
    assert notify.queue_status().failed == 1
    subscriber = subs.find_subscriber("reader2@example.com")
    assert subscriber.quarantined and "550" in subscriber.last_failure
    assert subscriber_lists.subscriber_counts().quarantined == 1
    assert audience.count_reach([]) == 2
    assert len(smtp.to("reader2@example.com")) == 0


def failed_update_id(delivery: Delivery) -> int:
    return _db.session.get(Notice, delivery.notice_id).update_id


def test_ops_can_retry_failed_deliveries_once_the_quarantine_is_cleared(
        app: Any, readers: Any, make_incident: Any, smtp: Any) -> None:
    app.config["MAIL_RETRY_LIMIT"] = 1
    now = utcnow()
    incident = make_incident()
    notify.expand_notices(now=now)
    smtp.refuse("550 Mailbox unavailable", address="reader0@example.com")
    notify.send_due(now=now)
    subscriber = subs.find_subscriber("reader0@example.com")
    assert subscriber.quarantined

    subs.clear_quarantine(subscriber, actor="ops@example.com")
    # One clock for the retry and the send (the real one may be seconds ahead of ``now``).
    assert notify.retry_failed(update_id=incident.updates[0].id, actor="ops@example.com",
                               now=now) == 1
    assert notify.send_due(now=now + timedelta(seconds=1)).sent == 1
    assert len(smtp.to("reader0@example.com")) == 1
    assert notify.failed_deliveries() == []


def test_a_lease_that_runs_out_lets_another_worker_retake_the_delivery(
        readers: Any, make_incident: Any, smtp: Any) -> None:
    now = utcnow()
    make_incident()
    notify.expand_notices(now=now)
    assert len(claims.claim(now, 10, "worker-that-dies").items) == 3
    assert claims.claim(now, 10, "another-worker") is None

    assert notify.send_due(now=now + notify.lease() - timedelta(seconds=1),
                           worker_id="another-worker").claimed == 0
    report = notify.send_due(now=now + notify.lease() + timedelta(seconds=1),
                             worker_id="another-worker")

    assert report.sent == 3 and len(smtp.messages) == 3


def test_a_worker_killed_mid_batch_duplicates_at_most_the_message_in_flight(
        readers: Any, make_incident: Any, smtp: Any) -> None:
    now = utcnow()
    make_incident()
    notify.expand_notices(now=now)
    claimed = claims.claim(now, 10, "worker-that-dies")
    # It sends the first message, then dies before recording it.
    in_flight = _db.session.get(Delivery, claimed.items[0].id)
    smtp_channel.send_now("status@localhost", in_flight.to_address,
                          emails.render_delivery(in_flight)[0])

    notify.send_due(now=now + notify.lease() + timedelta(seconds=1), worker_id="restarted")

    addresses = sorted(str(m["To"]) for m in smtp.messages)
    assert sorted(set(addresses)) == [d.to_address for d in incident_deliveries()]
    assert len(addresses) == 4 and addresses.count(in_flight.to_address) == 2
    # The resend carries the same Message-ID, so a mail client can drop the copy.
    assert len({m["Message-ID"] for m in smtp.messages}) == 3


def test_a_delivery_whose_incident_was_deleted_fails_visibly(readers: Any, make_incident: Any,
                                                             smtp: Any) -> None:
    incident = make_incident()
    notify.expand_notices()
    incidents.delete_incident(incident)

    report = notify.send_due()

    assert (report.sent, report.failed) == (0, 3)
    assert {d.last_error for d in notify.failed_deliveries()} == {
        "The incident was deleted before this email was sent."}
    assert smtp.messages == []
    # A deletion is not the address's fault.
    assert subscriber_lists.subscriber_counts().quarantined == 0


def test_a_notice_for_a_deleted_incident_expands_to_nothing(readers: Any, make_incident: Any
                                                            ) -> None:
    incidents.delete_incident(make_incident())
    assert notify.expand_notices() == 0
    assert _db.session.scalar(sa.select(Notice.expanded_at)) is not None


def test_a_batch_locked_by_one_worker_is_skipped_by_another_on_postgresql(
        readers: Any, make_incident: Any) -> None:
    if _db.engine.dialect.name != "postgresql":
        pytest.skip("row locks with SKIP LOCKED are a PostgreSQL feature")
    now = utcnow()
    make_incident()
    notify.expand_notices(now=now)
    with _db.engine.connect() as other_worker, other_worker.begin():
        locked = other_worker.execute(
            sa.select(Delivery.id).where(Delivery.kind == DeliveryKind.INCIDENT_UPDATE)
            .order_by(Delivery.id).limit(2).with_for_update()).scalars().all()

        claimed = [item.id for item in claims.claim(now, 10, "this-worker").items]

    assert len(locked) == 2 and len(claimed) == 1
    assert set(claimed).isdisjoint(locked)
