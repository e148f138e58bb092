"""Components, component groups and their status history; the page's overall status.

A component's every status change is kept as a ``ComponentStatusChange`` row so that uptime can
be computed for any window afterwards.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship, selectinload

from .audit import add_audit_entry
from .dbtypes import UTCDateTime, enum_column, parse_id, utcnow
from .extensions import db
from .outbox import NoticeKind, add_notice
from .validation import NotFound, ValidationError, require_text
from .vocabulary import ComponentStatus, Indicator

NAME_MAX = 100
DESCRIPTION_MAX = 1000


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
    component = find(Component, component_id)
    if component is None:
        raise NotFound("No such component.", "component_id")
    return component


def get_group(group_id: Any) -> ComponentGroup:
    """The component group with this id, or NotFound."""
    group = find(ComponentGroup, group_id)
    if group is None:
        raise NotFound("No such component group.", "group_id")
    return group


def find(model: type[Component] | type[ComponentGroup], ident: Any) -> Any:
    """The component or group with this id (any spelling of a row id), or None."""
    key = parse_id(ident)
    return None if key is None else db.session.get(model, key)


def all_components() -> list[Component]:
    """Every component, in display order within its group."""
    return list(db.session.scalars(sa.select(Component).order_by(Component.position,
                                                                 Component.id)))


def all_groups() -> list[ComponentGroup]:
    """Every group in display order, with its members (in one more query, not one each)."""
    return list(db.session.scalars(sa.select(ComponentGroup)
                                   .options(selectinload(ComponentGroup.components))
                                   .order_by(ComponentGroup.position, ComponentGroup.id)))


def component_tree() -> list[ComponentGroup | Component]:
    """Top-level items in display order: groups (with members) and ungrouped components."""
    items: list[ComponentGroup | Component] = [
        *all_groups(), *(c for c in all_components() if c.group_id is None)
    ]
    return sorted(items, key=lambda item: (item.position, isinstance(item, Component), item.id))


# --- the page's overall status -----------------------------------------------------------------

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
    add_audit_entry(actor, "group.create", "component_group", group.id, group.name)
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
    add_audit_entry(actor, "group.update", "component_group", group.id, ", ".join(sorted(changes)))
    db.session.commit()
    return group


def _set_members(group: ComponentGroup, component_ids: Iterable[Any]) -> None:
    """Make exactly these components the group's members, in the order given. No commit."""
    wanted: list[Component] = []
    for raw in component_ids:
        component = find(Component, raw)
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
    add_audit_entry(actor, "group.delete", "component_group", group.id, group.name)
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
    add_audit_entry(actor, "component.create", "component", component.id, component.name)
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
        _set_announced(component, parse_component_status(changes["status"]), now)
    add_audit_entry(actor, "component.update", "component", component.id,
                    ", ".join(sorted(changes)))
    db.session.commit()
    return component


def set_component_status(
    component: Component, status: ComponentStatus | str, *, actor: str | None = None,
    now: datetime | None = None,
) -> Component:
    """Set a component's status directly (outside any incident); webhook subscribers who
    want component events hear of the change."""
    new = parse_component_status(status)
    old = component.status
    _set_announced(component, new, now)
    add_audit_entry(actor, "component.status", "component", component.id, f"{old} -> {new}")
    db.session.commit()
    return component


def _set_announced(component: Component, status: ComponentStatus, now: datetime | None) -> None:
    """A status set by hand, with the notice that announces it (webhooks' component_update)."""
    if component.status is status:
        return
    add_status_change(component, status, cause="manual", now=now)
    db.session.flush()
    change = db.session.scalars(
        sa.select(ComponentStatusChange).where(ComponentStatusChange.component_id == component.id)
        .order_by(ComponentStatusChange.id.desc()).limit(1)).one()
    add_notice(NoticeKind.COMPONENT_UPDATE, incident_id=None, status_change_id=change.id,
               now=now)


def add_status_change(
    component: Component, status: ComponentStatus, *, cause: str,
    incident_id: int | None = None, now: datetime | None = None,
) -> ComponentStatus:
    """Move a component to ``status`` with a history row in the caller's transaction (never
    commits); returns the old status."""
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
    add_audit_entry(actor, f"{kind}.move", kind, item.id, "up" if direction < 0 else "down")
    db.session.commit()


def _reject_unknown(changes: dict[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(changes) - allowed)
    if unknown:
        raise ValidationError(f"Unknown field: {', '.join(unknown)}.", unknown[0])
