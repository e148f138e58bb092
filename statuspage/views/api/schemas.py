"""Every shape the two APIs answer with, one pydantic model each, read from the domain objects.

Pydantic rather than marshmallow: its JSON Schema output is Draft 2020-12, the dialect of
OpenAPI 3.1, with no plug-in.

Each model is the one definition of its shape: ``of(...)`` reads the domain object into it,
``model_dump(mode="json")`` is the answer, and ``model_json_schema()`` its part of the OpenAPI
document. The schemas are strict (every field present, nothing extra): Statuspage clients read
exactly these fields. A management (v1) object is its public (v2) object plus the management
fields, so each v1 model subclasses the v2 one. Request bodies are in ``inputs``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Annotated, Any, Literal, Self

from flask import current_app
from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, WithJsonSchema

from ... import components as comp
from ... import incidents as inc
from ... import links, site
from ... import subscriptions as subs
from ...times import iso_utc
from ...vocabulary import ComponentStatus, Impact, IncidentStatus, Indicator, MaintenanceStatus
from .inputs import MAINTENANCE_FLAGS

TIMESTAMP_PATTERN = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}(Z|[+-]\d\d:\d\d)$"
DESCRIPTIONS = ("All Systems Operational", "Minor Service Outage", "Partial System Outage",
                "Major System Outage", "Degraded System Service", "Partially Degraded Service",
                "Service Under Maintenance")

# ISO 8601 in UTC with milliseconds, as Statuspage writes every time.
Timestamp = Annotated[datetime, PlainSerializer(iso_utc, return_type=str), WithJsonSchema({
    "type": "string", "format": "date-time", "pattern": TIMESTAMP_PATTERN,
    "examples": ["2024-05-14T09:12:40.118Z"]})]
Id = Annotated[str, Field(description="Ids are strings.")]
Url = Annotated[str, Field(json_schema_extra={"format": "uri"})]
UpdateStatus = IncidentStatus | MaintenanceStatus


class Shape(BaseModel):
    """Base of the answers: no field may be missing or extra."""

    model_config = ConfigDict(extra="forbid", json_schema_serialization_defaults_required=True)


def component_ref(item: comp.Component | comp.ComponentGroup) -> str:
    """The API id of a component or group; groups are prefixed, as both tables count from 1."""
    return f"g{item.id}" if isinstance(item, comp.ComponentGroup) else str(item.id)


# --- public API v2 ------------------------------------------------------------------------------

class Page(Shape):
    """The page; identical in every endpoint."""

    id: Id = Field(description="The page_id the management API accepts.")
    name: str
    url: Url
    time_zone: str = Field(description="An IANA time zone name.")
    updated_at: Timestamp

    @classmethod
    def values(cls) -> dict[str, Any]:
        """The fields, from the page settings."""
        settings = site.get_page_settings()
        return {"id": settings.page_code, "name": settings.name,
                "url": settings.url or current_app.config["BASE_URL"],
                "time_zone": settings.time_zone, "updated_at": settings.last_change}

    @classmethod
    def of(cls) -> Self:
        """The page, now."""
        return cls(**cls.values())


@dataclass
class Context:
    """What every object of one answer shares: the page and the components' order."""

    page: Page
    items: list[comp.ComponentGroup | comp.Component] = field(default_factory=list)
    positions: dict[str, int] = field(default_factory=dict)

    @classmethod
    def build(cls) -> Context:
        """The page, and every component in page order (each group followed by its members)."""
        items: list[comp.ComponentGroup | comp.Component] = []
        for item in comp.component_tree():
            items.append(item)
            if isinstance(item, comp.ComponentGroup):
                items.extend(item.components)
        # Positions count through the page as shown, since clients sort one flat list by them.
        return cls(page=Page.of(), items=items,
                   positions={component_ref(item): n + 1 for n, item in enumerate(items)})


