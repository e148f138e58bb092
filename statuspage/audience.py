"""How many subscribers there are, and how many an announcement would reach: what ops read
before they post (the rule of who is reached is ``subscriptions.reach_condition``)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from .dbtypes import parse_id
from .extensions import db
from .languages import LANGUAGES
from .subscriptions import Subscriber, reach_condition
from .validation import ValidationError


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



def count_reach(component_ids: Iterable[Any]) -> int:
    """How many subscribers an announcement about these components would reach."""
    ids = [parse_id(c) for c in component_ids]
    if None in ids:
        raise ValidationError("Unknown component.", "components")
    return db.session.scalar(
        sa.select(sa.func.count()).select_from(Subscriber).where(reach_condition(ids))) or 0


def reach_by_language(component_ids: Iterable[Any]) -> dict[str, int]:
    """How many subscribers an announcement about these components would reach, per language
    (every language the page speaks, in its order)."""
    ids = [parse_id(c) for c in component_ids]
    if None in ids:
        raise ValidationError("Unknown component.", "components")
    counts = dict(db.session.execute(
        sa.select(Subscriber.language, sa.func.count()).where(reach_condition(ids))
        .group_by(Subscriber.language)).all())
    return {code: counts.get(code, 0) for code in LANGUAGES}
