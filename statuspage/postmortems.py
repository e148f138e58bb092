"""A resolved incident's postmortem: a Markdown draft, published on the incident's page."""

from __future__ import annotations

from datetime import datetime

from . import markup
from .audit import add_audit_entry
from .dbtypes import utcnow
from .extensions import db
from .incidents import BODY_MAX, Incident
from .outbox import NoticeKind, add_notice
from .validation import Conflict, ValidationError, require_text
from .vocabulary import IncidentStatus


def save_postmortem(incident: Incident, body: str, *, actor: str | None = None,
                    now: datetime | None = None) -> Incident:
    """Store the postmortem draft (Markdown), rendered to HTML once, here."""
    if incident.is_maintenance:
        raise Conflict("Maintenance has no postmortem.", "postmortem")
    incident.postmortem_body = require_text(body, "postmortem", max_length=BODY_MAX * 5,
                                            multiline=True,
                                            required=False) or None
    incident.postmortem_html = (markup.stored(incident.postmortem_body).html
                                if incident.postmortem_body else None)
    incident.postmortem_updated_at = now or utcnow()
    add_audit_entry(actor, "incident.postmortem", "incident", incident.id, "draft saved")
    db.session.commit()
    return incident


def publish_postmortem(incident: Incident, *, notify: bool = False, actor: str | None = None,
                       now: datetime | None = None) -> Incident:
    """Publish the postmortem of a resolved incident; with ``notify``, its subscribers who
    want to hear of the incident are told."""
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
    if notify:
        add_notice(NoticeKind.POSTMORTEM, incident_id=incident.id, now=now)
    add_audit_entry(actor, "incident.postmortem_publish", "incident", incident.id)
    db.session.commit()
    return incident


def revert_postmortem(incident: Incident, *, actor: str | None = None) -> Incident:
    """Take a published postmortem back to draft."""
    incident.postmortem_published_at = None
    if incident.status == IncidentStatus.POSTMORTEM:
        incident.status = IncidentStatus.RESOLVED
    incident.updated_at = utcnow()
    add_audit_entry(actor, "incident.postmortem_revert", "incident", incident.id)
    db.session.commit()
    return incident