class Status(Shape):
    """The rollup of the page; the banner says the same."""

    indicator: Indicator
    description: Literal[DESCRIPTIONS]  # type: ignore[valid-type]

    @classmethod
    def of(cls, status: comp.PageStatus) -> Self:
        """The page status as the API spells it."""
        return cls(indicator=status.indicator, description=status.description)


class Component(Shape):
    """A component (not a group)."""

    id: Id
    name: str
    status: ComponentStatus
    created_at: Timestamp
    updated_at: Timestamp
    position: int = Field(description="Order on the page, from 1.")
    description: str | None
    showcase: bool
    start_date: date | None
    group_id: str | None
    page_id: Id
    group: Literal[False] = False
    only_show_if_degraded: bool

    @classmethod
    def values(cls, component: comp.Component, ctx: Context) -> dict[str, Any]:
        """The fields of a component."""
        ref = component_ref(component)
        return {
            "id": ref, "name": component.name, "status": component.status,
            "created_at": component.created_at, "updated_at": component.updated_at,
            "position": ctx.positions.get(ref, component.position),
            "description": component.description, "showcase": component.showcase,
            "start_date": component.start_date,
            "group_id": component_ref(component.group) if component.group else None,
            "page_id": ctx.page.id, "only_show_if_degraded": component.only_show_if_degraded,
        }

    @classmethod
    def of(cls, component: Any, ctx: Context) -> Self:
        """The answer for one component."""
        return cls(**cls.values(component, ctx))


class ComponentGroup(Component):
    """A component group, in the shape of a component with its members' ids."""

    group: Literal[True] = True  # type: ignore[assignment]
    components: list[str] = Field(description="The members' ids.")

    @classmethod
    def values(cls, group: Any, ctx: Context) -> dict[str, Any]:
        """The fields of a group: a component's, its worst member's status, its members."""
        ref = component_ref(group)
        return {
            "id": ref, "name": group.name, "status": group.status,
            "created_at": group.created_at,
            "updated_at": max([group.updated_at, *(c.updated_at for c in group.components)]),
            "position": ctx.positions.get(ref, group.position),
            "description": group.description, "showcase": False, "start_date": None,
            "group_id": None, "page_id": ctx.page.id, "only_show_if_degraded": False,
            "components": [component_ref(c) for c in group.components],
        }


def any_component(item: comp.Component | comp.ComponentGroup, ctx: Context,
                  plain: type[Component] = Component,
                  grouped: type[ComponentGroup] = ComponentGroup) -> Component:
    """A component or a group, each in its model."""
    return (grouped if isinstance(item, comp.ComponentGroup) else plain).of(item, ctx)


class AffectedComponent(Shape):
    """A component an update moved, with the status it moved from and to."""

    code: str | None = Field(description="The component's id; null once it was deleted.")
    name: str
    old_status: ComponentStatus
    new_status: ComponentStatus


class IncidentUpdate(Shape):
    """One update of an incident or maintenance."""

    id: Id
    status: UpdateStatus
    body: str = Field(description="Markdown.")
    incident_id: Id
    created_at: Timestamp
    updated_at: Timestamp
    display_at: Timestamp
    affected_components: list[AffectedComponent] | None
    deliver_notifications: bool
    custom_tweet: None = None
    tweet_id: None = None

    @classmethod
    def of(cls, update: inc.IncidentUpdate) -> Self:
        """An update; ``affected_components`` is null when it touched none."""
        affected = [AffectedComponent(
            code=str(a.component_id) if a.component_id is not None else None,
            name=a.component_name, old_status=a.old_status, new_status=a.new_status)
            for a in update.affected]
        return cls(id=str(update.id), status=update.status, body=update.body,
                   incident_id=str(update.incident_id), created_at=update.created_at,
                   updated_at=update.updated_at, display_at=update.display_at,
                   affected_components=affected or None,
                   deliver_notifications=update.deliver_notifications)


