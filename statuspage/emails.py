"""Emails: what each delivery says, rendered once per notice and language, filled per recipient.

One ``.txt`` and one ``.html`` template per kind of email (``templates/email/``). A ``Renderer``
renders each (kind, notice, language) once into a ``mime.MessageTemplate`` whose only personal
parts are the address, the subscriber's signed links and the Message-ID, and fills it for each
recipient without a database query. One incident's emails share one subject and refer to one
thread id, so mail clients keep them together; the status is the first line of the body.

Each email is written in its subscriber's language, under ``flask_babel.force_locale``; a
confirmation link in the language of the choice it confirms. A confirmation also shows that
choice, so it is prepared once per language and choice (one lookup of the pending choice per
confirmation; notifications, the many, need none).
"""

from __future__ import annotations

import hmac
import html
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.utils import parseaddr
from types import SimpleNamespace
from typing import Any

import dkim
from flask import current_app, render_template
from flask_babel import force_locale, gettext
from itsdangerous import Serializer
from itsdangerous.encoding import base64_encode, int_to_bytes

from . import links, mime, times
from .components import Component, find, parse_component_status
from .dbtypes import parse_id, utcnow
from .extensions import db
from .incidents import Incident, IncidentUpdate
from .languages import DEFAULT_LANGUAGE
from .markup import markdown_to_text, render_markdown
from .outbox import Delivery, DeliveryKind, Notice, NoticeKind
from .signup import pending_components, pending_request
from .site import PageSettings, get_page_settings
from .subscriptions import Subscriber, TokenPurpose
from .subscriptions import serializer as subs_serializer
from .validation import ValidationError
from .vocabulary import DEFAULT_BODIES, body_text, status_label

SUBJECT_MAX = 250
# A rendered notice is reused this long, so edits to the page or the update show up soon.
RENDER_MAX_AGE = 60.0
# Covered by the DKIM signature (RFC 8058 asks for both List-Unsubscribe headers).
DKIM_HEADERS = (b"From", b"To", b"Subject", b"Date", b"Message-ID", b"Reply-To",
                b"In-Reply-To", b"References", b"List-Id", b"List-Unsubscribe",
                b"List-Unsubscribe-Post", b"MIME-Version", b"Content-Type")


_SIGNERS = "statuspage.emails.signers"


class Undeliverable(Exception):
    """A delivery that can never be sent as it stands (its incident or subscriber is gone)."""


@dataclass(frozen=True, slots=True)
class Addressed:
    """What rendering needs to know of one delivery, as plain values, not an ORM object (a
    claimed delivery is one, so is the row ``render_delivery`` reads)."""

    id: int
    kind: DeliveryKind
    notice_id: int | None
    subscriber_id: int | None
    token_version: int | None
    public_id: str | None  # what the subscriber's links name (never the row id)
    quarantined: bool
    to_address: str
    language: str  # the subscriber's: each email is rendered in it


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


def envelope_sender() -> str:
    """The SMTP envelope sender (MAIL FROM): the address of MAIL_DEFAULT_SENDER."""
    return parseaddr(current_app.config["MAIL_DEFAULT_SENDER"])[1]


def sender(page: PageSettings) -> str:
    """The From of every email: MAIL_DEFAULT_SENDER, named after the page unless it names
    itself; the name is quoted or encoded only when it has to be."""
    name, address = parseaddr(current_app.config["MAIL_DEFAULT_SENDER"])
    return str(Address(display_name=header_text(name or page.name, 100), addr_spec=address))


def _local(value: datetime | None, page: PageSettings) -> str:
    return times.local(value, page.zone) if value is not None else ""


def _common_headers(page: PageSettings) -> list[tuple[str, str]]:
    headers = [("From", sender(page))]
    reply_to = current_app.config.get("MAIL_REPLY_TO")
    if reply_to:
        headers.append(("Reply-To", reply_to))
    return headers + [("Auto-Submitted", "auto-generated"), ("X-Auto-Response-Suppress", "All")]


def _notice_parts(notice_id: int | None) -> tuple[Notice, Incident, IncidentUpdate | None]:
    notice = db.session.get(Notice, notice_id) if notice_id is not None else None
    if notice is None:
        raise Undeliverable("The notice of this email was deleted.")
    incident = db.session.get(Incident, notice.incident_id) if notice.incident_id else None
    update = db.session.get(IncidentUpdate, notice.update_id) if notice.update_id else None
    if incident is None or (notice.kind is NoticeKind.INCIDENT_UPDATE and update is None):
        raise Undeliverable("The incident was deleted before this email was sent.")
    return notice, incident, update


