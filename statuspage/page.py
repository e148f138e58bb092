"""The page snapshot: everything a visitor of the status page sees, cached by page version.

A snapshot is built from plain frozen dataclasses, never ORM objects, so one value can be
shared by every request and thread of a process. It is keyed by the page version (bumped by
every page-visible write, see ``site``) and today's date in the page's time zone, so nobody
invalidates it by hand and the list of past days moves on at local midnight.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any

from flask import current_app
from markupsafe import Markup

from . import components as comp
from . import history as past
from . import incidents as inc
from . import maintenance as maint
from . import markup, uptime, vocabulary
from .components import Component, ComponentGroup, PageStatus
from .dbtypes import as_utc, utcnow
from .incidents import Incident, IncidentUpdate
from .site import PageSettings, get_page_settings, page_version
from .validation import NotFound
from .vocabulary import (
    ACTIVE_MAINTENANCE_STATUSES,
    UPCOMING_MAINTENANCE_STATUSES,
    ComponentStatus,
    IncidentKind,
    IncidentStatus,
    MaintenanceStatus,
)

UPTIME_DAYS = 90
PAST_DAYS = 15
_DONE_STATUSES = frozenset({IncidentStatus.RESOLVED.value, IncidentStatus.POSTMORTEM.value,
                            MaintenanceStatus.COMPLETED.value})


# --- the values a template sees ----------------------------------------------------------------

@dataclass(frozen=True)
class Settings:
    name: str
    url: str | None
    logo_url: str | None
    support_url: str | None
    time_zone: str


@dataclass(frozen=True)
class UptimeBar:
    day: date
    status: ComponentStatus
    uptime: float  # percent of the day the component counted as up
    measured: bool


@dataclass(frozen=True)
class ComponentView:
    id: int
    name: str
    description: str | None
    status: ComponentStatus
    showcase: bool
    uptime: tuple[UptimeBar, ...] = ()
    uptime_percentage: float | None = None

    @property
    def is_group(self) -> bool:
        """Templates tell groups from components by this."""
        return False


@dataclass(frozen=True)
class GroupView:
    id: int
    name: str
    description: str | None
    status: ComponentStatus
    collapsed: bool
    components: tuple[ComponentView, ...]

    @property
    def is_group(self) -> bool:
        """Templates tell groups from components by this."""
        return True

    @property
    def starts_open(self) -> bool:
        """Open unless ops collapsed it, and always open while a member is in trouble."""
        return not self.collapsed or self.status is not ComponentStatus.OPERATIONAL


@dataclass(frozen=True)
class AffectedView:
    name: str
    old_status: ComponentStatus
    new_status: ComponentStatus


@dataclass(frozen=True)
class UpdateView:
    id: int
    status: str
    body_html: Markup  # rendered when the update was written
    display_at: datetime
    affected: tuple[AffectedView, ...]

    @property
    def status_label(self) -> str:
        """The update's status as people read it."""
        return vocabulary.STATUS_LABELS.get(self.status, self.status)


@dataclass(frozen=True)
class IncidentView:
    id: int
    kind: str
    name: str
    status: str
    impact: str
    started_at: datetime
    resolved_at: datetime | None
    scheduled_for: datetime | None
    scheduled_until: datetime | None
    cancelled: bool
    components: tuple[str, ...]
    updates: tuple[UpdateView, ...]  # newest first
    postmortem_html: Markup | None  # published postmortems only
    postmortem_published_at: datetime | None

    @property
    def is_maintenance(self) -> bool:
        """Scheduled maintenance rather than an incident."""
        return self.kind == IncidentKind.MAINTENANCE

    @property
    def is_open(self) -> bool:
        """Not yet resolved (incident) or completed (maintenance)."""
        return self.status not in _DONE_STATUSES

    @property
    def status_label(self) -> str:
        """The incident's status as people read it."""
        return vocabulary.STATUS_LABELS.get(self.status, self.status)

    @property
    def occurred_at(self) -> datetime:
        """The time the incident is filed under in the lists of past days and months."""
        if self.is_maintenance and self.scheduled_for is not None:
            return self.scheduled_for
        return self.started_at


@dataclass(frozen=True)
class DayView:
    day: date
    incidents: tuple[IncidentView, ...]


@dataclass(frozen=True)
class MonthView:
    month: date  # the first day of the month
    incidents: tuple[IncidentView, ...]


