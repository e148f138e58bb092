"""Slack and Microsoft Teams: messages for a channel's incoming webhook, rendered once per
notice, with the subscriber's links filled in per recipient.

Slack gets Block Kit blocks inside an attachment, whose colour bar is the impact's; Teams an
Adaptive Card (1.4) in the connector message envelope, its header styled by the impact. Both
carry the incident's name, status, impact, the update's text, the affected components, a
link to the incident and an unsubscribe link, in the subscriber's language (that of the page
the channel was added from), rendered once per notice and language. Threads: an incoming
webhook answers Slack's ``ok`` (or Teams' ``1``) and never the id of the message it posted,
so a later message cannot reply in a thread or update a card; each update is a message of
its own, named after its incident. A subscription starts with a message posted to the
channel whose link activates it.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask_babel import force_locale, gettext

from .. import links, times
from ..emails import RENDER_MAX_AGE, Undeliverable, header_text, link_tokens
from ..extensions import db
from ..incidents import Incident, IncidentUpdate
from ..languages import DEFAULT_LANGUAGE
from ..markup import markdown_to_text
from ..outbox import DeliveryKind, Notice
from ..site import PageSettings, get_page_settings
from ..subscriptions import TokenPurpose
from ..vocabulary import DONE_STATUSES, body_text, impact_label, status_label
from .webhook import USER_AGENT, Request

SLACK_COLOURS = {"none": "#8a94a6", "minor": "#f1c40f", "major": "#e67e22",
                 "critical": "#e74c3c", "maintenance": "#3498db", "resolved": "#2fcc66"}
TEAMS_STYLES = {"none": "emphasis", "minor": "warning", "major": "attention",
                "critical": "attention", "maintenance": "accent", "resolved": "good"}
TEAMS_COLOURS = {"emphasis": "default", "warning": "warning", "attention": "attention",
                 "accent": "accent", "good": "good"}
SLOTS = {TokenPurpose.CONFIRM: "\x00confirm\x00", TokenPurpose.MANAGE: "\x00manage\x00",
         TokenPurpose.UNSUBSCRIBE: "\x00unsubscribe\x00"}
_BUILD = {TokenPurpose.CONFIRM: links.confirm, TokenPurpose.MANAGE: links.manage,
          TokenPurpose.UNSUBSCRIBE: links.unsubscribe}
TEXT_MAX = 2900  # Slack refuses a section's text over 3000 characters
FIELDS_MAX = 10  # and a section's fields past ten


@dataclass(frozen=True)
class Story:
    """What a chat message says about one notice, channel-neutral, in one language."""

    title: str
    status: str
    impact: str  # "Impact: Major", as people read it
    tone: str  # the impact, or "resolved" once it is over
    text: str
    components: list[tuple[str, str]]
    url: str
    when: str
    components_heading: str
    view: str  # the link's text
    unsubscribe: str


def story(kind: DeliveryKind, notice_id: int | None, page: PageSettings) -> Story:
    """The incident, its update and its components as a chat message tells them, in the
    current language (``force_locale``)."""
    notice = db.session.get(Notice, notice_id) if notice_id is not None else None
    incident = db.session.get(Incident, notice.incident_id) if notice and notice.incident_id \
        else None
    update = db.session.get(IncidentUpdate, notice.update_id) if notice and notice.update_id \
        else None
    if incident is None or (kind is DeliveryKind.INCIDENT_UPDATE and update is None):
        raise Undeliverable("The incident was deleted before this message was sent.")
    if update is not None and update.affected:
        components = [(a.component_name, str(a.new_status.label)) for a in update.affected]
    else:
        components = [(c.name, str(c.status.label)) for c in incident.components]
    impact = str(incident.impact or "none")
    if kind is DeliveryKind.MAINTENANCE_REMINDER:
        start = times.local(incident.scheduled_for, page.zone) if incident.scheduled_for else ""
        status = gettext("Reminder")
        text, when = gettext("Scheduled maintenance starts %(time)s.", time=start), start
    elif kind is DeliveryKind.POSTMORTEM:
        published = incident.postmortem_published_at
        status = str(status_label("postmortem"))
        text = markdown_to_text(incident.postmortem_body) or status
        when = times.local(published, page.zone) if published else ""
    else:
        assert update is not None
        status = str(status_label(update.status))
        text = markdown_to_text(str(body_text(update.body))) or status
        when = times.local(update.display_at, page.zone)
    tone = "resolved" if incident.status in DONE_STATUSES else impact
    maintenance = incident.is_maintenance
    return Story(header_text(incident.name, 150), status,
                 gettext("Impact: %(impact)s", impact=impact_label(impact)), tone,
                 text[:TEXT_MAX], components[:FIELDS_MAX], links.incident(incident.id), when,
                 gettext("Components in this maintenance") if maintenance
                 else gettext("Affected components"),
                 gettext("View the maintenance") if maintenance else gettext("View the incident"),
                 gettext("Unsubscribe this channel"))


def _invitation(kind: DeliveryKind, page: PageSettings) -> tuple[str, str]:
    """What a confirmation or manage message says, and its button's label."""
    if kind is DeliveryKind.CONFIRM:
        return gettext("Someone asked for %(page)s status updates in this channel. Nothing "
                       "more is posted here until the subscription is activated.",
                       page=page.name), gettext("Activate")
    return gettext("Manage this channel's subscription to %(page)s status updates.",
                   page=page.name), gettext("Manage")