def _incident_values(kind: DeliveryKind, incident: Incident, update: IncidentUpdate | None,
                     page: PageSettings) -> dict[str, Any]:
    if update is not None and update.affected:
        affected = [(a.component_name, a.new_status.label) for a in update.affected]
    else:
        affected = [(c.name, c.status.label) for c in incident.components]
    values: dict[str, Any] = {
        "incident": incident, "incident_name": incident.name,
        "incident_url": links.incident(incident.id), "affected": affected,
        "window": (gettext("%(start)s to %(end)s", start=_local(incident.scheduled_for, page),
                           end=_local(incident.scheduled_until, page))
                   if incident.is_maintenance and incident.scheduled_for else ""),
    }
    if kind is DeliveryKind.MAINTENANCE_REMINDER:
        values["starts_at"] = _local(incident.scheduled_for, page)
    elif kind is DeliveryKind.POSTMORTEM:
        values.update(body_html=render_markdown(incident.postmortem_body),
                      body_text=markdown_to_text(incident.postmortem_body),
                      posted_at=_local(incident.postmortem_published_at, page))
    else:
        assert update is not None
        body = str(body_text(update.body))  # Statuspage's default words in the language
        values.update(status_label=str(status_label(update.status)),
                      body_html=render_markdown(body), body_text=markdown_to_text(body),
                      posted_at=_local(update.display_at, page))
    return values


def link_tokens(public_id: str, token_version: int,
                purposes: Iterable[TokenPurpose]) -> dict[TokenPurpose, str]:
    """The tokens ``make_token`` would make for several purposes, at a fraction of the cost.

    Each purpose's signing key is derived once per process, and the payload and timestamp are
    shared by the purposes: an email carries two links, and a worker signs thousands a second.
    """
    signers = current_app.extensions.setdefault(_SIGNERS, {})
    key = current_app.secret_key
    tokens: dict[TokenPurpose, str] = {}
    value = b""
    for purpose in purposes:
        cached = signers.get((key, purpose))
        if cached is None:
            serializer = subs_serializer(purpose)
            signer = serializer.make_signer(serializer.salt)
            # A keyed HMAC copied per token: OpenSSL's key set-up is most of its cost.
            mac = hmac.new(signer.derive_key(), digestmod=signer.digest_method().name)
            cached = signers[(key, purpose)] = (serializer, signer, mac)
        serializer, signer, keyed = cached
        if not value:
            # As URLSafeTimedSerializer.dumps writes it: a payload this small never compresses.
            payload = base64_encode(Serializer.dump_payload(
                serializer, {"p": public_id, "v": token_version}))
            value = payload + signer.sep + base64_encode(int_to_bytes(signer.get_timestamp()))
        mac = keyed.copy()
        mac.update(value)
        signature = mac.digest()
        tokens[purpose] = (value + signer.sep + base64_encode(signature)).decode("ascii")
    return tokens


def _link_prefix(build: Any) -> str:
    """The part of a signed link before its token, from one build of the route."""
    url = build("T")
    assert url.endswith("/T"), url
    return url[:-1]


_LINKS = {TokenPurpose.CONFIRM: ("confirm_url", links.confirm),
          TokenPurpose.MANAGE: ("manage_url", links.manage),
          TokenPurpose.UNSUBSCRIBE: ("unsubscribe_url", links.unsubscribe)}


@dataclass
class Prepared:
    """One kind of email for one notice and language, rendered, waiting for its recipients."""

    template: mime.MessageTemplate
    purposes: tuple[TokenPurpose, ...]
    prefixes: dict[TokenPurpose, str]
    page_code: str
    host: str
    list_unsubscribe: bool
    created: float
    # The email that says an endpoint was disabled goes to its contact all the same.
    despite_quarantine: bool = False

    def personalise(self, item: Addressed) -> tuple[bytes, str]:
        """The message for one recipient, and its Message-ID."""
        if item.public_id is None or item.token_version is None:
            raise Undeliverable("The subscriber of this email no longer exists.")
        if item.quarantined and not self.despite_quarantine:
            raise Undeliverable("The address is quarantined after repeated permanent failures.")
        if not item.to_address.isascii():
            raise Undeliverable("The address needs SMTPUTF8, which this sender does not use.")
        tokens = link_tokens(item.public_id, item.token_version, self.purposes)
        urls = {_LINKS[p][0]: self.prefixes[p] + tokens[p] for p in self.purposes}
        msgid = f"<delivery-{item.id}.{self.page_code}@{self.host}>"
        headers = [("To", item.to_address), ("Message-ID", msgid)]
        if self.list_unsubscribe:
            headers.append(("List-Unsubscribe", f"<{urls['unsubscribe_url']}>"))
        text = {"address": item.to_address, **urls}
        markup = {name: html.escape(value) for name, value in text.items()}
        return self.template.fill(headers, [text, markup]), msgid


