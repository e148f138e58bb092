"""Posting: claimed webhook, Slack and Teams deliveries out as HTTP requests.

The same queue, claims, leases, retries and back-off as email: a poster claims a batch of due
HTTP deliveries under a fenced lease, renders each notice once per channel, POSTs each
request with one deadline (``WEBHOOK_TIMEOUT_SECONDS``), and settles the batch in one
transaction. Any answer but a 2xx, or none in time, is a failure retried with back-off; a
refused address (SSRF) fails at once. Each endpoint's answers are kept for ops, and an
endpoint that fails ``WEBHOOK_DISABLE_AFTER_FAILURES`` times in a row is disabled and its
contact emailed.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask import current_app

from ..channels import Refused, chat, webhook
from ..channels import http as posts
from ..dbtypes import utcnow
from ..emails import Undeliverable
from ..extensions import db
from ..outbox import Channel, Delivery, DeliveryKind, add_delivery
from ..site import get_page_settings
from ..subscriptions import Subscriber
from . import claims
from .claims import Claim, Failure
from .sending import PAUSE_SECONDS, POLL_SECONDS, SendReport, default_worker_id, reset_session

log = logging.getLogger(__name__)
_DELIVERY = Delivery.__table__


def renderers() -> dict[Channel, Any]:
    """One renderer per HTTP channel (each keeps what it rendered for a while)."""
    return {Channel.WEBHOOK: webhook.Renderer(), Channel.SLACK: chat.SlackRenderer(),
            Channel.TEAMS: chat.TeamsRenderer()}


@dataclass
class _Posted:
    """What became of one batch, before it is recorded."""

    sent: list[int] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    release: list[int] = field(default_factory=list)
    answers: dict[int, str] = field(default_factory=dict)  # delivery id -> what it answered
    worked: set[int] = field(default_factory=set)  # subscriber ids that answered 2xx
    failed: Counter[int] = field(default_factory=Counter)  # subscriber id -> failures
    errors: dict[int, str] = field(default_factory=dict)  # subscriber id -> last failure


def _post_one(item: claims.ClaimedDelivery, request: webhook.Request, done: _Posted) -> None:
    config = current_app.config
    try:
        answer = posts.post(request.url, request.body, request.headers,
                            timeout=float(config["WEBHOOK_TIMEOUT_SECONDS"]),
                            allow_private=config["WEBHOOK_ALLOW_PRIVATE_ADDRESSES"])
    except Refused as exc:
        final = isinstance(exc, posts.Blocked)
        done.failures.append(Failure(item, exc.reply, permanent=final, final=final))
        done.answers[item.id] = exc.reply[:500]
        if item.subscriber_id is not None:
            done.failed[item.subscriber_id] += 1
            done.errors[item.subscriber_id] = exc.reply
    else:
        done.sent.append(item.id)
        done.answers[item.id] = answer.describe()
        if item.subscriber_id is not None:
            done.worked.add(item.subscriber_id)


def _post_items(claim: Claim, kinds: dict[Channel, Any], now: datetime | None,
                stop: threading.Event | None, progress: Callable[[str | None], None]
                ) -> _Posted:
    timeout = float(current_app.config["WEBHOOK_TIMEOUT_SECONDS"])
    done = _Posted()
    index = 0
    while index < len(claim.items) and not (stop is not None and stop.is_set()):
        if claim.due_for_renewal() or claim.left() < timeout:
            pending = [item.id for item in claim.items[index:]]
            if not claims.renew(claim, pending, now or utcnow()) or claim.left() < timeout:
                log.warning("claim %s… was taken over; stopping its batch", claim.token[:8])
                break
        item = claim.items[index]
        index += 1
        try:
            request = kinds[item.channel].render(item, now)
        except Undeliverable as exc:
            done.failures.append(Failure(item, str(exc), permanent=True, final=True))
            continue
        except sa.exc.SQLAlchemyError:
            raise
        except Exception as exc:  # a rendering bug must not stall the queue
            log.exception("delivery %s could not be rendered", item.id)
            done.failures.append(Failure(item, f"Could not render the message: {exc}",
                                         permanent=True, final=True))
            continue
        _post_one(item, request, done)
        progress(None)  # answered or timed out: the loop moves, whatever the endpoint said
    done.release = [item.id for item in claim.items[index:]]
    return done


def _record_endpoints(done: _Posted, now: datetime) -> Callable[[], None]:
    """The endpoints' side of a batch, for the batch's transaction: the answers each gave,
    the failures in a row, and disabling those that reached the limit."""
    def record() -> None:
        """Write it (joins the settling transaction; never commits)."""
        if done.answers:
            db.session.execute(
                sa.update(_DELIVERY).where(_DELIVERY.c.id == sa.bindparam("key"))
                .values(last_response=sa.bindparam("answer")),
                [{"key": k, "answer": v} for k, v in done.answers.items()])
        fine = done.worked - set(done.failed)
        if fine:
            db.session.execute(sa.update(Subscriber).where(Subscriber.id.in_(fine))
                               .values(failures_in_a_row=0))
        if done.failed:
            db.session.execute(
                sa.update(Subscriber.__table__).where(Subscriber.id == sa.bindparam("key"))
                .values(failures_in_a_row=Subscriber.failures_in_a_row + sa.bindparam("n"),
                        last_failure=sa.bindparam("error"), last_failure_at=now),
                [{"key": k, "n": n, "error": done.errors[k][:2000]}
                 for k, n in done.failed.items()])
            disable_failing(list(done.failed), now)
    return record


def disable_failing(subscriber_ids: list[int], now: datetime) -> int:
    """Disable the endpoints among these that failed too often in a row and email their
    contacts, in the caller's transaction (never commits); returns how many."""
    limit = max(int(current_app.config["WEBHOOK_DISABLE_AFTER_FAILURES"]), 1)
    failing = db.session.execute(sa.select(Subscriber.id, Subscriber.email).where(
        Subscriber.id.in_(subscriber_ids), Subscriber.failures_in_a_row >= limit,
        Subscriber.quarantined_at.is_(None))).all()
    for subscriber_id, contact in failing:
        db.session.execute(sa.update(Subscriber).where(Subscriber.id == subscriber_id)
                           .values(quarantined_at=now))
        if contact:
            add_delivery(DeliveryKind.ENDPOINT_DISABLED, contact, subscriber_id=subscriber_id,
                         now=now)
        log.warning("subscriber %s: endpoint disabled after %s failures in a row",
                    subscriber_id, limit)
    return len(failing)


