"""Emails: what each delivery says, as a multipart text and HTML message.

One ``.txt`` and one ``.html`` template per kind of email (``templates/email/``), filled with
the notice's incident and update and the subscriber's own signed links; threading headers so
one incident's emails stay together, and the list headers mail clients unsubscribe with. Each
email is written in its subscriber's language (a confirmation link in the language of the
choice it confirms).
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import parseaddr
from types import SimpleNamespace
from typing import Any

from flask import current_app, render_template
from flask_babel import force_locale, gettext
from flask_mail import Message

from . import links, times
from .components import Component, find, parse_component_status
from .dbtypes import parse_id, utcnow
from .extensions import db
from .incidents import Incident, IncidentUpdate
from .markup import render_markdown, to_plain_text
from .outbox import Delivery, DeliveryKind, Notice, NoticeKind
from .signup import pending_components, pending_request
from .site import PageSettings, get_page_settings
from .subscriptions import Subscriber, TokenPurpose, make_token
from .validation import ValidationError
from .vocabulary import DEFAULT_BODIES, body_text, status_label

SUBJECT_MAX = 250


class Undeliverable(Exception):
    """A delivery that can never be sent as it stands (its incident or subscriber is gone)."""


def header_text(value: str, max_length: int = SUBJECT_MAX) -> str:
    """One line of printable text: CR, LF and other controls become spaces (no injection)."""
    printable = "".join(ch if ch.isprintable() else " " for ch in value or "")
    return " ".join(printable.split())[:max_length]


def thread_id(incident_id: int, page: PageSettings) -> str:
    """The Message-ID every email about one incident refers to, so clients thread them."""
    return f"<incident-{incident_id}.{page.page_code}@{links.host()}>"


def message_id(delivery_id: int, page: PageSettings) -> str:
    """The Message-ID of one delivery; the same on a retry, so a resend can be deduplicated."""
    return f"<delivery-{delivery_id}.{page.page_code}@{links.host()}>"


def _local(value: datetime | None, page: PageSettings) -> str:
    return times.local(value, page.zone) if value is not None else ""


def sender(page: PageSettings) -> tuple[str, str] | str:
    """The From of every email: MAIL_DEFAULT_SENDER, named after the page unless it names
    itself."""
    name, address = parseaddr(current_app.config["MAIL_DEFAULT_SENDER"])
    return (header_text(name or page.name, 100), address) if address else address


@dataclass
class RenderContext:
    """What the emails of one batch share: the page, and each notice loaded once."""

    page: PageSettings
    notices: dict[int, tuple[Notice, Incident | None, IncidentUpdate | None]] = field(
        default_factory=dict)

    def notice(self, notice_id: int | None) -> tuple[Notice, Incident, IncidentUpdate | None]:
        """The notice, its incident and its update; Undeliverable once any is gone."""
        if notice_id is None:
            raise Undeliverable("The notice of this email was deleted.")
        if notice_id not in self.notices:
            notice = db.session.get(Notice, notice_id)
            if notice is None:
                raise Undeliverable("The notice of this email was deleted.")
            incident = db.session.get(Incident, notice.incident_id) if notice.incident_id else None
            update = db.session.get(IncidentUpdate, notice.update_id) if notice.update_id else None
            self.notices[notice_id] = (notice, incident, update)
        notice, incident, update = self.notices[notice_id]
        if incident is None or (notice.kind is NoticeKind.INCIDENT_UPDATE and update is None):
            raise Undeliverable("The incident was deleted before this email was sent.")
        return notice, incident, update


def _links(subscriber: Subscriber) -> dict[str, str]:
    return {
        "manage_url": links.manage(make_token(subscriber, TokenPurpose.MANAGE)),
        "unsubscribe_url": links.unsubscribe(make_token(subscriber, TokenPurpose.UNSUBSCRIBE)),
    }


def _incident_context(incident: Incident, update: IncidentUpdate | None, page: PageSettings
                      ) -> dict[str, Any]:
    if update is not None and update.affected:
        affected = [(a.component_name, a.new_status.label) for a in update.affected]
    else:
        affected = [(c.name, c.status.label) for c in incident.components]
    return {
        "incident": incident,
        "incident_name": incident.name,
        "incident_url": links.incident(incident.id),
        "affected": affected,
        "window": (gettext("%(start)s to %(end)s", start=_local(incident.scheduled_for, page),
                           end=_local(incident.scheduled_until, page))
                   if incident.is_maintenance and incident.scheduled_for else ""),
    }


def _confirm_values(subscriber: Subscriber, values: dict[str, Any]) -> str:
    """Add the confirmation link's values; returns the language of the choice it confirms."""
    values["confirm_url"] = links.confirm(make_token(subscriber, TokenPurpose.CONFIRM))
    values["max_age_days"] = current_app.config["CONFIRM_TOKEN_MAX_AGE_DAYS"]
    pending = pending_request(subscriber)
    if pending is None:
        return subscriber.language
    values.update(pending=pending, chosen=[c.name for c in pending_components(pending)])
    return pending.language


