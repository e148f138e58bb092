"""Scheduled maintenance: a window announced ahead, started and completed on time, reminded of.

A maintenance is an ``Incident`` of kind maintenance with a window (``scheduled_for`` to
``scheduled_until``) and automation flags; its updates are written by the same building blocks
as an incident's, so it reaches subscribers the same way.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app

from . import components as comp
from . import incidents as inc
from .audit import add_audit_entry
from .components import Component
from .dbtypes import utcnow
from .extensions import db
from .incidents import AffectedComponent, Incident, IncidentUpdate
from .outbox import Notice, NoticeKind, add_notice
from .validation import Conflict, ValidationError, require_text
from .vocabulary import (
    ACTIVE_MAINTENANCE_STATUSES,
    CANCELLED_BODY,
    ComponentStatus,
    Impact,
    IncidentKind,
    MaintenanceStatus,
)

# The automation flags, by the names the operations take.
FLAGS = ("auto_start", "auto_complete", "to_maintenance_state", "to_operational_state",
         "remind_prior")
EDITS = frozenset({"name", "scheduled_for", "scheduled_until", "component_ids",
                   "reminder_minutes", *FLAGS})
# The longest a reminder may lead its window by.
MAX_REMINDER_MINUTES = 7 * 24 * 60


def windows(statuses: Iterable[MaintenanceStatus]) -> list[Incident]:
    """Maintenance in the given statuses, soonest window first."""
    return list(db.session.scalars(
        sa.select(Incident).options(*inc.with_details())
        .where(Incident.kind == IncidentKind.MAINTENANCE,
               Incident.status.in_([s.value for s in statuses]))
        .order_by(Incident.scheduled_for, Incident.id)
    ))


def check_window(scheduled_for: Any, scheduled_until: Any) -> tuple[datetime, datetime]:
    """The window (start, end), both aware and in order, or ValidationError."""
    start = inc.check_time(scheduled_for, "scheduled_for")
    end = inc.check_time(scheduled_until, "scheduled_until")
    if end <= start:
        raise ValidationError("The maintenance window must end after it starts.",
                              "scheduled_until")
    return start, end


def check_reminder_minutes(value: Any) -> int | None:
    """A reminder lead in minutes (1 to 7 days), or None for the page's default."""
    if value in (None, ""):
        return None
    try:
        minutes = int(value)
    except (TypeError, ValueError):
        minutes = 0
    if not 1 <= minutes <= MAX_REMINDER_MINUTES:
        raise ValidationError("The reminder must come between 1 minute and 7 days before the "
                              "start.", "reminder_minutes")
    return minutes


def reminder_lead(maintenance: Incident) -> int:
    """How many minutes before its start a maintenance is reminded of."""
    return maintenance.reminder_minutes or current_app.config["MAINTENANCE_REMINDER_MINUTES"]


def planned_components(component_ids: Iterable[Any] | None) -> list[Component]:
    """The components a maintenance names, each once, or ValidationError for an unknown id."""
    found = []
    for raw in component_ids or ():
        component = comp.find(Component, raw)
        if component is None:
            raise ValidationError(f"Unknown component {raw!r}.", "component_ids")
        if component not in found:
            found.append(component)
    return found


# --- operations -------------------------------------------------------------------------------