@dataclass(frozen=True)
class Choice:
    """The pending choice a confirmation link confirms, as its email shows it."""

    changes: bool  # the subscriber is confirmed already: the link changes their choice
    all_components: bool
    names: tuple[str, ...]


def pending_choice(subscriber_id: int | None) -> tuple[str, Choice] | None:
    """The language and the choice a confirmation for this subscriber confirms, if one waits."""
    subscriber = db.session.get(Subscriber, subscriber_id) if subscriber_id else None
    pending = pending_request(subscriber) if subscriber is not None else None
    if subscriber is None or pending is None:
        return None
    names = tuple(c.name for c in pending_components(pending))
    return pending.language, Choice(subscriber.confirmed, pending.all_components, names)


def prepare(kind: DeliveryKind, notice_id: int | None, language: str,
            page: PageSettings, choice: Choice | None = None) -> Prepared:
    """Render one kind of email for one notice (none for confirm and manage) and language
    (and, for a confirmation, the choice it confirms)."""
    template = mime.MessageTemplate()
    if kind is DeliveryKind.CONFIRM:
        purposes: tuple[TokenPurpose, ...] = (TokenPurpose.CONFIRM,)
    else:
        purposes = (TokenPurpose.MANAGE, TokenPurpose.UNSUBSCRIBE)
    values: dict[str, Any] = {"page": page, "language": language,
                              "subscriber": {"email": template.slot("address"),
                                             "confirmed": bool(choice and choice.changes)},
                              "support_url": page.support_url or page.url}
    values.update({_LINKS[p][0]: template.slot(_LINKS[p][0]) for p in purposes})
    headers = _common_headers(page)
    if kind is DeliveryKind.CONFIRM:
        values["max_age_days"] = current_app.config["CONFIRM_TOKEN_MAX_AGE_DAYS"]
        if choice is not None:
            values.update(pending=choice, chosen=list(choice.names))
        with force_locale(language):
            subject = (gettext("Confirm the change to your subscription")
                       if choice is not None and choice.changes
                       else gettext("Confirm your subscription"))
    elif kind is DeliveryKind.MANAGE:
        with force_locale(language):
            subject = gettext("Manage your subscription")
    elif kind is DeliveryKind.ENDPOINT_DISABLED:
        values.update(failures=current_app.config["WEBHOOK_DISABLE_AFTER_FAILURES"],
                      timeout=current_app.config["WEBHOOK_TIMEOUT_SECONDS"])
        with force_locale(language):
            subject = gettext("Your webhook is disabled")
    else:
        _notice, incident, update = _notice_parts(notice_id)
        with force_locale(language):
            values.update(_incident_values(kind, incident, update, page))
        # One subject per incident, so that every client threads its emails together.
        subject = incident.name
        thread = thread_id(incident.id, page)
        headers += [("In-Reply-To", thread), ("References", thread),
                    ("List-Id", f"{header_text(page.name, 100)} <{page.page_code}.{links.host()}>"),
                    ("List-Unsubscribe-Post", "List-Unsubscribe=One-Click")]
    headers.insert(1, ("Subject", header_text(f"[{page.name}] {subject}")))
    with force_locale(language):
        text = render_template(f"email/{kind.value}.txt", **values)
        markup = render_template(f"email/{kind.value}.html", **values)
    template.build(headers, text, markup)
    return Prepared(template, purposes, {p: _link_prefix(_LINKS[p][1]) for p in purposes},
                    page.page_code, links.host(),
                    kind in (DeliveryKind.INCIDENT_UPDATE, DeliveryKind.MAINTENANCE_REMINDER,
                             DeliveryKind.POSTMORTEM),
                    time.monotonic(), kind is DeliveryKind.ENDPOINT_DISABLED)


