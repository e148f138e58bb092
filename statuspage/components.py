"""Components, component groups and their status history; the page's overall status; uptime.

A component's every status change is kept as a ``ComponentStatusChange`` row so that uptime can
be computed for any window afterwards.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .audit import _record
from .dbtypes import UTCDateTime, enum_column, parse_id, utcnow
from .errors import Conflict, NotFound, ValidationError, require_text
from .extensions import db

NAME_MAX = 100
DESCRIPTION_MAX = 1000


class ComponentStatus(enum.StrEnum):
    OPERATIONAL = "operational"
    DEGRADED_PERFORMANCE = "degraded_performance"
    PARTIAL_OUTAGE = "partial_outage"
    MAJOR_OUTAGE = "major_outage"
    UNDER_MAINTENANCE = "under_maintenance"

    @property
    def label(self) -> str:
        return _STATUS_LABELS[self]

    @property
    def severity(self) -> int:
        """Worse is larger; maintenance ranks above operational and below any trouble."""
        return _SEVERITY[self]


_STATUS_LABELS = {
    ComponentStatus.OPERATIONAL: "Operational",
    ComponentStatus.DEGRADED_PERFORMANCE: "Degraded Performance",
    ComponentStatus.PARTIAL_OUTAGE: "Partial Outage",
    ComponentStatus.MAJOR_OUTAGE: "Major Outage",
    ComponentStatus.UNDER_MAINTENANCE: "Under Maintenance",
}
_SEVERITY = {
    ComponentStatus.OPERATIONAL: 0,
    ComponentStatus.UNDER_MAINTENANCE: 1,
    ComponentStatus.DEGRADED_PERFORMANCE: 2,
    ComponentStatus.PARTIAL_OUTAGE: 3,
    ComponentStatus.MAJOR_OUTAGE: 4,
}


def parse_component_status(value: Any, field: str = "status") -> ComponentStatus:
    """Return the ComponentStatus spelled by ``value`` or raise a ValidationError naming it."""
    try:
        return ComponentStatus(str(value).strip())
    except ValueError:
        allowed = ", ".join(s.value for s in ComponentStatus)
        raise ValidationError(f"Unknown component status {value!r}; use one of {allowed}.",
                              field) from None


def worst_status(statuses: Iterable[ComponentStatus]) -> ComponentStatus:
    """The most severe of ``statuses`` (operational when there are none)."""
    return max(statuses, key=lambda s: s.severity, default=ComponentStatus.OPERATIONAL)


class ComponentGroup(db.Model):
    __tablename__ = "component_group"
    __page_visible__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(NAME_MAX))
    description: Mapped[str | None] = mapped_column(sa.Text)
    position: Mapped[int] = mapped_column(default=0)
    collapsed: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    components: Mapped[list[Component]] = relationship(
        back_populates="group", order_by="Component.position"
    )

    @property
    def status(self) -> ComponentStatus:
        """A group shows its worst member."""
        return worst_status(c.status for c in self.components)


class Component(db.Model):
    __tablename__ = "component"
    __page_visible__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(NAME_MAX))
    description: Mapped[str | None] = mapped_column(sa.Text)
    position: Mapped[int] = mapped_column(default=0)
    group_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("component_group.id", ondelete="SET NULL"), index=True
    )
    status: Mapped[ComponentStatus] = mapped_column(
        enum_column(ComponentStatus, "status"), default=ComponentStatus.OPERATIONAL
    )
    showcase: Mapped[bool] = mapped_column(default=True)
    only_show_if_degraded: Mapped[bool] = mapped_column(default=False)
    start_date: Mapped[date | None] = mapped_column(sa.Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    group: Mapped[ComponentGroup | None] = relationship(back_populates="components")

    @property
    def visible(self) -> bool:
        """Hidden while operational when it asks to be shown only if degraded."""
        return not (self.only_show_if_degraded and self.status is ComponentStatus.OPERATIONAL)


class ComponentStatusChange(db.Model):
    __tablename__ = "component_status_change"
    __table_args__ = (sa.Index("ix_component_status_change_component_at",
                               "component_id", "changed_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    component_id: Mapped[int] = mapped_column(
        sa.ForeignKey("component.id", ondelete="CASCADE")
    )
    from_status: Mapped[ComponentStatus | None] = mapped_column(
        enum_column(ComponentStatus, "from_status"))
    to_status: Mapped[ComponentStatus] = mapped_column(enum_column(ComponentStatus, "to_status"))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    cause: Mapped[str] = mapped_column(sa.String(64), default="manual")
    incident_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("incident.id", ondelete="SET NULL")
    )


# --- queries -------------------------------------------------------------------------------

def get_component(component_id: Any) -> Component:
    """The component with this id, or NotFound."""
    component = _get(Component, component_id)
    if component is None:
        raise NotFound("No such component.", "component_id")
    return component


def get_group(group_id: Any) -> ComponentGroup:
    """The component group with this id, or NotFound."""
    group = _get(ComponentGroup, group_id)
    if group is None:
        raise NotFound("No such component group.", "group_id")
    return group


def _get(model: type[db.Model], ident: Any) -> Any:
    key = parse_id(ident)
    return None if key is None else db.session.get(model, key)


def all_components() -> list[Component]:
    """Every component, in display order within its group."""
    return list(db.session.scalars(sa.select(Component).order_by(Component.position,
                                                                 Component.id)))


def all_groups() -> list[ComponentGroup]:
    """Every group in display order."""
    return list(db.session.scalars(sa.select(ComponentGroup).order_by(ComponentGroup.position,
                                                                      ComponentGroup.id)))


def component_tree() -> list[ComponentGroup | Component]:
    """Top-level items in display order: groups (with members) and ungrouped components."""
    items: list[ComponentGroup | Component] = [
        *all_groups(), *(c for c in all_components() if c.group_id is None)
    ]
    return sorted(items, key=lambda item: (item.position, isinstance(item, Component), item.id))


# --- the page's overall status -----------------------------------------------------------------

class Indicator(enum.StrEnum):
    NONE = "none"
    MINOR = "minor"
    MAJOR = "major"
    CRITICAL = "critical"
    MAINTENANCE = "maintenance"


@dataclass(frozen=True)
class PageStatus:
    indicator: Indicator
    description: str


ALL_OPERATIONAL = PageStatus(Indicator.NONE, "All Systems Operational")
_IMPACT_STATUS = {
    "minor": PageStatus(Indicator.MINOR, "Minor Service Outage"),
    "major": PageStatus(Indicator.MAJOR, "Partial System Outage"),
    "critical": PageStatus(Indicator.CRITICAL, "Major System Outage"),
}
_INDICATOR_RANK = {Indicator.NONE: 0, Indicator.MAINTENANCE: 1, Indicator.MINOR: 2,
                   Indicator.MAJOR: 3, Indicator.CRITICAL: 4}


def page_status(
    statuses: Sequence[ComponentStatus], open_incident_impacts: Iterable[str] = ()
) -> PageStatus:
    """The banner, status.json and summary.json indicator and description; one rule for all.

    ``statuses`` are those of the visible components; ``open_incident_impacts`` the impacts of
    unresolved incidents, which raise the result when they are worse than the components say.
    """
    result = _status_from_components(statuses)
    for impact in open_incident_impacts:
        raised = _IMPACT_STATUS.get(str(impact))
        if raised and _INDICATOR_RANK[raised.indicator] > _INDICATOR_RANK[result.indicator]:
            result = raised
    return result


def _status_from_components(statuses: Sequence[ComponentStatus]) -> PageStatus:
    if not statuses:
        return ALL_OPERATIONAL
    count = {s: 0 for s in ComponentStatus}
    for status in statuses:
        count[status] += 1
    total = len(statuses)
    major, partial = count[ComponentStatus.MAJOR_OUTAGE], count[ComponentStatus.PARTIAL_OUTAGE]
    degraded = count[ComponentStatus.DEGRADED_PERFORMANCE]
    if major == total:
        return PageStatus(Indicator.CRITICAL, "Major System Outage")
    if major or partial == total:
        return PageStatus(Indicator.MAJOR, "Partial System Outage")
    if partial:
        return PageStatus(Indicator.MINOR, "Minor Service Outage")
    if degraded == total:
        return PageStatus(Indicator.MINOR, "Degraded System Service")
    if degraded:
        return PageStatus(Indicator.MINOR, "Partially Degraded Service")
    if count[ComponentStatus.UNDER_MAINTENANCE]:
        return PageStatus(Indicator.MAINTENANCE, "Service Under Maintenance")
    return ALL_OPERATIONAL


# --- operations ----------------------------------------------------------------------------

# Rooms above this one register checks that refuse a deletion (e.g. an open incident still
# names the component); each returns a reason, or None to allow it.
delete_guards: list[Callable[[Component], str | None]] = []


def _next_top_level_position() -> int:
    top = db.session.scalar(sa.select(sa.func.max(ComponentGroup.position))) or 0
    loose = db.session.scalar(
        sa.select(sa.func.max(Component.position)).where(Component.group_id.is_(None))
    ) or 0
    return max(top, loose) + 1


def _next_member_position(group_id: int) -> int:
    last = db.session.scalar(
        sa.select(sa.func.max(Component.position)).where(Component.group_id == group_id)
    )
    return (last or 0) + 1


def _clean_description(value: str | None) -> str | None:
    return require_text(value, "description", max_length=DESCRIPTION_MAX, required=False,
                        multiline=True) or None


def create_group(
    name: str, *, description: str | None = None, collapsed: bool = True,
    component_ids: Iterable[Any] | None = None, actor: str | None = None,
) -> ComponentGroup:
    """Create a component group at the end of the page, optionally with its members."""
    group = ComponentGroup(
        name=require_text(name, "name", max_length=NAME_MAX),
        description=_clean_description(description),
        collapsed=bool(collapsed),
        position=_next_top_level_position(),
    )
    db.session.add(group)
    db.session.flush()
    if component_ids is not None:
        _set_members(group, component_ids)
    _record(actor, "group.create", "component_group", group.id, group.name)
    db.session.commit()
    return group


def update_group(group: ComponentGroup, *, actor: str | None = None, **changes: Any
                 ) -> ComponentGroup:
    """Rename or describe a group, change whether it starts collapsed, or set its members."""
    _reject_unknown(changes, {"name", "description", "collapsed", "component_ids"})
    if "component_ids" in changes:
        _set_members(group, changes["component_ids"])
    if "name" in changes:
        group.name = require_text(changes["name"], "name", max_length=NAME_MAX)
    if "description" in changes:
        group.description = _clean_description(changes["description"])
    if "collapsed" in changes:
        group.collapsed = bool(changes["collapsed"])
    _record(actor, "group.update", "component_group", group.id, ", ".join(sorted(changes)))
    db.session.commit()
    return group


def _set_members(group: ComponentGroup, component_ids: Iterable[Any]) -> None:
    """Make exactly these components the group's members, in the order given. No commit."""
    wanted: list[Component] = []
    for raw in component_ids:
        component = _get(Component, raw)
        if component is None:
            raise ValidationError(f"Unknown component {raw!r}.", "components")
        if component not in wanted:
            wanted.append(component)
    db.session.flush()
    position = _next_top_level_position()
    for member in list(group.components):
        if member not in wanted:
            member.group_id = None
            member.position = position
            position += 1
    for index, component in enumerate(wanted):
        component.group_id = group.id
        component.position = index + 1
    db.session.flush()
    db.session.expire(group, ["components"])


