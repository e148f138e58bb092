"""The bodies webhook subscribers receive, in Statuspage's webhook shapes.

An incident notice sends ``meta``, ``page`` and ``incident`` (the incident as v2 serialises
it, with the fields Statuspage's webhooks add); a component status set outside any incident
sends ``meta``, ``page``, ``component_update`` and ``component``. The models are the v2 ones
extended, so the API and the webhooks cannot drift apart; ``init_app`` hands ``payload`` to
the webhook channel, which renders each notice once and fills in each subscriber's
unsubscribe link.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from flask import Flask

from ... import page as snapshot
from ...components import Component as ComponentRow
from ...components import ComponentStatusChange
from ...dbtypes import utcnow
from ...extensions import db
from ...incidents import Incident as IncidentRow
from ...outbox import Notice, NoticeKind
from ...vocabulary import ComponentStatus, Indicator
from .inputs import MAINTENANCE_FLAGS
from .schemas import (
    DESCRIPTIONS,
    Component,
    Context,
    Id,
    Incident,
    IncidentUpdate,
    Shape,
    Timestamp,
    Url,
)

DOCUMENTATION = "https://doers.statuspage.io/customer-notifications/webhooks/"
PAYLOAD_BUILDER = "statuspage.webhook_payload"


class Meta(Shape):
    """About the delivery: where to unsubscribe, what the payload means, when it was made."""

    unsubscribe: Url
    documentation: Url
    generated_at: Timestamp


class WebhookPage(Shape):
    """The page and its status now."""

    id: Id
    status_indicator: Indicator
    status_description: Literal[DESCRIPTIONS]  # type: ignore[valid-type]


class WebhookIncidentUpdate(IncidentUpdate):
    """A v2 incident update with the fields Statuspage's webhooks add."""

    wants_twitter_update: bool = False
    twitter_updated_at: None = None


class WebhookIncident(Incident):
    """A v2 incident with the management fields Statuspage's webhooks carry."""

    incident_updates: list[WebhookIncidentUpdate]  # type: ignore[assignment]
    postmortem_ignored: bool = False
    postmortem_body: str | None
    postmortem_body_last_updated_at: Timestamp | None
    postmortem_published_at: Timestamp | None
    postmortem_notified_subscribers: bool = False
    postmortem_notified_twitter: bool = False
    backfilled: bool = False
    scheduled_for: Timestamp | None
    scheduled_until: Timestamp | None
    scheduled_remind_prior: bool
    scheduled_reminded_at: Timestamp | None = None
    impact_override: str | None
    scheduled_auto_in_progress: bool
    scheduled_auto_completed: bool

    @classmethod
    def values(cls, incident: IncidentRow, ctx: Context) -> dict[str, Any]:
        """The v2 fields, each update widened, the postmortem and the window."""
        flags = {api: bool(getattr(incident, domain)) and incident.is_maintenance
                 for api, domain in MAINTENANCE_FLAGS.items()
                 if api in cls.model_fields}
        values = super().values(incident, ctx)
        values["incident_updates"] = [WebhookIncidentUpdate(**u.model_dump())
                                      for u in values["incident_updates"]]
        return {**values, **flags, "postmortem_body": incident.postmortem_body,
                "postmortem_body_last_updated_at": incident.postmortem_updated_at,
                "postmortem_published_at": incident.postmortem_published_at,
                "scheduled_for": incident.scheduled_for,
                "scheduled_until": incident.scheduled_until,
                "impact_override": incident.impact_override}


class ComponentUpdate(Shape):
    """One status change of a component."""

    old_status: ComponentStatus | None
    new_status: ComponentStatus
    created_at: Timestamp
    component_type: Literal["Component"] = "Component"
    id: Id
    component_id: Id


class IncidentWebhook(Shape):
    """What an incident's creation or update POSTs."""

    meta: Meta
    page: WebhookPage
    incident: WebhookIncident


class ComponentWebhook(Shape):
    """What a component's status change POSTs."""

    meta: Meta
    page: WebhookPage
    component_update: ComponentUpdate
    component: Component


def payload(notice: Notice, unsubscribe: str, now: datetime | None = None
            ) -> dict[str, Any] | None:
    """The JSON body a notice sends, with ``unsubscribe`` as the link; None when what it
    announces is gone."""
    ctx = Context.build()
    status = snapshot.snapshot().status
    meta = Meta(unsubscribe=unsubscribe, documentation=DOCUMENTATION,
                generated_at=now or utcnow())
    page = WebhookPage(id=ctx.page.id, status_indicator=status.indicator,
                       status_description=status.description)
    if notice.kind is NoticeKind.COMPONENT_UPDATE:
        change = (db.session.get(ComponentStatusChange, notice.status_change_id)
                  if notice.status_change_id is not None else None)
        component = (db.session.get(ComponentRow, change.component_id)
                     if change is not None else None)
        if change is None or component is None:
            return None
        update = ComponentUpdate(old_status=change.from_status, new_status=change.to_status,
                                 created_at=change.changed_at, id=str(change.id),
                                 component_id=str(change.component_id))
        body: Shape = ComponentWebhook(meta=meta, page=page, component_update=update,
                                       component=Component.of(component, ctx))
    else:
        incident = db.session.get(IncidentRow, notice.incident_id) if notice.incident_id else None
        if incident is None:
            return None
        body = IncidentWebhook(meta=meta, page=page,
                               incident=WebhookIncident.of(incident, ctx))
    return body.model_dump(mode="json")


def init_app(app: Flask) -> None:
    """Hand the payload builder to the webhook channel, which sits below the views."""
    app.extensions[PAYLOAD_BUILDER] = payload