def _settle(claim: Claim, done: _Posted, report: SendReport, now: datetime | None) -> None:
    when = now or utcnow()
    outcome = claims.settle(
        claim, sent=done.sent, failures=done.failures, release=done.release, now=when,
        message_ids=(f"{get_page_settings().page_code}-", ""),
        retry_limit=max(current_app.config["MAIL_RETRY_LIMIT"], 1),
        also=_record_endpoints(done, when))
    report.sent += outcome.sent
    report.retrying += outcome.retrying
    report.failed += outcome.failed
    report.released += outcome.released


def post_all_due(*, now: datetime | None = None, worker_id: str | None = None,
                 stop: threading.Event | None = None,
                 progress: Callable[[str | None], None] = lambda error: None) -> SendReport:
    """Post batch after batch of due HTTP deliveries until none is due, calling
    ``progress(None)`` after each request (a batch of slow endpoints takes minutes)."""
    total = SendReport()
    kinds = renderers()
    worker_id = worker_id or default_worker_id()
    cursor: tuple[datetime, int] | None = None
    while not (stop is not None and stop.is_set()):
        claim = claims.claim(now or utcnow(), current_app.config["WEBHOOK_BATCH_SIZE"],
                             worker_id, after=cursor, channels=claims.HTTP)
        if claim is None and cursor is not None:
            cursor = None
            continue
        if claim is None:
            break
        cursor = claim.last_key
        total.claimed += len(claim.items)
        _settle(claim, _post_items(claim, kinds, now, stop, progress), total, now)
    return total


def run_poster(stop: threading.Event, *, worker_id: str,
               progress: Callable[[str | None], None]) -> None:
    """Post due HTTP deliveries until ``stop`` is set (one worker thread's body)."""
    while not stop.is_set():
        try:
            post_all_due(worker_id=worker_id, stop=stop, progress=progress)
            progress(None)
        except Exception as exc:  # the database went away: wait, then start over
            log.exception("posting failed; trying again in %s s", PAUSE_SECONDS)
            reset_session()
            progress(f"{type(exc).__name__}: {exc}"[:500])
            stop.wait(PAUSE_SECONDS)
            continue
        stop.wait(POLL_SECONDS)