def delete_group(group: ComponentGroup, *, actor: str | None = None) -> None:
    """Delete a group; its members stay, ungrouped, at the end of the page."""
    position = _next_top_level_position()
    for offset, member in enumerate(list(group.components)):
        member.group_id = None
        member.position = position + offset
    _record(actor, "group.delete", "component_group", group.id, group.name)
    db.session.delete(group)
    db.session.commit()


def create_component(
    name: str,
    *,
    description: str | None = None,
    group_id: int | None = None,
    status: ComponentStatus | str = ComponentStatus.OPERATIONAL,
    showcase: bool = True,
    only_show_if_degraded: bool = False,
    start_date: date | None = None,
    actor: str | None = None,
    now: datetime | None = None,
) -> Component:
    """Create a component, in its group or at the end of the page."""
    now = now or utcnow()
    group = get_group(group_id) if group_id not in (None, "") else None
    component = Component(
        name=require_text(name, "name", max_length=NAME_MAX),
        description=_clean_description(description),
        group_id=group.id if group else None,
        position=_next_member_position(group.id) if group else _next_top_level_position(),
        status=parse_component_status(status),
        showcase=bool(showcase),
        only_show_if_degraded=bool(only_show_if_degraded),
        start_date=start_date,
        created_at=now,
        updated_at=now,
    )
    db.session.add(component)
    db.session.flush()
    db.session.add(ComponentStatusChange(
        component_id=component.id, from_status=None, to_status=component.status,
        changed_at=now, cause="created",
    ))
    _record(actor, "component.create", "component", component.id, component.name)
    db.session.commit()
    return component


