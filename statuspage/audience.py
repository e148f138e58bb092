"""Who an announcement reaches: one condition for every channel, so that email, webhooks,
Slack and Teams can never disagree about who hears what.

An announcement is about an incident, a maintenance or a component's status. A subscriber
hears it when confirmed, not quarantined or disabled, and not ended; and either follows that
one incident, or is a page-wide subscriber whose component choice covers it and whose
preferences want it (incidents from their impact threshold on, maintenance, or, for
webhooks, component status events).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from .components import ComponentStatusChange
from .dbtypes import parse_id
from .extensions import db
from .incidents import Incident, IncidentUpdate
from .languages import LANGUAGES
from .outbox import Channel, Notice, NoticeKind
from .preferences import IMPACT_THRESHOLDS
from .subscriptions import Subscriber, subscriber_component
from .validation import ValidationError
from .vocabulary import Impact


class Topic(enum.StrEnum):
    INCIDENT = "incident"
    MAINTENANCE = "maintenance"
    COMPONENT = "component"  # a status set outside any incident (webhooks only)


@dataclass(frozen=True)
class Announcement:
    """What is announced, as far as choosing its audience goes."""

    topic: Topic
    component_ids: frozenset[int] = frozenset()
    # The incident's impact; None counts every threshold in (before the impact is known).
    impact: Impact | None = Impact.NONE
    incident_id: int | None = None


def _thresholds_met(impact: Impact) -> list[str]:
    """The thresholds an incident of ``impact`` passes: none up to its own rank."""
    rank = IMPACT_THRESHOLDS.index(impact) if impact in IMPACT_THRESHOLDS else 0
    return [level.value for level in IMPACT_THRESHOLDS[:rank + 1]]


def _covers(component_ids: frozenset[int]) -> sa.ColumnElement[bool]:
    """The subscriber's component choice covers the announcement (none: the whole page)."""
    if not component_ids:
        return sa.true()
    chose_one = sa.exists().where(
        subscriber_component.c.subscriber_id == Subscriber.id,
        subscriber_component.c.component_id.in_(sorted(component_ids)))
    return sa.or_(Subscriber.all_components.is_(True), chose_one)


def reach_condition(announcement: Announcement) -> sa.ColumnElement[bool]:
    """The subscribers of every channel that hear ``announcement``."""
    active = sa.and_(Subscriber.confirmed_at.is_not(None), Subscriber.quarantined_at.is_(None),
                     Subscriber.ended_at.is_(None))
    page_wide = sa.and_(Subscriber.incident_id.is_(None), _covers(announcement.component_ids))
    if announcement.topic is Topic.COMPONENT:
        return sa.and_(active, page_wide, Subscriber.channel == Channel.WEBHOOK,
                       Subscriber.component_events.is_(True))
    if announcement.topic is Topic.MAINTENANCE:
        wanted = Subscriber.notify_maintenance.is_(True)
    else:
        wanted = Subscriber.notify_incidents.is_(True)
        if announcement.impact is not None:
            wanted = sa.and_(wanted, Subscriber.min_impact.in_(
                _thresholds_met(announcement.impact)))
    following = (Subscriber.incident_id == announcement.incident_id
                 if announcement.incident_id is not None else sa.false())
    return sa.and_(active, sa.or_(following, sa.and_(page_wide, wanted)))


def announcement_of(notice: Notice) -> Announcement | None:
    """What a notice announces; None when its incident or status change is gone."""
    if notice.kind is NoticeKind.COMPONENT_UPDATE:
        change = (db.session.get(ComponentStatusChange, notice.status_change_id)
                  if notice.status_change_id is not None else None)
        if change is None:
            return None
        return Announcement(Topic.COMPONENT, frozenset({change.component_id}))
    incident = db.session.get(Incident, notice.incident_id) if notice.incident_id else None
    if incident is None:
        return None
    ids = {c.id for c in incident.components}
    if notice.update_id is not None:
        update = db.session.get(IncidentUpdate, notice.update_id)
        if update is not None:
            ids |= {a.component_id for a in update.affected if a.component_id is not None}
    topic = Topic.MAINTENANCE if incident.is_maintenance else Topic.INCIDENT
    return Announcement(topic, frozenset(ids), incident.impact or Impact.NONE, incident.id)


def _announcement(component_ids: Iterable[Any], topic: Topic, impact: Impact | None,
                  incident_id: int | None) -> Announcement:
    ids = [parse_id(c) for c in component_ids]
    if None in ids:
        raise ValidationError("Unknown component.", "components")
    return Announcement(topic, frozenset(i for i in ids if i is not None), impact, incident_id)


def reach_by_channel(component_ids: Iterable[Any], *, topic: Topic = Topic.INCIDENT,
                     impact: Impact | None = None, incident_id: int | None = None
                     ) -> dict[Channel, int]:
    """How many subscribers of each channel an announcement would reach (one query)."""
    condition = reach_condition(_announcement(component_ids, topic, impact, incident_id))
    counts = dict(db.session.execute(
        sa.select(Subscriber.channel, sa.func.count()).where(condition)
        .group_by(Subscriber.channel)).all())
    return {channel: counts.get(channel, 0) for channel in Channel}


def count_reach(component_ids: Iterable[Any], *, topic: Topic = Topic.INCIDENT,
                impact: Impact | None = None, incident_id: int | None = None) -> int:
    """How many subscribers, on every channel, an announcement would reach."""
    return sum(reach_by_channel(component_ids, topic=topic, impact=impact,
                                incident_id=incident_id).values())


def reach_by_language(component_ids: Iterable[Any], *, topic: Topic = Topic.INCIDENT,
                      impact: Impact | None = None, incident_id: int | None = None
                      ) -> dict[str, int]:
    """How many subscribers, on every channel, an announcement would reach per language
    (every language the page speaks, in its order)."""
    condition = reach_condition(_announcement(component_ids, topic, impact, incident_id))
    counts = dict(db.session.execute(
        sa.select(Subscriber.language, sa.func.count()).where(condition)
        .group_by(Subscriber.language)).all())
    return {code: counts.get(code, 0) for code in LANGUAGES}
