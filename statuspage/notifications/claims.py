"""Claims: a worker's fenced lease on a batch of due deliveries, and settling it in one go.

A claim is one statement: the due deliveries are leased to this worker under a random claim
token (``FOR UPDATE SKIP LOCKED`` on PostgreSQL keeps concurrent claims apart; on SQLite the
statement runs under the database's single write lock). Every later change, renewing the
lease, marking sent, scheduling a retry, releasing, is ``WHERE claim_token = :mine``: a
worker whose lease ran out and was taken over changes nothing. The whole batch is settled
with one statement per outcome and one commit.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app

from ..dbtypes import UTCDateTime
from ..emails import Addressed
from ..extensions import db
from ..languages import DEFAULT_LANGUAGE
from ..outbox import Channel, Delivery, DeliveryStatus
from ..subscriptions import Subscriber

# Core statements on the tables: no ORM objects of these rows are loaded, and the ORM's
# bookkeeping would cost more than the statements themselves.
_DELIVERY, _SUBSCRIBER = Delivery.__table__, Subscriber.__table__
_D, _S = _DELIVERY.c, _SUBSCRIBER.c
BACKOFF_MAX = timedelta(hours=1)
# Temporary failures (4xx, no connection) retry this long; older news is not worth sending.
GIVE_UP_AFTER = timedelta(days=2)
EMAIL = (Channel.EMAIL,)
HTTP = (Channel.WEBHOOK, Channel.SLACK, Channel.TEAMS)  # each sent as one HTTP POST


def lease() -> timedelta:
    """How long a claim lasts unless renewed (MAIL_LEASE_SECONDS)."""
    return timedelta(seconds=max(current_app.config["MAIL_LEASE_SECONDS"], 1))


def backoff(attempts: int) -> timedelta:
    """The wait before the next try after ``attempts`` temporary failures."""
    first = timedelta(seconds=current_app.config["MAIL_RETRY_BACKOFF_SECONDS"])
    return min(first * 2 ** max(attempts - 1, 0), BACKOFF_MAX)


@dataclass(frozen=True, slots=True)
class ClaimedDelivery(Addressed):
    """One claimed delivery as plain values: what rendering, sending and settling need."""

    attempts: int
    created_at: datetime
    channel: Channel = Channel.EMAIL
    endpoint: str | None = None  # where an HTTP channel's message goes
    secret: str | None = None  # a webhook's signing secret


@dataclass
class Claim:
    """A batch leased to one worker under one token, with the lease as this process sees it."""

    token: str
    worker_id: str
    items: list[ClaimedDelivery]
    lease_seconds: float
    # Where the next claim of this sender starts: (next_attempt_at, id) of the last item.
    last_key: tuple[datetime, int] | None = None
    # Local clock (monotonic): when the lease ends for us, judged before we asked for it.
    expires: float = 0.0
    renewed: float = 0.0
    ids: set[int] = field(default_factory=set)

    def left(self) -> float:
        """Seconds of lease left, as far as this process can be sure."""
        return self.expires - time.monotonic()

    def due_for_renewal(self) -> bool:
        """True once a third of the lease has passed since it was taken or renewed."""
        return time.monotonic() - self.renewed >= self.lease_seconds / 3


def _unclaimed(now: datetime) -> sa.ColumnElement[bool]:
    return sa.or_(_D.claimed_until.is_(None), _D.claimed_until < now)


def due_condition(now: datetime, channels: tuple[Channel, ...] = EMAIL
                  ) -> sa.ColumnElement[bool]:
    """Queued on one of these channels, due, and not leased to anyone."""
    on = (_D.channel == channels[0] if len(channels) == 1
          else _D.channel.in_([c.value for c in channels]))
    return sa.and_(on, _D.status == DeliveryStatus.QUEUED, _D.next_attempt_at <= now,
                   _unclaimed(now))


def has_due(now: datetime, channels: tuple[Channel, ...] = EMAIL) -> bool:
    """Whether any delivery of these channels waits to be claimed (one index probe)."""
    found = db.session.scalar(sa.select(_D.id).where(due_condition(now, channels)).limit(1))
    db.session.commit()
    return found is not None


def claim(now: datetime, limit: int, worker_id: str, *,
          after: tuple[datetime, int] | None = None,
          channels: tuple[Channel, ...] = EMAIL) -> Claim | None:
    """Lease up to ``limit`` due deliveries to this worker, oldest first, in one statement
    (and one query for their subscribers' link versions); None when nothing is due.

    ``after`` (the previous claim's ``last_key``) starts the search past the deliveries this
    sender has just settled: on PostgreSQL their old index entries stay until vacuum, and a
    search from the start would walk them all again, batch after batch. Callers start from
    the beginning again when nothing is found after it.
    """
    token = secrets.token_hex(16)
    span = lease()
    asked = time.monotonic()
    due = sa.select(_D.id).where(due_condition(now, channels))
    if after is not None:
        due = due.where(sa.tuple_(_D.next_attempt_at, _D.id)
                        > sa.tuple_(sa.literal(after[0], UTCDateTime), sa.literal(after[1])))
    due = (due.order_by(_D.next_attempt_at, _D.id).limit(limit)
           .with_for_update(skip_locked=True))
    won = db.session.execute(
        sa.update(_DELIVERY).where(_D.id.in_(due.scalar_subquery()), _unclaimed(now))
        .values(claimed_by=worker_id, claimed_until=now + span, claim_token=token)
        .returning(_D.id)).all()
    if not won:
        db.session.commit()
        return None
    rows = db.session.execute(
        sa.select(_D.id, _D.kind, _D.notice_id, _D.subscriber_id,
                  _S.token_version, _S.public_id, _S.quarantined_at.is_not(None),
                  _D.to_address, _D.attempts, _D.created_at,
                  sa.func.coalesce(_S.language, DEFAULT_LANGUAGE).label("language"),
                  _D.channel, _S.endpoint, _S.secret, _D.next_attempt_at)
        .select_from(_DELIVERY.outerjoin(_SUBSCRIBER, _S.id == _D.subscriber_id))
        .where(_D.id.in_([row.id for row in won]))  # by primary key, not by token
        .order_by(_D.next_attempt_at, _D.id)).all()
    db.session.commit()
    items = [ClaimedDelivery(*row[:8], language=row.language, attempts=row.attempts,
                             created_at=row.created_at, channel=row.channel,
                             endpoint=row.endpoint, secret=row.secret) for row in rows]
    return Claim(token, worker_id, items, span.total_seconds(),
                 (rows[-1].next_attempt_at, rows[-1].id), asked + span.total_seconds(), asked,
                 {item.id for item in items})


def renew(claim: Claim, pending: list[int], now: datetime) -> bool:
    """Extend the lease of the deliveries still to send; False when any was taken or
    cancelled meanwhile (the batch should stop)."""
    asked = time.monotonic()
    span = lease()
    kept = db.session.scalars(
        sa.update(_DELIVERY)
        .where(_mine(claim), _D.id.in_(pending))
        .values(claimed_until=now + span).returning(_D.id)).all()
    db.session.commit()
    claim.expires, claim.renewed = asked + span.total_seconds(), asked
    return len(kept) == len(pending)


@dataclass(frozen=True, slots=True)
class Failure:
    """One delivery that did not go: the reply or reason, and how to treat it."""

    item: ClaimedDelivery
    error: str
    permanent: bool
    final: bool = False  # no retry can help (the incident or subscriber is gone)


@dataclass
class Outcome:
    """How a batch ended: counts for the report."""

    sent: int = 0
    retrying: int = 0
    failed: int = 0
    released: int = 0


def _mine(claim: Claim) -> sa.ColumnElement[bool]:
    # Every change of status clears the token (a cancellation too), so holding the token
    # means the delivery is still queued; no status test, which could lead PostgreSQL's
    # planner to the status index instead of the primary key.
    return _D.claim_token == claim.token


_LET_GO = {"claimed_until": None, "claimed_by": None, "claim_token": None}


def settle(claim: Claim, *, sent: list[int], failures: list[Failure], release: list[int],
           now: datetime, message_ids: tuple[str, str], retry_limit: int,
           also: Callable[[], None] | None = None) -> Outcome:
    """Record a batch's outcome in one transaction: sent, retry or failed, or released
    untried; ``message_ids`` is the (prefix, suffix) around a delivery id; ``also`` adds
    what else belongs to the same transaction."""
    outcome = Outcome()
    if sent:
        prefix, suffix = message_ids
        message_id = sa.literal(prefix) + sa.cast(_D.id, sa.String) + sa.literal(suffix)
        outcome.sent = len(db.session.execute(
            sa.update(_DELIVERY).where(_mine(claim), _D.id.in_(sent))
            .values(status=DeliveryStatus.SENT, sent_at=now, attempts=_D.attempts + 1,
                    last_error=None, message_id=message_id, **_LET_GO)
            .returning(_D.id)).all())
    if failures:
        _record_failures(claim, failures, now, retry_limit, outcome)
    if release:
        outcome.released = len(db.session.execute(
            sa.update(_DELIVERY).where(_mine(claim), _D.id.in_(release))
            .values(**_LET_GO).returning(_D.id)).all())
    if also is not None:
        also()
    db.session.commit()
    return outcome


def _record_failures(claim: Claim, failures: list[Failure], now: datetime, retry_limit: int,
                     outcome: Outcome) -> None:
    retry, give_up, quarantine = [], [], []
    for failure in failures:
        item, attempts = failure.item, failure.item.attempts + 1
        error = failure.error[:2000]
        if failure.final or (attempts >= retry_limit if failure.permanent
                             else now - item.created_at >= GIVE_UP_AFTER):
            give_up.append({"key": item.id, "tries": attempts, "error": error})
            if failure.permanent and not failure.final and item.subscriber_id is not None:
                quarantine.append({"key": item.subscriber_id, "error": error})
        else:
            retry.append({"key": item.id, "tries": attempts, "error": error,
                          "at": now + backoff(attempts)})
    # executemany: one parameter set per delivery.
    fenced = sa.update(_DELIVERY).where(_mine(claim), _D.id == sa.bindparam("key"))
    if retry:
        db.session.execute(fenced.values(
            attempts=sa.bindparam("tries"), last_error=sa.bindparam("error"),
            next_attempt_at=sa.bindparam("at"), **_LET_GO), retry)
        outcome.retrying += len(retry)
    if give_up:
        db.session.execute(fenced.values(
            status=DeliveryStatus.FAILED, attempts=sa.bindparam("tries"),
            last_error=sa.bindparam("error"), **_LET_GO), give_up)
        outcome.failed += len(give_up)
    if quarantine:
        # The address kept refusing mail: stop sending to it until ops clear it.
        db.session.execute(
            sa.update(_SUBSCRIBER).where(_S.id == sa.bindparam("key"))
            .values(quarantined_at=now, last_failure=sa.bindparam("error"),
                    last_failure_at=now), quarantine)