def update_component(
    component: Component, *, actor: str | None = None, now: datetime | None = None,
    **changes: Any,
) -> Component:
    """Change a component's fields; a status change is recorded in its history."""
    _reject_unknown(changes, {"name", "description", "group_id", "status", "showcase",
                              "only_show_if_degraded", "start_date"})
    if "name" in changes:
        component.name = require_text(changes["name"], "name", max_length=NAME_MAX)
    if "description" in changes:
        component.description = _clean_description(changes["description"])
    if "group_id" in changes:
        new_group = changes["group_id"]
        new_group_id = get_group(new_group).id if new_group not in (None, "") else None
        if new_group_id != component.group_id:
            component.group_id = new_group_id
            component.position = (_next_member_position(new_group_id) if new_group_id
                                   else _next_top_level_position())
    for flag in ("showcase", "only_show_if_degraded"):
        if flag in changes:
            setattr(component, flag, bool(changes[flag]))
    if "start_date" in changes:
        component.start_date = changes["start_date"]
    if "status" in changes:
        _set_status(component, parse_component_status(changes["status"]), cause="manual",
                    now=now)
    _record(actor, "component.update", "component", component.id, ", ".join(sorted(changes)))
    db.session.commit()
    return component


def set_component_status(
    component: Component, status: ComponentStatus | str, *, actor: str | None = None,
    now: datetime | None = None,
) -> Component:
    """Set a component's status directly (outside any incident)."""
    new = parse_component_status(status)
    old = component.status
    _set_status(component, new, cause="manual", now=now)
    _record(actor, "component.status", "component", component.id, f"{old} -> {new}")
    db.session.commit()
    return component


