"""Subscribers as ops read them: searched, listed (every listing of addresses audited),
counted."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from .audit import add_audit_entry
from .extensions import db
from .subscriptions import Subscriber, get_subscriber


def search_subscribers(query: str = "", *, limit: int = 100, offset: int = 0
                       ) -> list[Subscriber]:
    """Page-wide subscribers whose address or endpoint contains ``query``, newest first."""
    stmt = (sa.select(Subscriber).where(Subscriber.incident_id.is_(None))
            .order_by(Subscriber.created_at.desc(), Subscriber.id.desc()))
    text = (query or "").strip().lower()
    if text:
        escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        stmt = stmt.where(sa.or_(Subscriber.email.like(f"%{escaped}%", escape="\\"),
                                 Subscriber.endpoint.like(f"%{escaped}%", escape="\\")))
    return list(db.session.scalars(stmt.limit(limit).offset(offset)))


def list_subscribers(query: str = "", *, limit: int = 100, offset: int = 0,
                     actor: str) -> list[Subscriber]:
    """One page of ``search_subscribers`` for ``actor`` to read; every such listing of
    addresses is audited."""
    found = search_subscribers(query, limit=limit, offset=offset)
    shown, where = min(len(found), limit), (f"search “{query.strip()}”, " if query.strip() else "")
    add_audit_entry(actor, "subscriber.list", "subscriber", None, f"{shown} address"
                    f"{'' if shown == 1 else 'es'} ({where}page {offset // max(limit, 1) + 1})")
    db.session.commit()
    return found


def show_subscriber(subscriber_id: Any, *, actor: str) -> Subscriber:
    """The subscriber with this id for ``actor`` to read (NotFound); the look is audited."""
    subscriber = get_subscriber(subscriber_id)
    add_audit_entry(actor, "subscriber.view", "subscriber", subscriber.id, subscriber.email)
    db.session.commit()
    return subscriber


@dataclass(frozen=True)
class SubscriberCounts:
    confirmed: int
    unconfirmed: int
    quarantined: int


def subscriber_counts() -> SubscriberCounts:
    """How many subscribers are confirmed, unconfirmed and quarantined (one query)."""
    confirmed, unconfirmed, quarantined = db.session.execute(sa.select(
        sa.func.count().filter(Subscriber.confirmed_at.is_not(None)),
        sa.func.count().filter(Subscriber.confirmed_at.is_(None)),
        sa.func.count().filter(Subscriber.quarantined_at.is_not(None)),
    ).select_from(Subscriber)).one()
    return SubscriberCounts(confirmed, unconfirmed, quarantined)