class Renderer:
    """Renders each (kind, notice, language) once, and every recipient's email from that.

    One per sending thread: it keeps what it rendered for ``RENDER_MAX_AGE`` seconds.
    """

    def __init__(self) -> None:
        self._prepared: dict[tuple[Any, ...], Prepared | Undeliverable] = {}
        self._page: PageSettings | None = None
        self._page_loaded = 0.0
        self._dkim = _dkim_settings()

    def _page_settings(self) -> PageSettings:
        if self._page is None or time.monotonic() - self._page_loaded > RENDER_MAX_AGE:
            self._page, self._page_loaded = get_page_settings(), time.monotonic()
            if self._page in db.session:
                db.session.expunge(self._page)  # later commits must not expire it
        return self._page

    def message_id_parts(self) -> tuple[str, str]:
        """What comes before and after a delivery's id in its Message-ID."""
        return "<delivery-", f".{self._page_settings().page_code}@{links.host()}>"

    def render(self, item: Addressed) -> tuple[bytes, str]:
        """The message for one delivery and its Message-ID; Undeliverable if it cannot be."""
        language, choice = item.language or DEFAULT_LANGUAGE, None
        if item.kind is DeliveryKind.CONFIRM:
            language, choice = pending_choice(item.subscriber_id) or (language, None)
        key = (item.kind, item.notice_id, language, choice)
        prepared = self._prepared.get(key)
        if isinstance(prepared, Prepared) and time.monotonic() - prepared.created > RENDER_MAX_AGE:
            prepared = None
        if prepared is None:
            try:
                prepared = prepare(item.kind, item.notice_id, language, self._page_settings(),
                                   choice)
            except Undeliverable as exc:
                prepared = exc
            self._prepared[key] = prepared
        if isinstance(prepared, Undeliverable):
            raise prepared
        message, msgid = prepared.personalise(item)
        if self._dkim is not None:
            message = dkim.sign(message, *self._dkim, include_headers=list(DKIM_HEADERS)
                                ) + message
        return message, msgid


def _dkim_settings() -> tuple[bytes, bytes, bytes] | None:
    """(selector, domain, private key) when DKIM signing is configured."""
    config = current_app.config
    if not config.get("MAIL_DKIM_KEY_FILE"):
        return None
    with open(config["MAIL_DKIM_KEY_FILE"], "rb") as key_file:
        key = key_file.read()
    domain = config.get("MAIL_DKIM_DOMAIN") or envelope_sender().rpartition("@")[2]
    return config["MAIL_DKIM_SELECTOR"].encode(), domain.encode(), key


def render_delivery(delivery: Delivery) -> tuple[bytes, str]:
    """The message one queued delivery would send, and its Message-ID (tools and tests)."""
    subscriber = (db.session.get(Subscriber, delivery.subscriber_id)
                  if delivery.subscriber_id is not None else None)
    row = Addressed(delivery.id, delivery.kind, delivery.notice_id,
                    subscriber.id if subscriber else None,
                    subscriber.token_version if subscriber else None,
                    subscriber.public_id if subscriber else None,
                    bool(subscriber and subscriber.quarantined), delivery.to_address,
                    subscriber.language if subscriber else DEFAULT_LANGUAGE)
    return Renderer().render(row)


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
            "page": page, "support_url": page.support_url or page.url, "language": language,
            "subscriber": SimpleNamespace(email="subscriber@example.com"),
            "incident": SimpleNamespace(is_maintenance=bool(incident and
                                                            incident.is_maintenance)),
            "incident_name": name or (incident.name if incident else ""),
            "incident_url": links.incident(incident.id) if incident else links.home(),
            "affected": [(n, str(s)) for n, s in affected], "window": "",
            "status_label": label, "body_text": markdown_to_text(shown),
            "posted_at": _local(utcnow(), page),
            "manage_url": links.manage("token"), "unsubscribe_url": links.unsubscribe("token"),
        }
        subject = header_text(f"[{page.name}] {values['incident_name']}")
        return {"subject": subject, "text": render_template("email/incident_update.txt",
                                                            **values)}


def test_message(address: str, relay: str) -> tuple[bytes, str]:
    """The email ``send-test-mail`` sends (it proves the mail settings work), and its
    Message-ID."""
    page = get_page_settings()
    msgid = f"<test-{time.time_ns()}.{page.page_code}@{links.host()}>"
    headers = [("From", sender(page)), ("To", address),
               ("Subject", header_text(f"[{page.name}] Test email")),
               ("Message-ID", msgid), ("Auto-Submitted", "auto-generated")]
    text = (f"This is a test email from the status page {page.name} ({links.home()}).\n\n"
            f"It left through the mail relay {relay}, so the mail settings work.\n")
    return mime.plain_message(headers, text), msgid