def _set_status(
    component: Component, status: ComponentStatus, *, cause: str,
    incident_id: int | None = None, now: datetime | None = None,
) -> ComponentStatus:
    """Move a component to ``status`` with a history row; returns the old status. No commit."""
    old = component.status
    if old is status:
        return old
    now = now or utcnow()
    component.status = status
    component.updated_at = now
    db.session.add(ComponentStatusChange(
        component_id=component.id, from_status=old, to_status=status, changed_at=now,
        cause=cause, incident_id=incident_id,
    ))
    return old


def delete_component(component: Component, *, actor: str | None = None) -> None:
    """Delete a component, unless something still depends on it."""
    for guard in delete_guards:
        reason = guard(component)
        if reason:
            raise Conflict(reason, "component_id")
    _record(actor, "component.delete", "component", component.id, component.name)
    db.session.delete(component)
    db.session.commit()


def move(item: Component | ComponentGroup, direction: int, *, actor: str | None = None) -> None:
    """Swap an item with its neighbour above (direction -1) or below (+1) among its siblings."""
    if direction not in (-1, 1):
        raise ValidationError("Direction must be up or down.", "direction")
    if isinstance(item, Component) and item.group_id is not None:
        siblings: list[Any] = list(db.session.scalars(
            sa.select(Component).where(Component.group_id == item.group_id)
            .order_by(Component.position, Component.id)))
    else:
        siblings = component_tree()
    # Renumber first so that equal or sparse positions cannot make a swap a no-op.
    for index, sibling in enumerate(siblings):
        sibling.position = index + 1
    index = siblings.index(item)
    other = index + direction
    if 0 <= other < len(siblings):
        siblings[index].position, siblings[other].position = (
            siblings[other].position, siblings[index].position)
    kind = "component" if isinstance(item, Component) else "component_group"
    _record(actor, f"{kind}.move", kind, item.id, "up" if direction < 0 else "down")
    db.session.commit()