@dataclass(frozen=True)
class Snapshot:
    version: int
    today: date
    built_at: datetime
    modified_at: datetime
    settings: Settings
    status: PageStatus
    tree: tuple[GroupView | ComponentView, ...]
    open_incidents: tuple[IncidentView, ...]
    active_maintenance: tuple[IncidentView, ...]
    upcoming_maintenance: tuple[IncidentView, ...]
    past_days: tuple[DayView, ...]  # today first

    @property
    def components(self) -> tuple[ComponentView, ...]:
        """Every component on the page, group members included, in page order."""
        return tuple(m for item in self.tree
                     for m in (item.components if isinstance(item, GroupView) else (item,)))

    @property
    def shows_uptime(self) -> bool:
        """Whether any component on the page shows its uptime bars."""
        return any(c.uptime for c in self.components)

    @property
    def uptime_start(self) -> date:
        """The day of the first uptime bar (every component's bars cover the same days)."""
        return self.today - timedelta(days=UPTIME_DAYS - 1)

    @property
    def etag(self) -> str:
        """Changes whenever the page's data or its day does."""
        return f"v{self.version}-{self.today.isoformat()}"


@dataclass(frozen=True)
class HistoryPage:
    number: int
    months: tuple[MonthView, ...]  # newest first
    newer: int | None
    older: int | None


# --- the cached snapshot --------------------------------------------------------------------------

_CACHE_KEY = "statuspage.page_snapshot"


