"""Fan-out: one notice becomes one delivery per matching subscriber, a chunk at a time.

A notice is expanded through the subscribers in id order, one chunk per transaction, with the
highest subscriber id done kept on the notice (``expanded_through``). Sending starts on the
first chunk while the rest expands, and a worker that dies mid-way leaves the cursor where its
last chunk committed. ``INSERT ... SELECT ... ON CONFLICT DO NOTHING`` on the unique subscriber
and notice pair makes a chunk done twice harmless, without the NOT EXISTS check that made
expansion quadratic on PostgreSQL.
"""

from __future__ import annotations

import logging
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from ..audience import announcement_of, reach_condition
from ..dbtypes import UTCDateTime, utcnow
from ..extensions import db
from ..incidents import IncidentUpdate
from ..outbox import Delivery, DeliveryKind, DeliveryStatus, Notice
from ..subscriptions import Subscriber
from ..validation import ADDRESS_MAX
from ..vocabulary import DONE_STATUSES

log = logging.getLogger(__name__)

# Subscribers looked at per transaction: ~50 ms of work, so the first emails leave at once.
CHUNK = 5000
_COLUMNS = ["kind", "channel", "notice_id", "subscriber_id", "to_address", "status",
            "attempts", "created_at", "next_attempt_at"]


def _insert(rows: sa.Select) -> sa.Insert:
    dialect = postgresql if db.engine.dialect.name == "postgresql" else sqlite
    return (dialect.insert(Delivery).from_select(_COLUMNS, rows)
            .on_conflict_do_nothing(index_elements=["subscriber_id", "notice_id"])
            .returning(Delivery.id))


def _expand_chunk(notice: Notice, now: datetime, chunk: int) -> int:
    """Add the deliveries of the next ``chunk`` subscribers (by id) to the transaction."""
    announcement = announcement_of(notice)
    if announcement is None:
        log.warning("notice %s: what it announces was deleted before it went out", notice.id)
        notice.expanded_at = now
        return 0
    start = notice.expanded_through or 0
    # The chunk's last subscriber id, read from the primary key alone; None: the rest.
    end = db.session.scalar(sa.select(Subscriber.id).where(Subscriber.id > start)
                            .order_by(Subscriber.id).offset(chunk - 1).limit(1))
    window = Subscriber.id > start if end is None else Subscriber.id.between(start + 1, end)
    # Where each message goes, as ops read it; the sender reads the endpoint itself.
    target = sa.func.substr(sa.func.coalesce(Subscriber.endpoint, Subscriber.email, ""), 1,
                            ADDRESS_MAX)
    rows = sa.select(
        sa.literal(DeliveryKind(notice.kind.value).value), Subscriber.channel,
        sa.literal(notice.id), Subscriber.id, target, sa.literal(DeliveryStatus.QUEUED.value),
        sa.literal(0), sa.literal(now, UTCDateTime), sa.literal(now, UTCDateTime),
    ).where(window, reach_condition(announcement))
    # RETURNING counts only the rows inserted, where rowcount is unreliable across drivers.
    created = len(db.session.execute(_insert(rows)).all())
    if end is None:
        notice.expanded_at = now
        _end_followers(notice, now)
    else:
        notice.expanded_through = end
    return created


def _end_followers(notice: Notice, now: datetime) -> None:
    """Once an incident's resolution is announced, its followers have heard the end of it."""
    update = db.session.get(IncidentUpdate, notice.update_id) if notice.update_id else None
    if update is not None and update.status in DONE_STATUSES:
        db.session.execute(sa.update(Subscriber).where(
            Subscriber.incident_id == notice.incident_id, Subscriber.ended_at.is_(None))
            .values(ended_at=now))


def expand_step(*, now: datetime | None = None, chunk: int = CHUNK) -> int | None:
    """Expand one chunk of the oldest notice not yet expanded, in one transaction; returns the
    deliveries created, or None when no notice waits.

    The notice's row lock makes other workers on PostgreSQL skip to the next notice.
    """
    now = now or utcnow()
    notice = db.session.scalars(
        sa.select(Notice).where(Notice.expanded_at.is_(None)).order_by(Notice.id)
        .limit(1).with_for_update(skip_locked=True)).first()
    if notice is None:
        db.session.commit()
        return None
    created = _expand_chunk(notice, now, chunk)
    db.session.commit()
    return created


def expand_notices(*, now: datetime | None = None, chunk: int = CHUNK) -> int:
    """Expand every waiting notice to the end, chunk after chunk; returns the deliveries
    created."""
    total = 0
    while (created := expand_step(now=now, chunk=chunk)) is not None:
        total += created
    return total