def _reject_unknown(changes: dict[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(changes) - allowed)
    if unknown:
        raise ValidationError(f"Unknown field: {', '.join(unknown)}.", unknown[0])


# --- uptime --------------------------------------------------------------------------------

# Statuspage counts a partial outage as 30% of a major outage when it computes uptime.
PARTIAL_OUTAGE_WEIGHT = 0.3


@dataclass(frozen=True)
class UptimeDay:
    day: date
    worst: ComponentStatus
    major_seconds: float
    partial_seconds: float
    measured: bool  # False before the component existed (or in the future)

    @property
    def uptime(self) -> float:
        """The share of the day the component counted as up, between 0 and 1."""
        if not self.measured:
            return 1.0
        down = self.major_seconds + PARTIAL_OUTAGE_WEIGHT * self.partial_seconds
        return max(0.0, 1.0 - down / 86400)


def uptime_days(
    component_ids: Sequence[int], *, days: int = 90, now: datetime | None = None,
    zone: tzinfo | None = None,
) -> dict[int, list[UptimeDay]]:
    """Per component, one UptimeDay for each of the last ``days`` days (oldest first).

    Days are calendar days in ``zone`` (the page's time zone). One query reads the history of
    all the components for the window, plus the last change before it, however long the
    history is (the (component_id, changed_at) index serves both parts).
    """
    now = now or utcnow()
    zone = zone or now.tzinfo
    today = now.astimezone(zone).date()
    first_day = today - timedelta(days=days - 1)
    window_start = datetime.combine(first_day, datetime.min.time(), zone)
    changes: dict[int, list[tuple[datetime, ComponentStatus]]] = {cid: [] for cid in component_ids}
    if not component_ids:
        return {}
    change = ComponentStatusChange
    columns = (change.component_id, change.changed_at, change.id, change.to_status)
    in_window = sa.select(*columns).where(change.component_id.in_(component_ids),
                                          change.changed_at >= window_start)
    last_before = (
        sa.select(change.component_id, sa.func.max(change.changed_at).label("changed_at"))
        .where(change.component_id.in_(component_ids), change.changed_at < window_start)
        .group_by(change.component_id).subquery()
    )
    status_at_start = sa.select(*columns).join(last_before, sa.and_(
        last_before.c.component_id == change.component_id,
        last_before.c.changed_at == change.changed_at))
    both = sa.union_all(in_window, status_at_start).subquery()
    rows = db.session.execute(
        sa.select(both.c.component_id, both.c.changed_at, both.c.to_status)
        .order_by(both.c.component_id, both.c.changed_at, both.c.id)
    )
    for component_id, changed_at, to_status in rows:
        changes[component_id].append((changed_at, to_status))
    result = {}
    for component_id, history in changes.items():
        result[component_id] = _days_from_history(history, first_day, days, zone, now,
                                                  window_start)
    return result


def _days_from_history(
    history: list[tuple[datetime, ComponentStatus]], first_day: date, days: int, zone: tzinfo,
    now: datetime, window_start: datetime,
) -> list[UptimeDay]:
    # Turn the change list into intervals [start, end) with one status each.
    intervals: list[tuple[datetime, datetime, ComponentStatus]] = []
    for index, (start, status) in enumerate(history):
        end = history[index + 1][0] if index + 1 < len(history) else now
        if end > window_start and end > start:
            intervals.append((max(start, window_start), end, status))
    born = history[0][0] if history else now
    out = []
    cursor = 0
    for offset in range(days):
        day = first_day + timedelta(days=offset)
        day_start = datetime.combine(day, datetime.min.time(), zone)
        day_end = day_start + timedelta(days=1)
        major = partial = 0.0
        worst = ComponentStatus.OPERATIONAL
        while cursor < len(intervals) and intervals[cursor][1] <= day_start:
            cursor += 1
        index = cursor
        while index < len(intervals) and intervals[index][0] < day_end:
            start, end, status = intervals[index]
            seconds = (min(end, day_end) - max(start, day_start)).total_seconds()
            if seconds > 0:
                worst = worst_status((worst, status))
                if status is ComponentStatus.MAJOR_OUTAGE:
                    major += seconds
                elif status is ComponentStatus.PARTIAL_OUTAGE:
                    partial += seconds
            index += 1
        measured = day_end > born and day_start <= now
        out.append(UptimeDay(day, worst, major, partial, measured))
    return out


def uptime_percentage(days: Sequence[UptimeDay]) -> float | None:
    """Average uptime over the measured days, as a percentage; None when nothing was measured."""
    measured = [d for d in days if d.measured]
    if not measured:
        return None
    return 100.0 * sum(d.uptime for d in measured) / len(measured)