def render_delivery(delivery: Delivery, context: RenderContext | None = None) -> Message:
    """The email for one delivery: multipart text and HTML, with threading and list headers,
    in the subscriber's language."""
    context = context or RenderContext(get_page_settings())
    subscriber = (db.session.get(Subscriber, delivery.subscriber_id)
                  if delivery.subscriber_id is not None else None)
    if subscriber is None:
        raise Undeliverable("The subscriber of this email no longer exists.")
    if subscriber.quarantined:
        raise Undeliverable("The address is quarantined after repeated permanent failures.")
    values: dict[str, Any] = {"page": context.page, "subscriber": subscriber,
                              "support_url": context.page.support_url or context.page.url}
    language = subscriber.language
    if delivery.kind is DeliveryKind.CONFIRM:
        language = _confirm_values(subscriber, values)
    with force_locale(language):
        message = _message(delivery, context, values)
    message.msgId = message_id(delivery.id, context.page)
    return message


def _message(delivery: Delivery, context: RenderContext, values: dict[str, Any]) -> Message:
    """The message of one delivery in the current language (``force_locale`` chose it)."""
    page = context.page
    headers = {"Auto-Submitted": "auto-generated", "X-Auto-Response-Suppress": "All"}
    kind = delivery.kind
    if kind is DeliveryKind.CONFIRM:
        subject = (gettext("Confirm the change to your subscription")
                   if values["subscriber"].confirmed and "pending" in values
                   else gettext("Confirm your subscription"))
        template = "confirm"
    elif kind is DeliveryKind.MANAGE:
        values.update(_links(values["subscriber"]))
        subject = gettext("Manage your subscription")
        template = "manage"
    else:
        notice, incident, update = context.notice(delivery.notice_id)
        values.update(_links(values["subscriber"]))
        values.update(_incident_context(incident, update, page))
        headers["List-Unsubscribe"] = f"<{values['unsubscribe_url']}>"
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        headers["In-Reply-To"] = headers["References"] = thread_id(incident.id, page)
        if kind is DeliveryKind.MAINTENANCE_REMINDER:
            values["starts_at"] = _local(incident.scheduled_for, page)
            subject = gettext("%(name)s - Starts %(time)s", name=incident.name,
                              time=values["starts_at"])
            template = "maintenance_reminder"
        else:
            assert update is not None
            label = str(status_label(update.status))
            subject = f"{incident.name} - {label}"
            body = str(body_text(update.body))
            values.update(
                status_label=label,
                body_html=render_markdown(body),
                body_text=html.unescape(to_plain_text(body)),
                posted_at=_local(update.display_at, page),
            )
            template = "incident_update"
    return Message(
        subject=header_text(f"[{page.name}] {subject}"),
        recipients=[delivery.to_address],
        sender=sender(page),
        reply_to=current_app.config.get("MAIL_REPLY_TO") or None,
        body=render_template(f"email/{template}.txt", **values),
        html=render_template(f"email/{template}.html", **values),
        extra_headers=headers,
    )


def preview_update(*, name: str, status: str, body: str, components: Mapping[str, str],
                   incident_id: Any = None, language: str) -> dict[str, str]:
    """The subject and text of the email an update would send, in ``language``, for ops to read
    before they post: nothing is written, and the subscriber's own links are stand-ins."""
    page = get_page_settings()
    incident = db.session.get(Incident, parse_id(incident_id)) if incident_id else None
    affected = []
    for raw_id, raw_status in components.items():
        component = find(Component, raw_id)
        if component is None:
            raise ValidationError(f"Unknown component {raw_id!r}.", "components")
        affected.append((component.name, parse_component_status(raw_status).label))
    if not affected and incident is not None:
        affected = [(c.name, c.status.label) for c in incident.components]
    with force_locale(language):
        label = str(status_label(status))
        shown = str(body_text(body or DEFAULT_BODIES.get(status, "")))
        values = {
            "page": page, "support_url": page.support_url or page.url,
            "subscriber": SimpleNamespace(email="subscriber@example.com"),
            "incident": SimpleNamespace(is_maintenance=bool(incident and
                                                            incident.is_maintenance)),
            "incident_name": name or (incident.name if incident else ""),
            "incident_url": links.incident(incident.id) if incident else links.home(),
            "affected": [(n, str(s)) for n, s in affected], "window": "",
            "status_label": label, "body_text": html.unescape(to_plain_text(shown)),
            "posted_at": _local(utcnow(), page),
            "manage_url": links.manage("token"), "unsubscribe_url": links.unsubscribe("token"),
        }
        subject = header_text(f"[{page.name}] {values['incident_name']} - {label}")
        return {"subject": subject, "text": render_template("email/incident_update.txt",
                                                            **values)}


def test_message(address: str, relay: str) -> Message:
    """The email ``send-test-mail`` sends: it proves the mail settings work."""
    page = get_page_settings()
    return Message(
        subject=header_text(f"[{page.name}] Test email"), recipients=[address],
        sender=sender(page),
        body=(f"This is a test email from the status page {page.name} ({links.home()}).\n\n"
              f"It left through the mail relay {relay}, so the mail settings work.\n"),
        extra_headers={"Auto-Submitted": "auto-generated"})