def slack_message(kind: DeliveryKind, notice_id: int | None, page: PageSettings,
                  language: str = DEFAULT_LANGUAGE) -> dict[str, Any]:
    """A Slack message in Block Kit, in ``language``, with slots for the personal links."""
    with force_locale(language):
        return _slack_message(kind, notice_id, page)


def _slack_message(kind: DeliveryKind, notice_id: int | None, page: PageSettings
                   ) -> dict[str, Any]:
    if kind in (DeliveryKind.CONFIRM, DeliveryKind.MANAGE):
        slot = SLOTS[TokenPurpose.CONFIRM if kind is DeliveryKind.CONFIRM
                     else TokenPurpose.MANAGE]
        said, label = _invitation(kind, page)
        return {"text": said, "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": said}},
            {"type": "actions", "elements": [{"type": "button", "url": slot, "style": "primary",
                                              "text": {"type": "plain_text", "text": label}}]}]}
    told = story(kind, notice_id, page)
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": told.title}},
        {"type": "section", "text": {"type": "mrkdwn",
                                     "text": f"*{told.status}* · {told.impact}\n"
                                             f"{told.text}"[:TEXT_MAX]}}]
    if told.components:
        blocks.append({"type": "section", "text": {"type": "mrkdwn",
                                                   "text": f"*{told.components_heading}*"},
                       "fields": [{"type": "mrkdwn", "text": f"*{name}*\n{label}"}
                                  for name, label in told.components]})
    blocks += [
        {"type": "actions", "elements": [{"type": "button", "url": told.url,
                                          "text": {"type": "plain_text", "text": told.view}}]},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": (
            f"{page.name} · {told.when} · "
            f"<{SLOTS[TokenPurpose.UNSUBSCRIBE]}|{told.unsubscribe}>")}]}]
    return {"text": f"{told.title}: {told.status}",
            "attachments": [{"color": SLACK_COLOURS.get(told.tone, SLACK_COLOURS["none"]),
                             "fallback": f"{told.title}: {told.status}", "blocks": blocks}]}


def teams_message(kind: DeliveryKind, notice_id: int | None, page: PageSettings,
                  language: str = DEFAULT_LANGUAGE) -> dict[str, Any]:
    """A Teams connector message carrying one Adaptive Card, in ``language``, with slots for
    the links."""
    with force_locale(language):
        return _teams_message(kind, notice_id, page)