class _SnapshotCache:
    """The latest snapshot of one application; a lock keeps concurrent swaps whole."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.current: Snapshot | None = None
        self.zone: tzinfo | None = None
        self.builds = 0


def _cache() -> _SnapshotCache:
    # Kept on the application, so two apps (tests, several sites) never share a page.
    return current_app.extensions.setdefault(_CACHE_KEY, _SnapshotCache())


def snapshot(now: datetime | None = None) -> Snapshot:
    """What a visitor sees now: from the cache while the page version and the day hold."""
    now = as_utc(now) if now else utcnow()
    cache = _cache()
    version = page_version()
    with cache.lock:
        current, zone = cache.current, cache.zone
    if (current is not None and zone is not None and current.version == version
            and current.today == now.astimezone(zone).date()):
        return current
    built, zone = _build(version, now)
    with cache.lock:
        cache.current, cache.zone = built, zone
        cache.builds += 1
    return built


def build_count() -> int:
    """How many times this application has built a snapshot (the cache's hit rate, inverted)."""
    return _cache().builds


def _build(version: int, now: datetime) -> tuple[Snapshot, tzinfo]:
    settings = get_page_settings()
    zone = settings.zone
    today = now.astimezone(zone).date()
    tree = _tree(now, zone)
    # The tree holds exactly the visible components, which alone decide the banner.
    visible = [m.status for item in tree
               for m in (item.components if isinstance(item, GroupView) else (item,))]
    open_incidents = inc.open_incidents()
    maintenance = maint.windows((*ACTIVE_MAINTENANCE_STATUSES,
                                    *UPCOMING_MAINTENANCE_STATUSES))
    active = tuple(_incident_view(m) for m in maintenance
                   if m.status in {s.value for s in ACTIVE_MAINTENANCE_STATUSES})
    upcoming = tuple(_incident_view(m) for m in maintenance
                     if m.status in {s.value for s in UPCOMING_MAINTENANCE_STATUSES})
    snap = Snapshot(
        version=version,
        today=today,
        built_at=now,
        modified_at=max(settings.last_change, _local_midnight(today, zone)),
        settings=_settings_view(settings),
        status=comp.page_status(visible, [str(i.impact) for i in open_incidents]),
        tree=tree,
        open_incidents=tuple(_incident_view(i) for i in open_incidents),
        active_maintenance=active,
        upcoming_maintenance=upcoming,
        past_days=_past_days(today, zone),
    )
    return snap, zone


def _settings_view(settings: PageSettings) -> Settings:
    return Settings(name=settings.name, url=settings.url, logo_url=settings.logo_url,
                    support_url=settings.support_url, time_zone=settings.time_zone)


def _tree(now: datetime, zone: tzinfo) -> tuple[GroupView | ComponentView, ...]:
    items = comp.component_tree()
    shown: list[Component] = []
    for item in items:
        members = item.components if isinstance(item, ComponentGroup) else [item]
        shown.extend(c for c in members if c.visible)
    showcased = [c.id for c in shown if c.showcase]
    days = uptime.uptime_days(showcased, days=UPTIME_DAYS, now=now, zone=zone)
    out: list[GroupView | ComponentView] = []
    for item in items:
        if isinstance(item, ComponentGroup):
            members = tuple(_component_view(c, days.get(c.id)) for c in item.components
                            if c.visible)
            if members:  # a group whose members are all hidden is hidden too
                out.append(GroupView(
                    id=item.id, name=item.name, description=item.description,
                    status=comp.worst_status(m.status for m in members),
                    collapsed=item.collapsed, components=members))
        elif item.visible:
            out.append(_component_view(item, days.get(item.id)))
    return tuple(out)


def _component_view(component: Component, days: Sequence[uptime.UptimeDay] | None
                    ) -> ComponentView:
    bars = tuple(UptimeBar(d.day, d.worst, 100.0 * d.uptime, d.measured) for d in days or ())
    return ComponentView(
        id=component.id, name=component.name, description=component.description,
        status=component.status, showcase=component.showcase, uptime=bars,
        uptime_percentage=uptime.uptime_percentage(days) if days else None,
    )


def _incident_view(incident: Incident) -> IncidentView:
    names = [c.name for c in incident.components]
    for update in incident.updates:
        # Components deleted since still show by the name the update recorded.
        names.extend(a.component_name for a in update.affected if a.component_name not in names)
    return IncidentView(
        id=incident.id, kind=str(incident.kind), name=incident.name, status=incident.status,
        impact=str(incident.impact), started_at=incident.started_at,
        resolved_at=incident.resolved_at, scheduled_for=incident.scheduled_for,
        scheduled_until=incident.scheduled_until, cancelled=incident.cancelled_at is not None,
        components=tuple(names),
        updates=tuple(_update_view(u) for u in incident.updates),
        postmortem_html=(markup.trusted_html(incident.postmortem_html)
                         if incident.postmortem_published else None),
        postmortem_published_at=incident.postmortem_published_at,
    )


def _update_view(update: IncidentUpdate) -> UpdateView:
    return UpdateView(
        id=update.id, status=update.status, body_html=markup.trusted_html(update.body_html),
        display_at=update.display_at,
        affected=tuple(AffectedView(a.component_name, a.old_status, a.new_status)
                       for a in update.affected),
    )


def _local_midnight(day: date, zone: tzinfo) -> datetime:
    return as_utc(datetime.combine(day, time.min, zone))


def _past_days(today: date, zone: tzinfo) -> tuple[DayView, ...]:
    first = today - timedelta(days=PAST_DAYS - 1)
    found = past.between(_local_midnight(first, zone),
                        _local_midnight(today + timedelta(days=1), zone))
    by_day: dict[date, list[IncidentView]] = {}
    for incident in found:
        view = _incident_view(incident)
        by_day.setdefault(view.occurred_at.astimezone(zone).date(), []).append(view)
    days = (today - timedelta(days=offset) for offset in range(PAST_DAYS))
    return tuple(DayView(day, tuple(by_day.get(day, ()))) for day in days)


# --- one incident ---------------------------------------------------------------------------------

def incident(incident_id: Any) -> IncidentView:
    """One incident or maintenance with its whole timeline, or NotFound."""
    return _incident_view(inc.get_incident(incident_id))


# --- history --------------------------------------------------------------------------------------

def _add_months(month: date, count: int) -> date:
    index = month.year * 12 + month.month - 1 + count
    return date(index // 12, index % 12 + 1, 1)


def history(page_number: int, now: datetime | None = None) -> HistoryPage:
    """One page of /history: HISTORY_PAGE_SIZE months, newest first, or NotFound past the end."""
    now = as_utc(now) if now else utcnow()
    size = max(1, int(current_app.config.get("HISTORY_PAGE_SIZE") or 1))
    zone = get_page_settings().zone
    this_month = now.astimezone(zone).date().replace(day=1)
    try:
        newest = _add_months(this_month, -size * (page_number - 1))
        oldest = _add_months(newest, -(size - 1))
        window_start = _local_midnight(oldest, zone)
        window_end = _local_midnight(_add_months(newest, 1), zone)
    except (ValueError, OverflowError):  # before the calendar begins: nothing there
        raise NotFound("No such page of the history.", "page") from None
    first = past.oldest_occurrence()
    if page_number < 1 or (page_number > 1 and (first is None or first >= window_end)):
        raise NotFound("No such page of the history.", "page")
    by_month: dict[date, list[IncidentView]] = {}
    # One query for the whole page (the incident indexes cover it), split by month here.
    for found in past.between(window_start, window_end):
        view = _incident_view(found)
        by_month.setdefault(view.occurred_at.astimezone(zone).date().replace(day=1),
                            []).append(view)
    months = tuple(MonthView(m, tuple(by_month.get(m, ())))
                   for m in (_add_months(newest, -k) for k in range(size)))
    return HistoryPage(
        number=page_number,
        months=months,
        newer=page_number - 1 if page_number > 1 else None,
        older=page_number + 1 if first is not None and first < window_start else None,
    )

