"""The record of incidents and maintenance as visitors, feeds and API clients page through it.

Read-only lists, newest first: the history by time window, the most recent, a name search.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from . import incidents as inc
from .dbtypes import as_utc
from .extensions import db
from .incidents import Incident, incident_component
from .vocabulary import DONE_STATUSES, IncidentKind, MaintenanceStatus


def recent(kind: IncidentKind, limit: int = 50) -> list[Incident]:
    """The most recent incidents (or maintenances) of any status, newest first."""
    order = Incident.started_at if kind is IncidentKind.INCIDENT else Incident.scheduled_for
    return list(db.session.scalars(
        sa.select(Incident).options(*inc.with_details()).where(Incident.kind == kind)
        .order_by(order.desc(), Incident.id.desc()).limit(limit)
    ))


def latest(limit: int = 50, component_id: int | None = None) -> list[Incident]:
    """Incidents and maintenance (once announced), newest first; optionally one component's."""
    query = sa.select(Incident).options(*inc.with_details())
    if component_id is not None:
        query = query.where(Incident.id.in_(
            sa.select(incident_component.c.incident_id)
            .where(incident_component.c.component_id == component_id)))
    return list(db.session.scalars(
        query.order_by(Incident.created_at.desc(), Incident.id.desc()).limit(limit)))


def search(query: str = "", *, page: int = 1, per_page: int = 100) -> list[Incident]:
    """Incidents and maintenance whose name contains ``query``, newest first, a page at a
    time."""
    stmt = sa.select(Incident).options(*inc.with_details())
    text = (query or "").strip().lower()
    if text:
        escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        stmt = stmt.where(sa.func.lower(Incident.name).like(f"%{escaped}%", escape="\\"))
    return list(db.session.scalars(
        stmt.order_by(Incident.created_at.desc(), Incident.id.desc())
        .offset((max(page, 1) - 1) * per_page).limit(per_page)))


def past(kind: IncidentKind, *, page: int = 1, per_page: int = 25
         ) -> tuple[list[Incident], bool]:
    """One page of finished incidents (or maintenance), newest first, and whether more exist."""
    page = max(page, 1)
    order = Incident.started_at if kind is IncidentKind.INCIDENT else Incident.scheduled_for
    rows = list(db.session.scalars(
        sa.select(Incident).options(selectinload(Incident.components))
        .where(Incident.kind == kind, Incident.status.in_(list(DONE_STATUSES)))
        .order_by(order.desc(), Incident.id.desc())
        .offset((page - 1) * per_page).limit(per_page + 1)
    ))
    return rows[:per_page], len(rows) > per_page


def between(start: datetime, end: datetime) -> list[Incident]:
    """Incidents started, and maintenance scheduled, in [start, end), newest first.

    Maintenance that has not happened yet (scheduled) is left out: it is not history.
    """
    rows = db.session.scalars(
        sa.select(Incident).options(*inc.with_details()).where(sa.or_(
            sa.and_(Incident.kind == IncidentKind.INCIDENT,
                    Incident.started_at >= start, Incident.started_at < end),
            sa.and_(Incident.kind == IncidentKind.MAINTENANCE,
                    Incident.status != MaintenanceStatus.SCHEDULED.value,
                    Incident.scheduled_for >= start, Incident.scheduled_for < end),
        ))
    )
    return sorted(rows, key=lambda i: (occurred_at(i), i.id), reverse=True)


def oldest_occurrence() -> datetime | None:
    """When the oldest incident started or maintenance was scheduled (for history paging)."""
    first_incident = db.session.scalar(
        sa.select(sa.func.min(Incident.started_at)).where(Incident.kind == IncidentKind.INCIDENT))
    first_maintenance = db.session.scalar(
        sa.select(sa.func.min(Incident.scheduled_for))
        .where(Incident.kind == IncidentKind.MAINTENANCE))
    found = [as_utc(v) for v in (first_incident, first_maintenance) if v is not None]
    return min(found) if found else None


def occurred_at(incident: Incident) -> datetime:
    """The time an incident is filed under in the history."""
    if incident.is_maintenance and incident.scheduled_for is not None:
        return incident.scheduled_for
    return incident.started_at