def schedule_maintenance(
    name: str, *, scheduled_for: datetime, scheduled_until: datetime, body: str | None = None,
    component_ids: Iterable[Any] | None = None, auto_start: bool = True,
    auto_complete: bool = True, to_maintenance_state: bool = True,
    to_operational_state: bool = True, remind_prior: bool = True,
    reminder_minutes: int | None = None, deliver_notifications: bool = True,
    author: str | None = None, now: datetime | None = None,
) -> Incident:
    """Schedule a maintenance window with its first update."""
    now = now or utcnow()
    start, end = check_window(scheduled_for, scheduled_until)
    lead = check_reminder_minutes(reminder_minutes)
    chosen = planned_components(component_ids)
    maintenance = Incident(
        kind=IncidentKind.MAINTENANCE, name=require_text(name, "name", max_length=inc.NAME_MAX),
        status=MaintenanceStatus.SCHEDULED, impact=Impact.MAINTENANCE,
        created_at=now, updated_at=now, started_at=now, scheduled_for=start,
        scheduled_until=end, auto_start=bool(auto_start), auto_complete=bool(auto_complete),
        to_maintenance_state=bool(to_maintenance_state),
        to_operational_state=bool(to_operational_state), remind_prior=bool(remind_prior),
        reminder_minutes=lead, components=chosen,
    )
    db.session.add(maintenance)
    db.session.flush()
    update = inc.add_update(maintenance, status=MaintenanceStatus.SCHEDULED, body=body,
                            changes=[], deliver_notifications=deliver_notifications,
                            author=author, now=now)
    # Statuspage lists the planned components on the first update, unchanged in status.
    for component in chosen:
        update.affected.append(AffectedComponent(
            component_id=component.id, component_name=component.name,
            old_status=component.status, new_status=component.status))
    add_audit_entry(author, "maintenance.create", "maintenance", maintenance.id,
                    maintenance.name)
    db.session.commit()
    return maintenance


def change_maintenance(
    maintenance: Incident, *, edits: Mapping[str, Any] | None = None,
    status: str | None = None, body: str | None = None,
    components: Mapping[Any, Any] | None = None, deliver_notifications: bool = True,
    author: str | None = None, now: datetime | None = None,
) -> Incident:
    """Change a maintenance's name, window, components or automation flags (``edits``) and,
    when a status, body or component statuses are given, post an update: all is checked
    first; one commit.

    Moving a scheduled maintenance to in progress without component statuses puts its
    components under maintenance (when it is set to), as the Start button does.
    """
    now = now or utcnow()
    edits = dict(edits or {})
    fields = _checked_edits(maintenance, edits)
    posting = status is not None or body is not None or bool(components)
    if posting:
        status, changes = inc.check_update(maintenance, status or maintenance.status,
                                           components)
    for name, value in fields.items():
        setattr(maintenance, name, value)
    if fields:
        inc.add_edit_entry(maintenance, edits, author=author, now=now)
    if posting:
        if (status == MaintenanceStatus.IN_PROGRESS and not changes
                and maintenance.status == MaintenanceStatus.SCHEDULED):
            changes = _start_changes(maintenance)
        inc.add_update(maintenance, status=status, body=body, changes=changes,
                       deliver_notifications=deliver_notifications, author=author, now=now)
        add_audit_entry(author, "incident.update", "incident", maintenance.id, status)
    db.session.commit()
    return maintenance


def _checked_edits(maintenance: Incident, edits: dict[str, Any]) -> dict[str, Any]:
    """The columns ``edits`` set, each value checked; nothing is written here."""
    unknown = sorted(set(edits) - EDITS)
    if unknown:
        raise ValidationError(f"Unknown field: {', '.join(unknown)}.", unknown[0])
    if edits and not maintenance.is_open:
        raise Conflict("A completed maintenance cannot be changed.", "status")
    fields: dict[str, Any] = {}
    if "name" in edits:
        fields["name"] = require_text(edits["name"], "name", max_length=inc.NAME_MAX)
    if "scheduled_for" in edits or "scheduled_until" in edits:
        fields["scheduled_for"], fields["scheduled_until"] = check_window(
            edits.get("scheduled_for", maintenance.scheduled_for),
            edits.get("scheduled_until", maintenance.scheduled_until))
    if "component_ids" in edits:
        fields["components"] = planned_components(edits["component_ids"])
    if "reminder_minutes" in edits:
        fields["reminder_minutes"] = check_reminder_minutes(edits["reminder_minutes"])
    fields.update({flag: bool(edits[flag]) for flag in FLAGS if flag in edits})
    return fields


def _start_changes(maintenance: Incident) -> list[tuple[Component, ComponentStatus]]:
    if not maintenance.to_maintenance_state:
        return []
    return [(c, ComponentStatus.UNDER_MAINTENANCE) for c in maintenance.components]


