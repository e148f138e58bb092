"""From notices to messages: fan-out, claiming, sending in batches, retries, and the queue as
ops see it.

The scheduler calls ``deliver`` every few seconds. It expands each new notice into one
delivery per matching subscriber (idempotently: a delivery is unique per subscriber and
notice), then claims due deliveries in batches and sends each batch over one SMTP connection.
A claim is a lease: a worker that dies mid-batch leaves its deliveries to be taken again once
the lease runs out. Every delivery ends up sent, queued for a retry, failed (visible to ops),
or cancelled because its subscriber left; none is dropped silently.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app
from flask_mail import BadHeaderError, Message

from . import emails
from .audit import add_audit_entry
from .channels import smtp
from .dbtypes import UTCDateTime, utcnow
from .extensions import db
from .incidents import Incident, IncidentUpdate
from .outbox import (
    Delivery,
    DeliveryKind,
    DeliveryStatus,
    Notice,
)
from .site import get_page_settings
from .subscriptions import Subscriber, normalise_email, reach_condition

log = logging.getLogger(__name__)

BACKOFF_FIRST = timedelta(seconds=30)
BACKOFF_MAX = timedelta(hours=1)
# Temporary failures (4xx, no connection) retry this long; older news is not worth sending.
GIVE_UP_AFTER = timedelta(days=2)


def default_worker_id() -> str:
    """This process, as it appears in claims and heartbeats."""
    return f"{socket.gethostname()}:{os.getpid()}"


# --- fan-out -----------------------------------------------------------------------------------

def _announced_components(notice: Notice) -> tuple[Incident | None, set[int]]:
    incident = db.session.get(Incident, notice.incident_id) if notice.incident_id else None
    if incident is None:
        return None, set()
    ids = {c.id for c in incident.components}
    if notice.update_id is not None:
        update = db.session.get(IncidentUpdate, notice.update_id)
        if update is not None:
            ids |= {a.component_id for a in update.affected if a.component_id is not None}
    return incident, ids


def _expand(notice: Notice, now: datetime) -> int:
    incident, component_ids = _announced_components(notice)
    created = 0
    if incident is None:
        log.warning("notice %s: its incident was deleted before it was announced", notice.id)
    else:
        already = sa.exists().where(Delivery.notice_id == notice.id,
                                    Delivery.subscriber_id == Subscriber.id)
        rows = sa.select(
            sa.literal(DeliveryKind(notice.kind.value).value), sa.literal(notice.id),
            Subscriber.id, Subscriber.email, sa.literal(DeliveryStatus.QUEUED.value),
            sa.literal(0), sa.literal(now, UTCDateTime), sa.literal(now, UTCDateTime),
        ).where(reach_condition(component_ids), ~already)
        # RETURNING counts reliably where a driver's rowcount for INSERT ... SELECT does not.
        created = len(db.session.execute(sa.insert(Delivery).from_select(
            ["kind", "notice_id", "subscriber_id", "to_address", "status", "attempts",
             "created_at", "next_attempt_at"], rows).returning(Delivery.id)).all())
    notice.expanded_at = now
    return created


def expand_notices(*, now: datetime | None = None, limit: int = 20) -> int:
    """Turn new notices into deliveries for the matching subscribers; returns how many.

    Each notice is expanded in its own transaction under a row lock (skipped by other
    workers on PostgreSQL), and the unique subscriber+notice pair makes a second run harmless.
    """
    now = now or utcnow()
    total = 0
    for _ in range(limit):
        notice = db.session.scalars(
            sa.select(Notice).where(Notice.expanded_at.is_(None)).order_by(Notice.id)
            .limit(1).with_for_update(skip_locked=True)
        ).first()
        if notice is None:
            break
        total += _expand(notice, now)
        db.session.commit()
    db.session.commit()
    return total


# --- sending -----------------------------------------------------------------------------------

@dataclass
class SendReport:
    claimed: int = 0
    sent: int = 0
    retrying: int = 0
    failed: int = 0


@dataclass(frozen=True)
class _Plain:
    """The fields of a claimed delivery that sending needs, safe from expiry on commit."""

    id: int
    attempts: int
    created_at: datetime
    subscriber_id: int | None
    to_address: str

    @classmethod
    def of(cls, delivery: Delivery) -> _Plain:
        return cls(delivery.id, delivery.attempts, delivery.created_at, delivery.subscriber_id,
                   delivery.to_address)


def lease() -> timedelta:
    """How long a worker owns the deliveries it claimed before another may take them
    (MAIL_LEASE_SECONDS; it must be far longer than sending one batch takes)."""
    return timedelta(seconds=max(current_app.config["MAIL_LEASE_SECONDS"], 1))


def _claim(now: datetime, limit: int, worker_id: str) -> list[int]:
    """Lease up to ``limit`` due deliveries to this worker; returns their ids."""
    unclaimed = sa.or_(Delivery.claimed_until.is_(None), Delivery.claimed_until < now)
    ids = list(db.session.scalars(
        sa.select(Delivery.id)
        .where(Delivery.status == DeliveryStatus.QUEUED, Delivery.next_attempt_at <= now,
               unclaimed)
        .order_by(Delivery.next_attempt_at, Delivery.id).limit(limit)
        .with_for_update(skip_locked=True)))
    if not ids:
        db.session.commit()
        return []
    until = now + lease()
    # Re-checked in the UPDATE, so that where row locks do not exist (SQLite) two workers
    # cannot both win a delivery.
    db.session.execute(
        sa.update(Delivery).where(Delivery.id.in_(ids), unclaimed)
        .values(claimed_by=worker_id, claimed_until=until))
    won = list(db.session.scalars(sa.select(Delivery.id).where(
        Delivery.id.in_(ids), Delivery.claimed_by == worker_id,
        Delivery.claimed_until == until).order_by(Delivery.next_attempt_at, Delivery.id)))
    db.session.commit()
    return won


def _backoff(attempts: int) -> timedelta:
    return min(BACKOFF_FIRST * 2 ** max(attempts - 1, 0), BACKOFF_MAX)


def _finish(delivery_id: int, **values: Any) -> None:
    db.session.execute(sa.update(Delivery).where(Delivery.id == delivery_id)
                       .values(claimed_until=None, claimed_by=None, **values))


def _mark_sent(delivery: _Plain, message: Message, now: datetime) -> None:
    _finish(delivery.id, status=DeliveryStatus.SENT, sent_at=now, message_id=message.msgId,
            attempts=delivery.attempts + 1, last_error=None)
    if delivery.subscriber_id is not None:
        db.session.execute(sa.update(Subscriber).where(Subscriber.id == delivery.subscriber_id)
                           .values(last_sent_at=now))
    db.session.commit()


def _mark_failure(delivery: Delivery | _Plain, error: str, now: datetime, *, permanent: bool,
                  report: SendReport, final: bool = False) -> None:
    """Record a failed attempt: retry later, or give up (and quarantine) when it is time."""
    attempts = delivery.attempts + 1
    limit = max(current_app.config["MAIL_RETRY_LIMIT"], 1)
    gave_up = final or (attempts >= limit if permanent
                        else now - delivery.created_at >= GIVE_UP_AFTER)
    error = error[:2000]
    if gave_up:
        _finish(delivery.id, status=DeliveryStatus.FAILED, attempts=attempts, last_error=error)
        report.failed += 1
        log.warning("delivery %s to %s failed: %s", delivery.id, delivery.to_address, error)
        if permanent and not final and delivery.subscriber_id is not None:
            # The address kept refusing mail: stop sending to it until ops clear it.
            db.session.execute(
                sa.update(Subscriber).where(Subscriber.id == delivery.subscriber_id)
                .values(quarantined_at=now, last_failure=error, last_failure_at=now))
    else:
        _finish(delivery.id, attempts=attempts, last_error=error,
                next_attempt_at=now + _backoff(attempts))
        report.retrying += 1
    db.session.commit()


def send_due(*, now: datetime | None = None, batch_size: int | None = None,
             worker_id: str | None = None) -> SendReport:
    """Claim one batch of due deliveries and send it over one SMTP connection."""
    now = now or utcnow()
    batch_size = batch_size or current_app.config["MAIL_BATCH_SIZE"]
    report = SendReport()
    ids = _claim(now, batch_size, worker_id or default_worker_id())
    report.claimed = len(ids)
    if not ids:
        return report
    deliveries = {d.id: d for d in db.session.scalars(
        sa.select(Delivery).where(Delivery.id.in_(ids)))}
    context = emails.RenderContext(get_page_settings())
    ready: list[tuple[Delivery, Message]] = []
    for delivery_id in ids:
        delivery = deliveries[delivery_id]
        try:
            ready.append((delivery, emails.render_delivery(delivery, context)))
        except emails.Undeliverable as exc:
            _mark_failure(delivery, str(exc), now, permanent=True, report=report, final=True)
        except Exception as exc:  # a template bug must not stall the queue
            log.exception("delivery %s could not be rendered", delivery_id)
            _mark_failure(delivery, f"Could not render the email: {exc}", now, permanent=True,
                          report=report, final=True)
    # Keep plain values: a commit expires ORM objects, and each outcome commits at once.
    pending = [(_Plain.of(d), m) for d, m in ready]
    db.session.commit()
    if not pending:
        return report
    done: set[int] = set()
    try:
        with smtp.session() as connection:
            for delivery, message in pending:
                try:
                    connection.send(message)
                except smtp.REFUSED as exc:
                    # A refusal of this message; the connection stays usable for the next.
                    permanent, error = smtp.classify(exc)
                    _mark_failure(delivery, error, now, permanent=permanent, report=report)
                except BadHeaderError:
                    _mark_failure(delivery, "The message had an unsafe header.", now,
                                  permanent=True, report=report, final=True)
                except (ValueError, TypeError) as exc:
                    # This message cannot be written out (e.g. an address the transport cannot
                    # encode): fail it visibly instead of stalling the rest of the batch.
                    _mark_failure(delivery, f"The message could not be sent: {exc}", now,
                                  permanent=True, report=report, final=True)
                else:
                    _mark_sent(delivery, message, now)
                    report.sent += 1
                done.add(delivery.id)
    except smtp.BROKEN as exc:
        # No connection, or it dropped: whatever was not settled waits for a retry.
        error = f"{type(exc).__name__}: {exc}"
        log.warning("SMTP connection to %s:%s failed: %s", current_app.config["MAIL_SERVER"],
                    current_app.config["MAIL_PORT"], error)
        for delivery, _message in pending:
            if delivery.id not in done:
                _mark_failure(delivery, error, now, permanent=False, report=report)
    return report


def deliver(*, now: datetime | None = None, max_batches: int = 20) -> SendReport:
    """Expand new notices, then send due deliveries batch after batch (the scheduler's job)."""
    expand_notices(now=now)
    total = SendReport()
    for _ in range(max_batches):
        report = send_due(now=now)
        for name in ("claimed", "sent", "retrying", "failed"):
            setattr(total, name, getattr(total, name) + getattr(report, name))
        # A short batch means the queue is drained; nothing sent means the server is not
        # taking mail just now, and the next run tries again.
        if report.claimed < current_app.config["MAIL_BATCH_SIZE"] or report.sent == 0:
            break
    return total


# --- for ops -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class DeliveryCounts:
    queued: int = 0
    sent: int = 0
    failed: int = 0
    cancelled: int = 0
    awaiting_expansion: bool = False  # the notice is not yet turned into deliveries

    @property
    def total(self) -> int:
        return self.queued + self.sent + self.failed + self.cancelled


def delivery_counts(update_ids: Iterable[int]) -> dict[int, DeliveryCounts]:
    """Per incident update, how many of its emails are queued, sent, failed, cancelled."""
    ids = list(update_ids)
    if not ids:
        return {}
    found: dict[int, dict[str, Any]] = {i: {} for i in ids}
    rows = db.session.execute(
        sa.select(Notice.update_id, Delivery.status, sa.func.count())
        .join(Delivery, Delivery.notice_id == Notice.id)
        .where(Notice.update_id.in_(ids)).group_by(Notice.update_id, Delivery.status))
    for update_id, status, count in rows:
        found[update_id][DeliveryStatus(status).value] = count
    waiting = db.session.scalars(sa.select(Notice.update_id).where(
        Notice.update_id.in_(ids), Notice.expanded_at.is_(None)))
    for update_id in waiting:
        found[update_id]["awaiting_expansion"] = True
    return {i: DeliveryCounts(**values) for i, values in found.items()}


def failed_deliveries(*, update_id: int | None = None, limit: int = 200) -> list[Delivery]:
    """Deliveries that gave up, newest first (optionally those of one incident update)."""
    stmt = sa.select(Delivery).where(Delivery.status == DeliveryStatus.FAILED)
    if update_id is not None:
        stmt = stmt.join(Notice, Notice.id == Delivery.notice_id).where(
            Notice.update_id == update_id)
    return list(db.session.scalars(stmt.order_by(Delivery.id.desc()).limit(limit)))


@dataclass(frozen=True)
class QueueStatus:
    queued: int
    failed: int
    oldest_queued_at: datetime | None


def queue_status() -> QueueStatus:
    """The backlog at a glance: what waits, what failed, and how long the oldest has waited."""
    queued, failed, oldest = db.session.execute(sa.select(
        sa.func.count().filter(Delivery.status == DeliveryStatus.QUEUED),
        sa.func.count().filter(Delivery.status == DeliveryStatus.FAILED),
        sa.type_coerce(sa.func.min(Delivery.created_at)
                       .filter(Delivery.status == DeliveryStatus.QUEUED), UTCDateTime),
    ).select_from(Delivery)).one()
    return QueueStatus(queued, failed, oldest)


def retry_failed(*, update_id: int | None = None, delivery_ids: Iterable[int] | None = None,
                 actor: str | None = None, now: datetime | None = None) -> int:
    """Queue failed deliveries again (all, one update's, or the given ones); returns how many.

    An address in quarantine fails again at once: clear the quarantine first.
    """
    now = now or utcnow()
    stmt = sa.update(Delivery).where(Delivery.status == DeliveryStatus.FAILED)
    if update_id is not None:
        stmt = stmt.where(Delivery.notice_id.in_(
            sa.select(Notice.id).where(Notice.update_id == update_id)))
    if delivery_ids is not None:
        stmt = stmt.where(Delivery.id.in_(list(delivery_ids)))
    # created_at restarts too: it bounds how long temporary failures are retried.
    result = db.session.execute(stmt.values(
        status=DeliveryStatus.QUEUED, attempts=0, created_at=now, next_attempt_at=now,
        claimed_until=None, claimed_by=None))
    count = max(result.rowcount or 0, 0)
    add_audit_entry(actor, "delivery.retry", "delivery", update_id,
                    f"{count} failed emails queued again")
    db.session.commit()
    return count


def send_test_email(address: str) -> str:
    """Send one email to ``address`` now through the relay, bypassing the queue; its Message-ID.

    Raises MailError with the relay's own words, so a wrong setting is easy to spot.
    """
    message = emails.test_message(normalise_email(address), smtp.relay())
    smtp.send_now(message)
    return str(message.msgId)