def _teams_message(kind: DeliveryKind, notice_id: int | None, page: PageSettings
                   ) -> dict[str, Any]:
    if kind in (DeliveryKind.CONFIRM, DeliveryKind.MANAGE):
        said, label = _invitation(kind, page)
        body: list[dict[str, Any]] = [{"type": "TextBlock", "text": said, "wrap": True}]
        actions = [{"type": "Action.OpenUrl", "title": label,
                    "url": SLOTS[TokenPurpose.CONFIRM if kind is DeliveryKind.CONFIRM
                                 else TokenPurpose.MANAGE]}]
    else:
        told = story(kind, notice_id, page)
        style = TEAMS_STYLES.get(told.tone, "emphasis")
        body = [{"type": "Container", "style": style, "bleed": True, "items": [
                    {"type": "TextBlock", "text": told.title, "weight": "Bolder",
                     "size": "Medium", "wrap": True},
                    {"type": "TextBlock", "text": f"{told.status} · {told.impact}",
                     "color": TEAMS_COLOURS[style], "spacing": "None", "wrap": True}]},
                {"type": "TextBlock", "text": told.text, "wrap": True}]
        if told.components:
            body += [{"type": "TextBlock", "text": told.components_heading, "weight": "Bolder",
                      "wrap": True},
                     {"type": "FactSet", "spacing": "Small", "facts": [
                         {"title": name, "value": label} for name, label in told.components]}]
        body.append({"type": "TextBlock", "text": f"{page.name} · {told.when}",
                     "isSubtle": True, "size": "Small", "wrap": True})
        actions = [{"type": "Action.OpenUrl", "title": told.view, "url": told.url},
                   {"type": "Action.OpenUrl", "title": told.unsubscribe,
                    "url": SLOTS[TokenPurpose.UNSUBSCRIBE]}]
    card = {"$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
            "type": "AdaptiveCard", "version": "1.4", "body": body, "actions": actions}
    return {"type": "message", "attachments": [{
        "contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None,
        "content": card}]}


@dataclass
class Prepared:
    """One message serialised once, with the slots its recipients' links go into."""

    text: str
    purposes: tuple[TokenPurpose, ...]
    created: float

    def body(self, public_id: str, token_version: int) -> bytes:
        """The message with this subscriber's links."""
        tokens = link_tokens(public_id, token_version, self.purposes)
        text = self.text
        for purpose in self.purposes:
            text = text.replace(json.dumps(SLOTS[purpose])[1:-1],
                                json.dumps(_BUILD[purpose](tokens[purpose]))[1:-1])
        return text.encode()


class _ChatRenderer:
    """Renders each (kind, notice, language) once for one chat service."""

    build = staticmethod(slack_message)

    def __init__(self) -> None:
        self._prepared: dict[tuple[DeliveryKind, int | None, str],
                             Prepared | Undeliverable] = {}
        self._page = get_page_settings()
        if self._page in db.session:
            db.session.expunge(self._page)

    def render(self, item: Any, now: datetime | None = None) -> Request:
        """The request for one claimed delivery; Undeliverable if it cannot be."""
        if item.public_id is None or item.token_version is None or not item.endpoint:
            raise Undeliverable("The subscriber of this message no longer exists.")
        if item.quarantined:
            raise Undeliverable("The channel's webhook is disabled after repeated failures.")
        language = item.language or DEFAULT_LANGUAGE
        key = (item.kind, item.notice_id, language)
        prepared = self._prepared.get(key)
        if isinstance(prepared, Prepared) and time.monotonic() - prepared.created > RENDER_MAX_AGE:
            prepared = None
        if prepared is None:
            try:
                message = self.build(item.kind, item.notice_id, self._page, language)
                text = json.dumps(message, ensure_ascii=False, separators=(",", ":"))
                purposes = tuple(p for p, slot in SLOTS.items()
                                 if json.dumps(slot)[1:-1] in text)
                prepared = Prepared(text, purposes, time.monotonic())
            except Undeliverable as exc:
                prepared = exc
            self._prepared[key] = prepared
        if isinstance(prepared, Undeliverable):
            raise prepared
        return Request(item.endpoint, prepared.body(item.public_id, item.token_version),
                       {"Content-Type": "application/json; charset=utf-8",
                        "User-Agent": USER_AGENT})


class SlackRenderer(_ChatRenderer):
    """Slack incoming-webhook messages."""

    build = staticmethod(slack_message)


class TeamsRenderer(_ChatRenderer):
    """Teams incoming-webhook messages."""

    build = staticmethod(teams_message)