class Incident(Shape):
    """An incident with its updates, newest first."""

    id: Id
    name: str
    status: IncidentStatus
    created_at: Timestamp
    updated_at: Timestamp
    monitoring_at: Timestamp | None
    resolved_at: Timestamp | None
    impact: Impact
    shortlink: Url
    started_at: Timestamp
    page_id: Id
    incident_updates: list[IncidentUpdate] = Field(description="Newest first.")
    components: list[Component]

    @classmethod
    def values(cls, incident: inc.Incident, ctx: Context) -> dict[str, Any]:
        """The fields of an incident."""
        return {
            "id": str(incident.id), "name": incident.name, "status": incident.status,
            "created_at": incident.created_at, "updated_at": incident.updated_at,
            "monitoring_at": incident.monitoring_at, "resolved_at": incident.resolved_at,
            "impact": incident.impact, "shortlink": links.incident(incident.id),
            "started_at": incident.started_at, "page_id": ctx.page.id,
            "incident_updates": [IncidentUpdate.of(u) for u in incident.updates],
            "components": [Component.of(c, ctx) for c in incident.components],
        }

    @classmethod
    def of(cls, incident: inc.Incident, ctx: Context) -> Self:
        """The answer for one incident."""
        return cls(**cls.values(incident, ctx))


class ScheduledMaintenance(Incident):
    """A scheduled maintenance: an incident with a window."""

    status: MaintenanceStatus  # type: ignore[assignment]
    scheduled_for: Timestamp | None
    scheduled_until: Timestamp | None

    @classmethod
    def values(cls, maintenance: inc.Incident, ctx: Context) -> dict[str, Any]:
        """The incident's fields and the window."""
        return {**super().values(maintenance, ctx), "scheduled_for": maintenance.scheduled_for,
                "scheduled_until": maintenance.scheduled_until}


class StatusResponse(Shape):
    """The rollup only."""

    page: Page
    status: Status


class ComponentsResponse(Shape):
    """Every component, by position."""

    page: Page
    components: list[Component | ComponentGroup]


class IncidentsResponse(Shape):
    """Incidents, newest first."""

    page: Page
    incidents: list[Incident]


class ScheduledMaintenancesResponse(Shape):
    """Maintenances, newest first."""

    page: Page
    scheduled_maintenances: list[ScheduledMaintenance]


class SummaryResponse(Shape):
    """Everything the status widget shows."""

    page: Page
    components: list[Component | ComponentGroup]
    incidents: list[Incident]
    scheduled_maintenances: list[ScheduledMaintenance]
    status: Status


# --- management API v1: the v2 objects plus what the management API adds -------------------------

class PageV1(Page):
    """The page: the v2 page and its settings."""

    created_at: Timestamp | None
    support_url: str | None

    @classmethod
    def values(cls) -> dict[str, Any]:
        """The v2 fields and the settings only the management API shows."""
        settings = site.get_page_settings()
        return {**super().values(), "created_at": settings.created_at,
                "support_url": settings.support_url}


class ComponentV1(Component):
    """A component as v2 shows it, plus ``automation_email``."""

    automation_email: None = Field(None, description="Always null: no email automation here.")


class ComponentGroupV1(ComponentGroup):
    """A component group as v2 shows it, plus ``automation_email``."""

    automation_email: None = Field(None, description="Always null: no email automation here.")


def any_managed_component(item: comp.Component | comp.ComponentGroup, ctx: Context
                          ) -> Component:
    """A component or a group, each in its v1 model."""
    return any_component(item, ctx, ComponentV1, ComponentGroupV1)


