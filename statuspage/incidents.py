"""Incidents, their updates, and scheduled maintenance (an incident with a window).

Every write is one operation and one transaction: the update row, the component status changes
it causes (with their history rows) and the audit row commit together or not at all.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship, selectinload

from . import components as comp
from .audit import _record
from .components import Component, ComponentStatus
from .dbtypes import UTCDateTime, as_utc, enum_column, parse_id, utcnow
from .errors import Conflict, NotFound, ValidationError, require_text
from .extensions import db
from .outbox import NoticeKind, _enqueue_notice

NAME_MAX = 200
BODY_MAX = 20000


class IncidentKind(enum.StrEnum):
    INCIDENT = "incident"
    MAINTENANCE = "maintenance"


class IncidentStatus(enum.StrEnum):
    INVESTIGATING = "investigating"
    IDENTIFIED = "identified"
    MONITORING = "monitoring"
    RESOLVED = "resolved"
    POSTMORTEM = "postmortem"


class MaintenanceStatus(enum.StrEnum):
    SCHEDULED = "scheduled"
    IN_PROGRESS = "in_progress"
    VERIFYING = "verifying"
    COMPLETED = "completed"


class Impact(enum.StrEnum):
    NONE = "none"
    MINOR = "minor"
    MAJOR = "major"
    CRITICAL = "critical"
    MAINTENANCE = "maintenance"


OPEN_INCIDENT_STATUSES = (IncidentStatus.INVESTIGATING, IncidentStatus.IDENTIFIED,
                          IncidentStatus.MONITORING)
UPCOMING_MAINTENANCE_STATUSES = (MaintenanceStatus.SCHEDULED,)
ACTIVE_MAINTENANCE_STATUSES = (MaintenanceStatus.IN_PROGRESS, MaintenanceStatus.VERIFYING)
_DONE_STATUSES = {IncidentStatus.RESOLVED.value, IncidentStatus.POSTMORTEM.value,
                  MaintenanceStatus.COMPLETED.value}

STATUS_LABELS = {
    "investigating": "Investigating", "identified": "Identified", "monitoring": "Monitoring",
    "resolved": "Resolved", "postmortem": "Postmortem", "scheduled": "Scheduled",
    "in_progress": "In progress", "verifying": "Verifying", "completed": "Completed",
}

# Statuspage's default messages, used when an update is posted without a body.
DEFAULT_BODIES = {
    "investigating": "We are currently investigating this issue.",
    "identified": "The issue has been identified and a fix is being implemented.",
    "monitoring": "A fix has been implemented and we are monitoring the results.",
    "resolved": "This incident has been resolved.",
    "scheduled": "We will be undergoing scheduled maintenance during this time.",
    "in_progress": "Scheduled maintenance is currently in progress. We will provide updates "
                   "as necessary.",
    "verifying": "Verification is currently underway for the maintenance items.",
    "completed": "The scheduled maintenance has been completed.",
}
CANCELLED_BODY = "This scheduled maintenance has been cancelled."

_IMPACT_RANK = {Impact.NONE: 0, Impact.MAINTENANCE: 0, Impact.MINOR: 1, Impact.MAJOR: 2,
                Impact.CRITICAL: 3}
_IMPACT_OF_STATUS = {
    ComponentStatus.OPERATIONAL: Impact.NONE,
    ComponentStatus.UNDER_MAINTENANCE: Impact.NONE,
    ComponentStatus.DEGRADED_PERFORMANCE: Impact.MINOR,
    ComponentStatus.PARTIAL_OUTAGE: Impact.MAJOR,
    ComponentStatus.MAJOR_OUTAGE: Impact.CRITICAL,
}

incident_component = sa.Table(
    "incident_component",
    db.metadata,
    sa.Column("incident_id", sa.ForeignKey("incident.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("component_id", sa.ForeignKey("component.id", ondelete="CASCADE"),
              primary_key=True, index=True),
)


class Incident(db.Model):
    __tablename__ = "incident"
    __page_visible__ = True
    __table_args__ = (
        sa.Index("ix_incident_kind_status", "kind", "status"),
        sa.Index("ix_incident_kind_started_at", "kind", "started_at"),
        sa.Index("ix_incident_kind_scheduled_for", "kind", "scheduled_for"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[IncidentKind] = mapped_column(enum_column(IncidentKind, "kind"),
                                               default=IncidentKind.INCIDENT)
    name: Mapped[str] = mapped_column(sa.String(NAME_MAX))
    # Incident or maintenance status, by kind; checked by the operations.
    status: Mapped[str] = mapped_column(sa.String(32))
    impact: Mapped[Impact] = mapped_column(enum_column(Impact, "impact"), default=Impact.NONE)
    impact_override: Mapped[Impact | None] = mapped_column(enum_column(Impact, "impact_override"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    monitoring_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Maintenance only.
    scheduled_for: Mapped[datetime | None] = mapped_column(UTCDateTime)
    scheduled_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    auto_start: Mapped[bool] = mapped_column(default=False)
    auto_complete: Mapped[bool] = mapped_column(default=False)
    to_maintenance_state: Mapped[bool] = mapped_column(default=False)
    to_operational_state: Mapped[bool] = mapped_column(default=False)
    remind_prior: Mapped[bool] = mapped_column(default=False)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Postmortem, Markdown; public once published.
    postmortem_body: Mapped[str | None] = mapped_column(sa.Text)
    postmortem_updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    postmortem_published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    components: Mapped[list[Component]] = relationship(
        secondary=incident_component, order_by=Component.position
    )
    updates: Mapped[list[IncidentUpdate]] = relationship(
        back_populates="incident", cascade="all, delete-orphan",
        order_by="(IncidentUpdate.display_at.desc(), IncidentUpdate.id.desc())",
    )

    @property
    def is_maintenance(self) -> bool:
        return self.kind is IncidentKind.MAINTENANCE

    @property
    def is_open(self) -> bool:
        """Not yet resolved (incident) or completed (maintenance)."""
        return self.status not in _DONE_STATUSES

    @property
    def status_label(self) -> str:
        return STATUS_LABELS.get(self.status, self.status)

    @property
    def postmortem_published(self) -> bool:
        return self.postmortem_published_at is not None


class IncidentUpdate(db.Model):
    __tablename__ = "incident_update"
    __page_visible__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(
        sa.ForeignKey("incident.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(sa.String(32))
    body: Mapped[str] = mapped_column(sa.Text, default="")
    display_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    deliver_notifications: Mapped[bool] = mapped_column(default=True)
    author: Mapped[str | None] = mapped_column(sa.String(255))

    incident: Mapped[Incident] = relationship(back_populates="updates")
    affected: Mapped[list[AffectedComponent]] = relationship(
        back_populates="update", cascade="all, delete-orphan", order_by="AffectedComponent.id"
    )

    @property
    def status_label(self) -> str:
        return STATUS_LABELS.get(self.status, self.status)


class AffectedComponent(db.Model):
    """A component an update touched, with the status it moved from and to."""

    __tablename__ = "incident_update_component"
    __page_visible__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    update_id: Mapped[int] = mapped_column(
        sa.ForeignKey("incident_update.id", ondelete="CASCADE"), index=True
    )
    # Kept by name too, so history still reads well after a component is deleted.
    component_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("component.id", ondelete="SET NULL"), index=True
    )
    component_name: Mapped[str] = mapped_column(sa.String(comp.NAME_MAX))
    old_status: Mapped[ComponentStatus] = mapped_column(enum_column(ComponentStatus, "old_status"))
    new_status: Mapped[ComponentStatus] = mapped_column(enum_column(ComponentStatus, "new_status"))

    update: Mapped[IncidentUpdate] = relationship(back_populates="affected")


# --- queries -------------------------------------------------------------------------------

def _with_details() -> tuple[Any, ...]:
    return (
        selectinload(Incident.updates).selectinload(IncidentUpdate.affected),
        selectinload(Incident.components),
    )


def get_incident(incident_id: Any, kind: IncidentKind | None = None) -> Incident:
    """The incident (or maintenance) with this id, or NotFound."""
    key = parse_id(incident_id)
    incident = db.session.get(Incident, key) if key is not None else None
    if incident is None or (kind is not None and incident.kind is not kind):
        noun = "maintenance" if kind is IncidentKind.MAINTENANCE else "incident"
        raise NotFound(f"No such {noun}.", "incident_id")
    return incident


def get_update(incident: Incident, update_id: Any) -> IncidentUpdate:
    """One update of ``incident``, or NotFound."""
    for update in incident.updates:
        if str(update.id) == str(update_id):
            return update
    raise NotFound("No such incident update.", "update_id")


def open_incidents() -> list[Incident]:
    """Unresolved incidents, newest first."""
    return list(db.session.scalars(
        sa.select(Incident).options(*_with_details())
        .where(Incident.kind == IncidentKind.INCIDENT,
               Incident.status.in_([s.value for s in OPEN_INCIDENT_STATUSES]))
        .order_by(Incident.started_at.desc(), Incident.id.desc())
    ))


def maintenances(statuses: Iterable[MaintenanceStatus]) -> list[Incident]:
    """Maintenance in the given statuses, soonest window first."""
    return list(db.session.scalars(
        sa.select(Incident).options(*_with_details())
        .where(Incident.kind == IncidentKind.MAINTENANCE,
               Incident.status.in_([s.value for s in statuses]))
        .order_by(Incident.scheduled_for, Incident.id)
    ))


def recent(kind: IncidentKind, limit: int = 50) -> list[Incident]:
    """The most recent incidents (or maintenances) of any status, newest first."""
    order = Incident.started_at if kind is IncidentKind.INCIDENT else Incident.scheduled_for
    return list(db.session.scalars(
        sa.select(Incident).options(*_with_details()).where(Incident.kind == kind)
        .order_by(order.desc(), Incident.id.desc()).limit(limit)
    ))


def latest(limit: int = 50, component_id: int | None = None) -> list[Incident]:
    """Incidents and maintenance (once announced), newest first; optionally one component's."""
    query = sa.select(Incident).options(*_with_details())
    if component_id is not None:
        query = query.where(Incident.id.in_(
            sa.select(incident_component.c.incident_id)
            .where(incident_component.c.component_id == component_id)))
    return list(db.session.scalars(
        query.order_by(Incident.created_at.desc(), Incident.id.desc()).limit(limit)))


