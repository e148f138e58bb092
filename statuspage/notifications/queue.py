"""The mail queue as ops see it: counts per update, failures, the backlog, retrying, and a
test email that bypasses the queue."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from .. import emails
from ..audit import add_audit_entry
from ..channels import Broken, Refused, smtp
from ..dbtypes import UTCDateTime, utcnow
from ..extensions import db
from ..outbox import Delivery, DeliveryStatus, Notice
from ..subscriptions import normalise_email
from ..validation import DomainError


class MailError(DomainError):
    """The mail relay could not be reached, or refused the email."""

    status_code = 502


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
        claimed_until=None, claimed_by=None, claim_token=None))
    count = max(result.rowcount or 0, 0)
    add_audit_entry(actor, "delivery.retry", "delivery", update_id,
                    f"{count} failed emails queued again")
    db.session.commit()
    return count


def send_test_email(address: str) -> str:
    """Send one email to ``address`` now through the relay, bypassing the queue; its Message-ID.

    Raises MailError with the relay's own words, so a wrong setting is easy to spot.
    """
    recipient = normalise_email(address)
    payload, message_id = emails.test_message(recipient, smtp.relay())
    try:
        smtp.send_now(emails.envelope_sender(), recipient, payload)
    except Refused as exc:
        raise MailError(f"The relay {smtp.relay()} refused the email: {exc.reply}",
                        "address") from None
    except Broken as exc:
        raise MailError(f"Could not send through {smtp.relay()}: {exc}", "address") from None
    return message_id