class IncidentV1(ScheduledMaintenance):
    """The v2 incident (with the maintenance window) plus its management fields."""

    status: UpdateStatus  # type: ignore[assignment]
    impact_override: Impact | None
    postmortem_body: str | None
    postmortem_body_last_updated_at: Timestamp | None
    postmortem_published_at: Timestamp | None
    scheduled_auto_in_progress: bool
    scheduled_auto_completed: bool
    auto_transition_to_maintenance_state: bool
    auto_transition_to_operational_state: bool
    scheduled_remind_prior: bool
    auto_transition_deliver_notifications_at_start: bool
    auto_transition_deliver_notifications_at_end: bool
    backfilled: bool = False
    metadata: dict[str, Any] = Field(default_factory=dict)

    @classmethod
    def values(cls, incident: inc.Incident, ctx: Context) -> dict[str, Any]:
        """The v2 fields, the postmortem and the automation flags (false for incidents)."""
        maintenance = incident.is_maintenance
        flags = {api: bool(getattr(incident, domain)) and maintenance
                 for api, domain in MAINTENANCE_FLAGS.items()}
        return {
            **super().values(incident, ctx), "impact_override": incident.impact_override,
            "postmortem_body": incident.postmortem_body,
            "postmortem_body_last_updated_at": incident.postmortem_updated_at,
            "postmortem_published_at": incident.postmortem_published_at, **flags,
            # The scheduler always notifies when it starts or completes a window.
            "auto_transition_deliver_notifications_at_start": maintenance,
            "auto_transition_deliver_notifications_at_end": maintenance,
        }


class Postmortem(Shape):
    """An incident's postmortem (Markdown), public once published."""

    body: str | None
    body_draft: str | None
    body_updated_at: Timestamp | None
    published_at: Timestamp | None

    @classmethod
    def of(cls, incident: inc.Incident) -> Self:
        """The postmortem: one Markdown body, which is also the draft."""
        return cls(body=incident.postmortem_body, body_draft=incident.postmortem_body,
                   body_updated_at=incident.postmortem_updated_at,
                   published_at=incident.postmortem_published_at)


class Subscriber(Shape):
    """A subscriber (email, webhook, Slack or Teams); ``purge_at`` is when an unconfirmed
    one will be deleted; a webhook's ``email`` is its contact."""

    id: Id
    mode: Literal["email", "webhook", "slack", "teams"] = "email"
    email: str | None = Field(json_schema_extra={"format": "email"})
    endpoint: str | None = Field(description="Where a webhook, Slack or Teams subscriber's "
                                             "messages are POSTed.")
    signing_secret: str | None = Field(description="A webhook's HMAC-SHA256 key for the "
                                                   "X-Statuspage-Signature header.")
    components: list[str]
    language: str = Field(description="The language of its emails (en, pl).")
    quarantined_at: Timestamp | None
    purge_at: Timestamp | None
    created_at: Timestamp

    @classmethod
    def of(cls, subscriber: subs.Subscriber, ctx: Context) -> Self:
        """A subscriber, the components it hears about in page order."""
        # In page order: the relationship orders by position, which ties across groups.
        wanted = {c.id for c in subscriber.components}
        chosen = [component_ref(c) for c in ctx.items if isinstance(c, comp.Component)
                  and (subscriber.all_components or c.id in wanted)]
        purge_at = None
        if subscriber.confirmed_at is None:
            purge_at = ((subscriber.link_sent_at or subscriber.created_at)
                        + subs.confirm_max_age())
        return cls(id=str(subscriber.id), mode=subscriber.channel.value, email=subscriber.email,
                   endpoint=subscriber.endpoint, signing_secret=subscriber.secret,
                   components=chosen, language=subscriber.language,
                   quarantined_at=subscriber.quarantined_at, purge_at=purge_at,
                   created_at=subscriber.created_at)


class Error(BaseModel):
    """Every error of both APIs; ``views.http.json_error`` writes it."""

    error: str = Field(description="The HTTP reason phrase.",
                       examples=["Unprocessable Entity"])
    message: str = Field(description="What went wrong; a 422's starts with the field's name.",
                         examples=["status: Unknown status 'broken'; use one of ..."])
    field: str = Field(None, description="The field to blame, when one is.")
