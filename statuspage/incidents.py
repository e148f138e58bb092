"""Incidents, their updates, and scheduled maintenance (an incident with a window).

Every write is one operation and one transaction: the update row, the component status changes
it causes (with their history rows) and the audit row commit together or not at all.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship, selectinload

from . import components as comp
from . import markup
from .audit import add_audit_entry
from .components import Component
from .dbtypes import UTCDateTime, as_utc, enum_column, parse_id, utcnow
from .extensions import db
from .outbox import NoticeKind, add_notice
from .validation import Conflict, NotFound, ValidationError, require_text
from .vocabulary import (
    ACTIVE_MAINTENANCE_STATUSES,
    DEFAULT_BODIES,
    DONE_STATUSES,
    OPEN_INCIDENT_STATUSES,
    STATUS_LABELS,
    ComponentStatus,
    Impact,
    IncidentKind,
    IncidentStatus,
    MaintenanceStatus,
)

NAME_MAX = 200
BODY_MAX = 20000

_IMPACT_RANK = {Impact.NONE: 0, Impact.MAINTENANCE: 0, Impact.MINOR: 1, Impact.MAJOR: 2,
                Impact.CRITICAL: 3}
_IMPACT_OF_STATUS = {
    ComponentStatus.OPERATIONAL: Impact.NONE, ComponentStatus.UNDER_MAINTENANCE: Impact.NONE,
    ComponentStatus.DEGRADED_PERFORMANCE: Impact.MINOR,
    ComponentStatus.PARTIAL_OUTAGE: Impact.MAJOR, ComponentStatus.MAJOR_OUTAGE: Impact.CRITICAL,
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
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
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
    # Postmortem, Markdown (and its HTML, rendered when saved); public once published.
    postmortem_body: Mapped[str | None] = mapped_column(sa.Text)
    postmortem_html: Mapped[str | None] = mapped_column(sa.Text)
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
        return self.status not in DONE_STATUSES

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
    # Rendered once, when written (markup.stored), so that no read renders Markdown.
    body_html: Mapped[str] = mapped_column(sa.Text, default="", server_default="")
    body_text: Mapped[str] = mapped_column(sa.Text, default="", server_default="")
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

def with_details() -> tuple[Any, ...]:
    """Loader options that fetch an incident's updates and components with it."""
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
    """Unresolved incidents, newest first (sorted here: they are few, and an ORDER BY makes
    SQLite walk every incident through the start-time index instead of the status one)."""
    found = db.session.scalars(sa.select(Incident).options(*with_details()).where(
        Incident.kind == IncidentKind.INCIDENT,
        Incident.status.in_([s.value for s in OPEN_INCIDENT_STATUSES])))
    return sorted(found, key=lambda i: (i.started_at, i.id), reverse=True)


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


def _bodies(body: str | None, status: str) -> dict[str, str]:
    text = require_text(body, "body", max_length=BODY_MAX, required=False, multiline=True)
    return markup.stored(text or DEFAULT_BODIES.get(status, "")).columns("body")


def _resolve_components(changes: Mapping[Any, Any] | None) -> list[tuple[Component,
                                                                          ComponentStatus]]:
    resolved = []
    for raw_id, raw_status in (changes or {}).items():
        component = comp.find(Component, raw_id)
        if component is None:
            raise ValidationError(f"Unknown component {raw_id!r}.", "components")
        resolved.append((component, comp.parse_component_status(raw_status, "components")))
    return resolved


def check_time(value: Any, field: str) -> datetime:
    """``value`` as aware UTC, or ValidationError naming ``field`` (naive times are refused)."""
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise ValidationError(f"{field.replace('_', ' ').capitalize()} must be a date and time "
                              "with a time zone.", field)
    return as_utc(value)


# --- incident operations ---------------------------------------------------------------------

def open_incident(
    name: str, *, status: str = IncidentStatus.INVESTIGATING, body: str | None = None,
    components: Mapping[Any, Any] | None = None, impact_override: Any = None,
    deliver_notifications: bool = True, author: str | None = None, now: datetime | None = None,
) -> Incident:
    """Open an incident with its first update, moving the affected components."""
    now = now or utcnow()
    status = parse_status(IncidentKind.INCIDENT, status)
    incident = Incident(
        kind=IncidentKind.INCIDENT, name=require_text(name, "name", max_length=NAME_MAX),
        status=status, impact=Impact.NONE, impact_override=parse_impact(impact_override),
        created_at=now, updated_at=now, started_at=now,
    )
    changes = _resolve_components(components)
    db.session.add(incident)
    db.session.flush()
    add_update(incident, status=status, body=body, changes=changes,
               deliver_notifications=deliver_notifications, author=author, now=now)
    add_audit_entry(author, "incident.create", "incident", incident.id, incident.name)
    db.session.commit()
    return incident


def post_update(
    incident: Incident, *, status: str, body: str | None = None,
    components: Mapping[Any, Any] | None = None, deliver_notifications: bool = True,
    restore_components: bool = True, author: str | None = None, now: datetime | None = None,
) -> IncidentUpdate:
    """Post an update to an incident or maintenance.

    Resolving (or completing) returns the incident's components to operational, unless
    ``restore_components`` is false, a status for them is given, or another open incident or
    active maintenance still holds them.
    """
    now = now or utcnow()
    status, changes = check_update(incident, status, components,
                                   restore_components=restore_components)
    update = add_update(incident, status=status, body=body, changes=changes,
                        deliver_notifications=deliver_notifications, author=author, now=now)
    add_audit_entry(author, "incident.update", "incident", incident.id, status)
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


