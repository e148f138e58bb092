"""Incident templates: a name, a status, a message and component statuses to start from.

Ops keep the words they post again and again ("Degraded API performance", with its usual
message and the components it touches) and start a new incident, or an update, from one. A
template is only a starting point: the form it fills is checked as if typed.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from . import components as comp
from .audit import add_audit_entry
from .components import Component
from .dbtypes import UTCDateTime, parse_id, utcnow
from .extensions import db
from .incidents import BODY_MAX, NAME_MAX, parse_status
from .validation import Conflict, NotFound, ValidationError, require_text
from .vocabulary import IncidentKind, IncidentStatus


class IncidentTemplate(db.Model):
    __tablename__ = "incident_template"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(NAME_MAX), unique=True)  # what ops pick it by
    title: Mapped[str] = mapped_column(sa.String(NAME_MAX))  # the incident's name
    status: Mapped[str] = mapped_column(sa.String(32), default=IncidentStatus.INVESTIGATING)
    body: Mapped[str] = mapped_column(sa.Text, default="")
    # "3:partial_outage,5:major_outage": the status each component moves to.
    component_statuses: Mapped[str] = mapped_column(sa.Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def components(self) -> dict[int, str]:
        """Component id to the status it moves to, for those that still exist."""
        pairs = (part.split(":", 1) for part in self.component_statuses.split(",") if part)
        wanted = {int(key): status for key, status in pairs}
        known = set(db.session.scalars(sa.select(Component.id).where(
            Component.id.in_(wanted)))) if wanted else set()
        return {key: status for key, status in wanted.items() if key in known}


def templates() -> list[IncidentTemplate]:
    """Every template, by name."""
    return list(db.session.scalars(sa.select(IncidentTemplate).order_by(IncidentTemplate.name)))


def get_template(template_id: Any) -> IncidentTemplate:
    """The template with this id, or NotFound."""
    key = parse_id(template_id)
    found = db.session.get(IncidentTemplate, key) if key is not None else None
    if found is None:
        raise NotFound("No such incident template.", "template_id")
    return found


def _checked(name: Any, title: Any, status: Any, body: Any,
             components: Mapping[Any, Any] | None) -> dict[str, Any]:
    statuses = []
    for raw_id, raw_status in (components or {}).items():
        component = comp.find(Component, raw_id)
        if component is None:
            raise ValidationError(f"Unknown component {raw_id!r}.", "components")
        statuses.append(f"{component.id}:{comp.parse_component_status(raw_status, 'components')}")
    return {
        "name": require_text(name, "name", max_length=NAME_MAX),
        "title": require_text(title, "title", max_length=NAME_MAX),
        "status": parse_status(IncidentKind.INCIDENT, status),
        "body": require_text(body, "body", max_length=BODY_MAX, required=False,
                             multiline=True),
        "component_statuses": ",".join(statuses),
    }


def _unique_name(name: str, template_id: int | None) -> None:
    clash = db.session.scalar(sa.select(IncidentTemplate.id).where(
        IncidentTemplate.name == name))
    if clash is not None and clash != template_id:
        raise Conflict("A template of this name exists already.", "name")


def save_template(template: IncidentTemplate | None = None, *, name: Any, title: Any,
                  status: Any = IncidentStatus.INVESTIGATING, body: Any = "",
                  components: Mapping[Any, Any] | None = None, actor: str | None = None,
                  now: datetime | None = None) -> IncidentTemplate:
    """Create a template, or change ``template``: every field is checked first."""
    now = now or utcnow()
    fields = _checked(name, title, status, body, components)
    _unique_name(fields["name"], template.id if template else None)
    if template is None:
        template = IncidentTemplate(created_at=now)
        db.session.add(template)
    for key, value in fields.items():
        setattr(template, key, value)
    template.updated_at = now
    db.session.flush()
    add_audit_entry(actor, "template.save", "incident_template", template.id, template.name)
    db.session.commit()
    return template


def delete_template(template: IncidentTemplate, *, actor: str | None = None) -> None:
    """Delete a template; incidents started from it are not touched."""
    add_audit_entry(actor, "template.delete", "incident_template", template.id, template.name)
    db.session.delete(template)
    db.session.commit()