def start_maintenance(maintenance: Incident, *, body: str | None = None,
                      author: str | None = None, deliver_notifications: bool = True,
                      now: datetime | None = None) -> IncidentUpdate:
    """Move a maintenance to in progress (and its components to under maintenance)."""
    if maintenance.status != MaintenanceStatus.SCHEDULED:
        raise Conflict("Only a scheduled maintenance can be started.", "status")
    changes = {c.id: s for c, s in _start_changes(maintenance)}
    return inc.post_update(maintenance, status=MaintenanceStatus.IN_PROGRESS, body=body,
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
    return inc.post_update(maintenance, status=MaintenanceStatus.COMPLETED,
                           body=CANCELLED_BODY, author=author,
                           deliver_notifications=deliver_notifications, now=now)


# --- what the scheduler does -----------------------------------------------------------------

def _take(due: sa.ColumnElement[bool], maintenance_id: int, now: datetime) -> Incident | None:
    """Begin a transition of one due window, or None when another worker has made it.

    A conditional UPDATE is the transaction's first statement: it re-checks the window is
    still due on the committed row and holds the row (PostgreSQL) or the database's write
    lock (SQLite) until the transition commits, so a second worker waits, then finds it done.
    """
    won = db.session.execute(sa.update(Incident).where(Incident.id == maintenance_id, due)
                             .values(updated_at=now)).rowcount
    if not won:
        db.session.rollback()
        return None
    return db.session.get(Incident, maintenance_id, populate_existing=True)


def run_due_transitions(now: datetime | None = None) -> list[IncidentUpdate]:
    """Start and complete the maintenance windows that are due, each exactly once however
    many workers run this at the same time."""
    now = now or utcnow()
    done = []
    due_start = sa.and_(
        Incident.kind == IncidentKind.MAINTENANCE,
        Incident.status == MaintenanceStatus.SCHEDULED.value,
        Incident.auto_start.is_(True), Incident.scheduled_for <= now)
    for maintenance_id in db.session.scalars(
            sa.select(Incident.id).where(due_start).order_by(Incident.scheduled_for)).all():
        maintenance = _take(due_start, maintenance_id, now)
        if maintenance is not None:
            done.append(start_maintenance(maintenance, author="scheduler", now=now))
    due_end = sa.and_(
        Incident.kind == IncidentKind.MAINTENANCE,
        Incident.status.in_([s.value for s in ACTIVE_MAINTENANCE_STATUSES]),
        Incident.auto_complete.is_(True), Incident.scheduled_until <= now)
    for maintenance_id in db.session.scalars(
            sa.select(Incident.id).where(due_end).order_by(Incident.scheduled_until)).all():
        maintenance = _take(due_end, maintenance_id, now)
        if maintenance is not None:
            done.append(inc.resolve_incident(maintenance, author="scheduler", now=now))
    db.session.commit()
    return done


def enqueue_reminders(*, now: datetime | None = None) -> int:
    """Queue one reminder per maintenance window that starts within its lead time."""
    now = now or utcnow()
    soon = db.session.scalars(sa.select(Incident).where(
        Incident.kind == IncidentKind.MAINTENANCE,
        Incident.status == MaintenanceStatus.SCHEDULED.value,
        Incident.remind_prior.is_(True), Incident.cancelled_at.is_(None),
        Incident.scheduled_for > now,
        Incident.scheduled_for <= now + timedelta(minutes=MAX_REMINDER_MINUTES),
    ).order_by(Incident.scheduled_for)).all()
    queued = 0
    for maintenance in soon:
        lead = timedelta(minutes=reminder_lead(maintenance))
        if maintenance.scheduled_for > now + lead:
            continue
        # Scheduled within the lead time: its announcement is reminder enough.
        if maintenance.created_at > maintenance.scheduled_for - lead:
            continue
        # One reminder per window; moving the window earns a new one.
        key = f"reminder:{maintenance.id}:{int(maintenance.scheduled_for.timestamp())}"
        if db.session.scalar(sa.select(Notice.id).where(Notice.key == key)) is not None:
            continue
        add_notice(NoticeKind.MAINTENANCE_REMINDER, incident_id=maintenance.id, key=key,
                   now=now)
        try:
            db.session.commit()
        except sa.exc.IntegrityError:  # another worker queued it first
            db.session.rollback()
            continue
        queued += 1
    return queued