def change_incident(
    incident: Incident, *, edits: Mapping[str, Any] | None = None, status: str | None = None,
    body: str | None = None, components: Mapping[Any, Any] | None = None,
    deliver_notifications: bool = True, author: str | None = None, now: datetime | None = None,
) -> Incident:
    """Rename an incident or change its impact override (``edits``) and, when a status, body
    or component statuses are given, post an update: all is checked first; one commit.

    A maintenance changes through ``maintenance.change_maintenance``.
    """
    now = now or utcnow()
    edits = dict(edits or {})
    unknown = sorted(set(edits) - {"name", "impact_override"})
    if unknown or incident.is_maintenance:
        field = unknown[0] if unknown else "incident_id"
        raise ValidationError(f"Unknown field: {', '.join(unknown) or 'maintenance'}.", field)
    name = require_text(edits["name"], "name", max_length=NAME_MAX) if "name" in edits else None
    override = parse_impact(edits["impact_override"]) if "impact_override" in edits else None
    posting = status is not None or body is not None or bool(components)
    if posting:
        status, changes = check_update(incident, status or incident.status, components)
    if name is not None:
        incident.name = name
    if "impact_override" in edits:
        incident.impact_override = override
        # Recompute from every status the incident has caused, not from the old value.
        incident.impact = Impact.NONE
        incident.impact = _derived_impact(
            incident, (a.new_status for u in incident.updates for a in u.affected))
    if edits:
        add_edit_entry(incident, edits, author=author, now=now)
    if posting:
        add_update(incident, status=status, body=body, changes=changes,
                   deliver_notifications=deliver_notifications, author=author, now=now)
        add_audit_entry(author, "incident.update", "incident", incident.id, status)
    db.session.commit()
    return incident


def add_edit_entry(incident: Incident, edits: Mapping[str, Any], *, author: str | None,
                   now: datetime) -> None:
    """Mark an incident edited in the caller's transaction (never commits), with its audit
    row naming the fields."""
    incident.updated_at = now
    add_audit_entry(author, f"{incident.kind}.edit", str(incident.kind), incident.id,
                    ", ".join(sorted(edits)))


def edit_update(
    update: IncidentUpdate, *, body: str, display_at: datetime | None = None,
    deliver_notifications: bool | None = None, actor: str | None = None,
    now: datetime | None = None,
) -> IncidentUpdate:
    """Correct an update's text (and optionally its displayed time); statuses stay as posted."""
    for column, value in _bodies(body, update.status).items():
        setattr(update, column, value)
    if display_at is not None:
        update.display_at = check_time(display_at, "display_at")
    if deliver_notifications is not None:
        update.deliver_notifications = bool(deliver_notifications)
    update.updated_at = now or utcnow()
    add_audit_entry(actor, "incident.edit_update", "incident", update.incident_id,
                    f"update {update.id}")
    db.session.commit()
    return update


def delete_incident(incident: Incident, *, actor: str | None = None) -> None:
    """Delete an incident (or maintenance) and its updates; component statuses stay."""
    add_audit_entry(actor, "incident.delete", str(incident.kind), incident.id, incident.name)
    db.session.delete(incident)
    db.session.commit()


def delete_component(component: Component, *, actor: str | None = None) -> None:
    """Delete a component, unless an open incident or maintenance still names it."""
    names = db.session.scalars(
        sa.select(Incident.name)
        .join(incident_component, incident_component.c.incident_id == Incident.id)
        .where(incident_component.c.component_id == component.id,
               Incident.status.not_in(list(DONE_STATUSES)))
    ).all()
    if names:
        raise Conflict(f"{component.name} is part of an open incident or maintenance "
                       f"({', '.join(names)}); resolve it first.", "component_id")
    add_audit_entry(actor, "component.delete", "component", component.id, component.name)
    db.session.delete(component)
    db.session.commit()


# --- writing updates: building blocks that join the caller's transaction ----------------------

def check_update(
    incident: Incident, status: str, components: Mapping[Any, Any] | None, *,
    restore_components: bool = True,
) -> tuple[str, list[tuple[Component, ComponentStatus]]]:
    """An update's status and component changes, checked (writes nothing); resolving adds the
    components to return to operational."""
    status = parse_status(incident.kind, status)
    if incident.status == IncidentStatus.POSTMORTEM and status != IncidentStatus.RESOLVED:
        raise Conflict("Revert the postmortem before reopening this incident.", "status")
    changes = _resolve_components(components)
    if status in DONE_STATUSES and restore_components:
        changes += _restorations(incident, {c.id for c, _ in changes})
    return status, changes


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


def add_update(
    incident: Incident, *, status: str, body: str | None,
    changes: list[tuple[Component, ComponentStatus]], deliver_notifications: bool,
    author: str | None, now: datetime, display_at: datetime | None = None,
) -> IncidentUpdate:
    """Write one update and the status changes it carries in the caller's transaction (never
    commits); with notifications on, its notice is queued there too."""
    update = IncidentUpdate(
        incident_id=incident.id, status=status, **_bodies(body, status),
        display_at=display_at or now, created_at=now, updated_at=now,
        deliver_notifications=bool(deliver_notifications), author=author,
    )
    incident.updates.append(update)
    for component, new_status in changes:
        old = comp.add_status_change(component, new_status, cause=f"{incident.kind}",
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
        add_notice(NoticeKind.INCIDENT_UPDATE, incident_id=incident.id, update_id=update.id,
                   now=now)
    return update


def _apply_status(incident: Incident, status: str, now: datetime) -> None:
    incident.status = status
    if status == IncidentStatus.MONITORING and incident.monitoring_at is None:
        incident.monitoring_at = now
    if status in DONE_STATUSES:
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
