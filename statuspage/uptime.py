"""90-day uptime from the components' status history, per calendar day of the page's zone."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo

import sqlalchemy as sa

from .components import ComponentStatusChange
from .dbtypes import utcnow
from .extensions import db
from .vocabulary import ComponentStatus

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
    bounds = _day_bounds(first_day, days, zone)
    return {component_id: _days_from_history(history, bounds, now, window_start)
            for component_id, history in changes.items()}


def _day_bounds(first_day: date, days: int, zone: tzinfo) -> list[tuple[date, datetime,
                                                                        datetime]]:
    # Each day's start and end in the page's zone, as UTC, computed once for all components
    # (comparing UTC times with UTC times is the fast path of datetime).
    bounds = []
    for offset in range(days):
        day = first_day + timedelta(days=offset)
        start = datetime.combine(day, datetime.min.time(), zone)
        bounds.append((day, start.astimezone(UTC), (start + timedelta(days=1)).astimezone(UTC)))
    return bounds


def _days_from_history(
    history: list[tuple[datetime, ComponentStatus]],
    bounds: list[tuple[date, datetime, datetime]], now: datetime, window_start: datetime,
) -> list[UptimeDay]:
    now, window_start = now.astimezone(UTC), window_start.astimezone(UTC)
    # Turn the change list into intervals [start, end) with one status each.
    intervals: list[tuple[datetime, datetime, ComponentStatus]] = []
    for index, (start, status) in enumerate(history):
        end = history[index + 1][0] if index + 1 < len(history) else now
        if end > window_start and end > start:
            intervals.append((max(start, window_start), end, status))
    born = history[0][0] if history else now
    out = []
    cursor = 0
    for day, day_start, day_end in bounds:
        major = partial = 0.0
        worst, rank = ComponentStatus.OPERATIONAL, 0
        while cursor < len(intervals) and intervals[cursor][1] <= day_start:
            cursor += 1
        index = cursor
        while index < len(intervals) and intervals[index][0] < day_end:
            start, end, status = intervals[index]
            index += 1
            if status is ComponentStatus.OPERATIONAL:  # neither worse nor down
                continue
            seconds = (min(end, day_end) - max(start, day_start)).total_seconds()
            if seconds > 0:
                if status.severity > rank:
                    worst, rank = status, status.severity
                if status is ComponentStatus.MAJOR_OUTAGE:
                    major += seconds
                elif status is ComponentStatus.PARTIAL_OUTAGE:
                    partial += seconds
        measured = day_end > born and day_start <= now
        out.append(UptimeDay(day, worst, major, partial, measured))
    return out


def uptime_percentage(days: Sequence[UptimeDay]) -> float | None:
    """Average uptime over the measured days, as a percentage; None when nothing was measured."""
    measured = [d for d in days if d.measured]
    if not measured:
        return None
    return 100.0 * sum(d.uptime for d in measured) / len(measured)
