"""The queue's tables: what to announce (Notice) and one message to one recipient (Delivery).

Any operation can enqueue in its own transaction, so a notice commits together with the update
it announces, or not at all. The scheduler expands notices into deliveries and sends those;
this module knows only the tables, not who subscribes or how an email looks.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from .dbtypes import UTCDateTime, enum_column, utcnow
from .extensions import db
from .validation import ADDRESS_MAX


class NoticeKind(enum.StrEnum):
    INCIDENT_UPDATE = "incident_update"
    MAINTENANCE_REMINDER = "maintenance_reminder"
    COMPONENT_UPDATE = "component_update"  # a status set outside any incident
    POSTMORTEM = "postmortem"  # published, with subscribers to be told


class DeliveryKind(enum.StrEnum):
    CONFIRM = "confirm"
    MANAGE = "manage"
    INCIDENT_UPDATE = "incident_update"
    MAINTENANCE_REMINDER = "maintenance_reminder"
    COMPONENT_UPDATE = "component_update"
    POSTMORTEM = "postmortem"
    ENDPOINT_DISABLED = "endpoint_disabled"  # to a webhook's contact, after repeated failures


class Channel(enum.StrEnum):
    """How a subscriber hears: the way its deliveries leave."""

    EMAIL = "email"
    WEBHOOK = "webhook"
    SLACK = "slack"
    TEAMS = "teams"


class DeliveryStatus(enum.StrEnum):
    QUEUED = "queued"  # waiting for its first attempt or for a retry
    SENT = "sent"
    FAILED = "failed"  # gave up; ops can see it and retry it
    CANCELLED = "cancelled"  # the subscriber left before it went out


class Notice(db.Model):
    """Something to announce to the matching subscribers: an incident update or a reminder."""

    __tablename__ = "notice"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[NoticeKind] = mapped_column(enum_column(NoticeKind, "kind"))
    # Kept when the incident is deleted, so that its deliveries can say why they failed.
    incident_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("incident.id", ondelete="SET NULL"), index=True)
    update_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("incident_update.id", ondelete="SET NULL"), index=True)
    # A component_update notice: the status change it announces.
    status_change_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("component_status_change.id", ondelete="SET NULL"))
    # Makes a notice that must exist once (a reminder for one window) idempotent.
    key: Mapped[str | None] = mapped_column(sa.String(100), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Fan-out goes through the subscribers in id order, a chunk per transaction: the highest
    # subscriber id done so far, so a crashed worker's successor resumes where it stopped.
    expanded_through: Mapped[int | None] = mapped_column()
    expanded_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)


class Delivery(db.Model):
    """One email to one address, with its sending state."""

    __tablename__ = "delivery"
    __table_args__ = (
        # Expanding a notice twice can never email a subscriber twice.
        sa.UniqueConstraint("subscriber_id", "notice_id",
                            name="uq_delivery_subscriber_id_notice_id"),
        # Each channel's senders claim its due deliveries in this order, one batch at a time.
        sa.Index("ix_delivery_channel_status_next_attempt_at_id", "channel", "status",
                 "next_attempt_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[DeliveryKind] = mapped_column(enum_column(DeliveryKind, "kind"))
    channel: Mapped[Channel] = mapped_column(enum_column(Channel, "channel"),
                                             default=Channel.EMAIL)
    notice_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("notice.id", ondelete="SET NULL"), index=True)
    # Indexed as the first column of the unique pair above.
    subscriber_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("subscriber.id", ondelete="SET NULL"))
    to_address: Mapped[str] = mapped_column(sa.String(ADDRESS_MAX))
    status: Mapped[DeliveryStatus] = mapped_column(enum_column(DeliveryStatus, "status"),
                                                   default=DeliveryStatus.QUEUED)
    attempts: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The lease: a worker owns the delivery until then; a dead worker's claim runs out.
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claimed_by: Mapped[str | None] = mapped_column(sa.String(255))
    # The fence: random per claim. Marking, retrying or renewing checks it, so a worker whose
    # lease ran out can no longer change a delivery that another worker has taken since.
    claim_token: Mapped[str | None] = mapped_column(sa.String(32))
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    message_id: Mapped[str | None] = mapped_column(sa.String(255))
    # What the receiver of an HTTP delivery last answered ("HTTP 200 in 35 ms"), for ops.
    last_response: Mapped[str | None] = mapped_column(sa.String(500))


def add_notice(
    kind: NoticeKind, *, incident_id: int | None, update_id: int | None = None,
    key: str | None = None, status_change_id: int | None = None, now: datetime | None = None,
) -> Notice:
    """Add a notice to the current transaction (the caller commits)."""
    notice = Notice(kind=kind, incident_id=incident_id, update_id=update_id, key=key,
                    status_change_id=status_change_id, created_at=now or utcnow())
    db.session.add(notice)
    return notice


def add_delivery(
    kind: DeliveryKind, to_address: str, *, subscriber_id: int | None = None,
    notice_id: int | None = None, channel: Channel = Channel.EMAIL, now: datetime | None = None,
) -> Delivery:
    """Add one message to the queue in the current transaction (the caller commits)."""
    now = now or utcnow()
    delivery = Delivery(kind=kind, channel=channel, to_address=to_address[:ADDRESS_MAX],
                        subscriber_id=subscriber_id,
                        notice_id=notice_id, status=DeliveryStatus.QUEUED, attempts=0,
                        created_at=now, next_attempt_at=now)
    db.session.add(delivery)
    return delivery


def add_deliveries(kind: DeliveryKind, recipients: Iterable[tuple[str, int | None]], *,
                   now: datetime | None = None) -> None:
    """Add one email per (address, subscriber id) to the current transaction in bulk
    statements (the caller commits): for thousands at once, as an import brings."""
    now = now or utcnow()
    rows = [{"kind": kind, "to_address": address, "subscriber_id": subscriber_id,
             "status": DeliveryStatus.QUEUED, "attempts": 0, "created_at": now,
             "next_attempt_at": now} for address, subscriber_id in recipients]
    if rows:
        db.session.execute(sa.insert(Delivery), rows)