def search(query: str = "", *, page: int = 1, per_page: int = 100) -> list[Incident]:
    """Incidents and maintenance whose name contains ``query``, newest first, a page at a
    time."""
    stmt = sa.select(Incident).options(*_with_details())
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
        .where(Incident.kind == kind, Incident.status.in_(list(_DONE_STATUSES)))
        .order_by(order.desc(), Incident.id.desc())
        .offset((page - 1) * per_page).limit(per_page + 1)
    ))
    return rows[:per_page], len(rows) > per_page


def between(start: datetime, end: datetime) -> list[Incident]:
    """Incidents started, and maintenance scheduled, in [start, end), newest first.

    Maintenance that has not happened yet (scheduled) is left out: it is not history.
    """
    rows = db.session.scalars(
        sa.select(Incident).options(*_with_details()).where(sa.or_(
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


# --- validation helpers ----------------------------------------------------------------------

def parse_status(kind: IncidentKind, value: Any, field: str = "status") -> str:
    """The status spelled by ``value`` if it is allowed for this kind of incident."""
    allowed: tuple[str, ...]
    if kind is IncidentKind.MAINTENANCE:
        allowed = tuple(s.value for s in MaintenanceStatus)
    else:
        allowed = tuple(s.value for s in IncidentStatus if s is not IncidentStatus.POSTMORTEM)
    text = str(value or "").strip()
    if text not in allowed:
        raise ValidationError(f"Unknown status {value!r}; use one of {', '.join(allowed)}.",
                              field)
    return text


def parse_impact(value: Any, field: str = "impact_override") -> Impact | None:
    """An Impact, or None for an empty value (derive it from the components)."""
    if value in (None, ""):
        return None
    try:
        return Impact(str(value).strip())
    except ValueError:
        allowed = ", ".join(i.value for i in Impact)
        raise ValidationError(f"Unknown impact {value!r}; use one of {allowed}.", field) from None


def _clean_body(body: str | None, status: str) -> str:
    text = require_text(body, "body", max_length=BODY_MAX, required=False, multiline=True)
    return text or DEFAULT_BODIES.get(status, "")


def _resolve_components(changes: Mapping[Any, Any] | None) -> list[tuple[Component,
                                                                          ComponentStatus]]:
    resolved = []
    for raw_id, raw_status in (changes or {}).items():
        component = comp._get(Component, raw_id)
        if component is None:
            raise ValidationError(f"Unknown component {raw_id!r}.", "components")
        resolved.append((component, comp.parse_component_status(raw_status, "components")))
    return resolved


def _check_time(value: Any, field: str) -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise ValidationError(f"{field.replace('_', ' ').capitalize()} must be a date and time "
                              "with a time zone.", field)
    return as_utc(value)


# --- incident operations ---------------------------------------------------------------------

def open_incident(
    name: str,
    *,
    status: str = IncidentStatus.INVESTIGATING,
    body: str | None = None,
    components: Mapping[Any, Any] | None = None,
    impact_override: Any = None,
    deliver_notifications: bool = True,
    author: str | None = None,
    now: datetime | None = None,
) -> Incident:
    """Open an incident with its first update, moving the affected components."""
    now = now or utcnow()
    status = parse_status(IncidentKind.INCIDENT, status)
    incident = Incident(
        kind=IncidentKind.INCIDENT,
        name=require_text(name, "name", max_length=NAME_MAX),
        status=status,
        impact=Impact.NONE,
        impact_override=parse_impact(impact_override),
        created_at=now, updated_at=now, started_at=now,
    )
    changes = _resolve_components(components)
    db.session.add(incident)
    db.session.flush()
    _add_update(incident, status=status, body=body, changes=changes,
                deliver_notifications=deliver_notifications, author=author, now=now)
    _record(author, "incident.create", "incident", incident.id, incident.name)
    db.session.commit()
    return incident


def post_update(
    incident: Incident,
    *,
    status: str,
    body: str | None = None,
    components: Mapping[Any, Any] | None = None,
    deliver_notifications: bool = True,
    restore_components: bool = True,
    author: str | None = None,
    now: datetime | None = None,
) -> IncidentUpdate:
    """Post an update to an incident or maintenance.

    Resolving (or completing) returns the incident's components to operational, unless
    ``restore_components`` is false, a status for them is given, or another open incident or
    active maintenance still holds them.
    """
    now = now or utcnow()
    status = parse_status(incident.kind, status)
    if incident.status == IncidentStatus.POSTMORTEM and status != IncidentStatus.RESOLVED:
        raise Conflict("Revert the postmortem before reopening this incident.", "status")
    changes = _resolve_components(components)
    if status in _DONE_STATUSES and restore_components:
        changes += _restorations(incident, {c.id for c, _ in changes})
    update = _add_update(incident, status=status, body=body, changes=changes,
                         deliver_notifications=deliver_notifications, author=author, now=now)
    _record(author, "incident.update", "incident", incident.id, f"{status}")
    db.session.commit()
    return update


def resolve_incident(incident: Incident, *, body: str | None = None, author: str | None = None,
                     deliver_notifications: bool = True, restore_components: bool = True,
                     now: datetime | None = None) -> IncidentUpdate:
    """Resolve an incident (complete a maintenance)."""
    done = (MaintenanceStatus.COMPLETED if incident.is_maintenance else IncidentStatus.RESOLVED)
    return post_update(incident, status=done, body=body, author=author,
                       deliver_notifications=deliver_notifications,
                       restore_components=restore_components, now=now)


def _restorations(incident: Incident, skip: set[int]) -> list[tuple[Component, ComponentStatus]]:
    held = _components_held_elsewhere(incident)
    return [
        (c, ComponentStatus.OPERATIONAL) for c in incident.components
        if c.id not in skip and c.id not in held and c.status is not ComponentStatus.OPERATIONAL
        and (not incident.is_maintenance or incident.to_operational_state)
    ]


def _components_held_elsewhere(incident: Incident) -> set[int]:
    """Components named by another open incident or active maintenance."""
    still_open = sa.or_(
        sa.and_(Incident.kind == IncidentKind.INCIDENT,
                Incident.status.in_([s.value for s in OPEN_INCIDENT_STATUSES])),
        sa.and_(Incident.kind == IncidentKind.MAINTENANCE,
                Incident.status.in_([s.value for s in ACTIVE_MAINTENANCE_STATUSES])),
    )
    rows = db.session.scalars(
        sa.select(incident_component.c.component_id)
        .join(Incident, Incident.id == incident_component.c.incident_id)
        .where(still_open, Incident.id != incident.id)
    )
    return set(rows)


def _add_update(
    incident: Incident, *, status: str, body: str | None,
    changes: list[tuple[Component, ComponentStatus]], deliver_notifications: bool,
    author: str | None, now: datetime, display_at: datetime | None = None,
) -> IncidentUpdate:
    """Write one update and the status changes it carries. No commit."""
    update = IncidentUpdate(
        incident_id=incident.id, status=status, body=_clean_body(body, status),
        display_at=display_at or now, created_at=now, updated_at=now,
        deliver_notifications=bool(deliver_notifications), author=author,
    )
    incident.updates.append(update)
    for component, new_status in changes:
        old = comp._set_status(component, new_status, cause=f"{incident.kind}",
                               incident_id=incident.id, now=now)
        update.affected.append(AffectedComponent(
            component_id=component.id, component_name=component.name,
            old_status=old, new_status=new_status,
        ))
        if component not in incident.components:
            incident.components.append(component)
    _apply_status(incident, status, now)
    if not incident.is_maintenance:
        incident.impact = _derived_impact(incident, (s for _, s in changes))
    incident.updated_at = now
    if update.deliver_notifications:
        # Queued in this transaction, so the update is announced if and only if it commits.
        db.session.flush()
        _enqueue_notice(NoticeKind.INCIDENT_UPDATE, incident_id=incident.id,
                        update_id=update.id, now=now)
    return update


def _apply_status(incident: Incident, status: str, now: datetime) -> None:
    incident.status = status
    if status == IncidentStatus.MONITORING and incident.monitoring_at is None:
        incident.monitoring_at = now
    if status in _DONE_STATUSES:
        incident.resolved_at = incident.resolved_at or now
    else:
        incident.resolved_at = None


def _derived_impact(incident: Incident, new_statuses: Iterable[ComponentStatus]) -> Impact:
    """The override if set; else the worst impact the components have reached so far."""
    if incident.impact_override is not None:
        return incident.impact_override
    impact = incident.impact or Impact.NONE
    for status in new_statuses:
        candidate = _IMPACT_OF_STATUS[status]
        if _IMPACT_RANK[candidate] > _IMPACT_RANK[impact]:
            impact = candidate
    return impact


def edit_update(
    update: IncidentUpdate, *, body: str, display_at: datetime | None = None,
    deliver_notifications: bool | None = None, actor: str | None = None,
    now: datetime | None = None,
) -> IncidentUpdate:
    """Correct an update's text (and optionally its displayed time); statuses stay as posted."""
    update.body = _clean_body(body, update.status)
    if display_at is not None:
        update.display_at = _check_time(display_at, "display_at")
    if deliver_notifications is not None:
        update.deliver_notifications = bool(deliver_notifications)
    update.updated_at = now or utcnow()
    _record(actor, "incident.edit_update", "incident", update.incident_id, f"update {update.id}")
    db.session.commit()
    return update


def update_incident(
    incident: Incident, *, actor: str | None = None, **changes: Any
) -> Incident:
    """Rename an incident or change its impact override."""
    unknown = sorted(set(changes) - {"name", "impact_override"})
    if unknown:
        raise ValidationError(f"Unknown field: {', '.join(unknown)}.", unknown[0])
    if "name" in changes:
        incident.name = require_text(changes["name"], "name", max_length=NAME_MAX)
    if "impact_override" in changes and not incident.is_maintenance:
        incident.impact_override = parse_impact(changes["impact_override"])
        # Recompute from every status the incident has caused, not from the old value.
        incident.impact = Impact.NONE
        incident.impact = _derived_impact(
            incident, (a.new_status for u in incident.updates for a in u.affected))
    incident.updated_at = utcnow()
    _record(actor, "incident.edit", "incident", incident.id, ", ".join(sorted(changes)))
    db.session.commit()
    return incident


def delete_incident(incident: Incident, *, actor: str | None = None) -> None:
    """Delete an incident (or maintenance) and its updates; component statuses stay."""
    _record(actor, "incident.delete", str(incident.kind), incident.id, incident.name)
    db.session.delete(incident)
    db.session.commit()


def save_postmortem(incident: Incident, body: str, *, actor: str | None = None,
                    now: datetime | None = None) -> Incident:
    """Store the postmortem draft (Markdown)."""
    if incident.is_maintenance:
        raise Conflict("Maintenance has no postmortem.", "postmortem")
    incident.postmortem_body = require_text(body, "postmortem", max_length=BODY_MAX * 5,
                                            multiline=True,
                                            required=False) or None
    incident.postmortem_updated_at = now or utcnow()
    _record(actor, "incident.postmortem", "incident", incident.id, "draft saved")
    db.session.commit()
    return incident


def publish_postmortem(incident: Incident, *, actor: str | None = None,
                       now: datetime | None = None) -> Incident:
    """Publish the postmortem of a resolved incident."""
    if incident.is_maintenance or incident.status not in (IncidentStatus.RESOLVED,
                                                          IncidentStatus.POSTMORTEM):
        raise Conflict("Only a resolved incident can have its postmortem published.",
                       "postmortem")
    if not incident.postmortem_body:
        raise ValidationError("Write the postmortem before publishing it.", "postmortem")
    now = now or utcnow()
    incident.postmortem_published_at = now
    incident.status = IncidentStatus.POSTMORTEM
    incident.updated_at = now
    _record(actor, "incident.postmortem_publish", "incident", incident.id)
    db.session.commit()
    return incident


def revert_postmortem(incident: Incident, *, actor: str | None = None) -> Incident:
    """Take a published postmortem back to draft."""
    incident.postmortem_published_at = None
    if incident.status == IncidentStatus.POSTMORTEM:
        incident.status = IncidentStatus.RESOLVED
    incident.updated_at = utcnow()
    _record(actor, "incident.postmortem_revert", "incident", incident.id)
    db.session.commit()
    return incident


# --- maintenance operations ------------------------------------------------------------------

def _check_window(scheduled_for: Any, scheduled_until: Any) -> tuple[datetime, datetime]:
    start = _check_time(scheduled_for, "scheduled_for")
    end = _check_time(scheduled_until, "scheduled_until")
    if end <= start:
        raise ValidationError("The maintenance window must end after it starts.",
                              "scheduled_until")
    return start, end


def _maintenance_components(component_ids: Iterable[Any] | None) -> list[Component]:
    found = []
    for raw in component_ids or ():
        component = comp._get(Component, raw)
        if component is None:
            raise ValidationError(f"Unknown component {raw!r}.", "component_ids")
        if component not in found:
            found.append(component)
    return found


def schedule_maintenance(
    name: str,
    *,
    scheduled_for: datetime,
    scheduled_until: datetime,
    body: str | None = None,
    component_ids: Iterable[Any] | None = None,
    auto_start: bool = True,
    auto_complete: bool = True,
    to_maintenance_state: bool = True,
    to_operational_state: bool = True,
    remind_prior: bool = True,
    deliver_notifications: bool = True,
    author: str | None = None,
    now: datetime | None = None,
) -> Incident:
    """Schedule a maintenance window with its first update."""
    now = now or utcnow()
    start, end = _check_window(scheduled_for, scheduled_until)
    chosen = _maintenance_components(component_ids)
    maintenance = Incident(
        kind=IncidentKind.MAINTENANCE,
        name=require_text(name, "name", max_length=NAME_MAX),
        status=MaintenanceStatus.SCHEDULED, impact=Impact.MAINTENANCE,
        created_at=now, updated_at=now, started_at=now,
        scheduled_for=start, scheduled_until=end,
        auto_start=bool(auto_start), auto_complete=bool(auto_complete),
        to_maintenance_state=bool(to_maintenance_state),
        to_operational_state=bool(to_operational_state), remind_prior=bool(remind_prior),
        components=chosen,
    )
    db.session.add(maintenance)
    db.session.flush()
    update = _add_update(maintenance, status=MaintenanceStatus.SCHEDULED, body=body, changes=[],
                         deliver_notifications=deliver_notifications, author=author, now=now)
    # Statuspage lists the planned components on the first update, unchanged in status.
    for component in chosen:
        update.affected.append(AffectedComponent(
            component_id=component.id, component_name=component.name,
            old_status=component.status, new_status=component.status))
    _record(author, "maintenance.create", "maintenance", maintenance.id, maintenance.name)
    db.session.commit()
    return maintenance


def edit_maintenance(
    maintenance: Incident, *, actor: str | None = None, now: datetime | None = None,
    **changes: Any,
) -> Incident:
    """Change a maintenance's name, window, components or automation flags."""
    allowed = {"name", "scheduled_for", "scheduled_until", "component_ids", "auto_start",
               "auto_complete", "to_maintenance_state", "to_operational_state", "remind_prior"}
    unknown = sorted(set(changes) - allowed)
    if unknown:
        raise ValidationError(f"Unknown field: {', '.join(unknown)}.", unknown[0])
    if not maintenance.is_open:
        raise Conflict("A completed maintenance cannot be changed.", "status")
    if "name" in changes:
        maintenance.name = require_text(changes["name"], "name", max_length=NAME_MAX)
    if "scheduled_for" in changes or "scheduled_until" in changes:
        maintenance.scheduled_for, maintenance.scheduled_until = _check_window(
            changes.get("scheduled_for", maintenance.scheduled_for),
            changes.get("scheduled_until", maintenance.scheduled_until))
    if "component_ids" in changes:
        maintenance.components = _maintenance_components(changes["component_ids"])
    for flag in ("auto_start", "auto_complete", "to_maintenance_state", "to_operational_state",
                 "remind_prior"):
        if flag in changes:
            setattr(maintenance, flag, bool(changes[flag]))
    maintenance.updated_at = now or utcnow()
    _record(actor, "maintenance.edit", "maintenance", maintenance.id, ", ".join(sorted(changes)))
    db.session.commit()
    return maintenance


def start_maintenance(maintenance: Incident, *, body: str | None = None,
                      author: str | None = None, deliver_notifications: bool = True,
                      now: datetime | None = None) -> IncidentUpdate:
    """Move a maintenance to in progress (and its components to under maintenance)."""
    if maintenance.status != MaintenanceStatus.SCHEDULED:
        raise Conflict("Only a scheduled maintenance can be started.", "status")
    changes = {c.id: ComponentStatus.UNDER_MAINTENANCE for c in maintenance.components
               if maintenance.to_maintenance_state}
    return post_update(maintenance, status=MaintenanceStatus.IN_PROGRESS, body=body,
                       components=changes, author=author,
                       deliver_notifications=deliver_notifications, now=now)


def cancel_maintenance(maintenance: Incident, *, author: str | None = None,
                       deliver_notifications: bool = True,
                       now: datetime | None = None) -> IncidentUpdate:
    """Cancel a maintenance that has not completed; its components return to operational."""
    if not maintenance.is_open:
        raise Conflict("This maintenance has already completed.", "status")
    now = now or utcnow()
    maintenance.cancelled_at = now
    return post_update(maintenance, status=MaintenanceStatus.COMPLETED, body=CANCELLED_BODY,
                       author=author, deliver_notifications=deliver_notifications, now=now)


def run_due_transitions(now: datetime | None = None) -> list[IncidentUpdate]:
    """Start and complete the maintenance windows that are due, as the scheduler does."""
    now = now or utcnow()
    done = []
    due_start = db.session.scalars(
        sa.select(Incident).where(
            Incident.kind == IncidentKind.MAINTENANCE,
            Incident.status == MaintenanceStatus.SCHEDULED.value,
            Incident.auto_start.is_(True), Incident.scheduled_for <= now)
        .order_by(Incident.scheduled_for)
    ).all()
    for maintenance in due_start:
        done.append(start_maintenance(maintenance, author="scheduler", now=now))
    due_end = db.session.scalars(
        sa.select(Incident).where(
            Incident.kind == IncidentKind.MAINTENANCE,
            Incident.status.in_([s.value for s in ACTIVE_MAINTENANCE_STATUSES]),
            Incident.auto_complete.is_(True), Incident.scheduled_until <= now)
        .order_by(Incident.scheduled_until)
    ).all()
    for maintenance in due_end:
        done.append(resolve_incident(maintenance, author="scheduler", now=now))
    return done


def _open_reference(component: Component) -> str | None:
    """Refuse deleting a component that an open incident or maintenance still names."""
    names = db.session.scalars(
        sa.select(Incident.name)
        .join(incident_component, incident_component.c.incident_id == Incident.id)
        .where(incident_component.c.component_id == component.id,
               Incident.status.not_in(list(_DONE_STATUSES)))
    ).all()
    if names:
        return (f"{component.name} is part of an open incident or maintenance "
                f"({', '.join(names)}); resolve it first.")
    return None


comp.delete_guards.append(_open_reference)
