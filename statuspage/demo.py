"""Demo data: a believable status page for an e-invoicing network, written through the operations.

``flask --app wsgi demo-data`` calls ``load``. It writes only through the domain operations (as
ops would, with actor "demo"), backdating each step with ``now`` in chronological order, so the
status history behind the uptime bars, the audit log and the page version are all as real use
would leave them. It touches only an empty database, which makes running it twice harmless.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask_babel import force_locale
from flask_babel import gettext as _

from . import components, incident_templates, incidents, postmortems, site, staff
from . import maintenance as maint
from .components import Component, ComponentGroup
from .dbtypes import utcnow
from .extensions import db
from .incidents import Incident
from .languages import DEFAULT_LANGUAGE, parse_language
from .validation import N_
from .vocabulary import ComponentStatus, IncidentStatus

ACTOR = "demo"
DEMO_EMAIL = "demo@example.com"
TIME_ZONE = "Europe/Stockholm"
# Components exist from well before the 90 days the uptime bars cover.
COMPONENT_AGE = timedelta(days=120)

DEGRADED = ComponentStatus.DEGRADED_PERFORMANCE
PARTIAL = ComponentStatus.PARTIAL_OUTAGE
MAJOR = ComponentStatus.MAJOR_OUTAGE
OPERATIONAL = ComponentStatus.OPERATIONAL

# Every text of the demo is marked for the catalogue: ``load(language="pl")`` writes the page
# in Polish, as a company that writes to its customers in Polish would keep it.
GROUPS: tuple[tuple[str, str, bool, tuple[tuple[str, str], ...]], ...] = (
    (N_("Pagero Online"), N_("The Pagero Online platform and the ways documents reach it."),
     False, (
        (N_("Web portal"), N_("Sending, receiving and approving documents in the browser.")),
        ("API", N_("The REST API used by ERP systems and partners.")),
        ("SFTP", N_("File transfer of batches of invoices and orders.")),
        ("AS2", N_("AS2 connections to trading partners.")),
        (N_("Document archive"), N_("Search and retrieval of archived documents.")),
    )),
    (N_("Integrations"), N_("Connectors to business systems."), True, (
        (N_("ERP connectors"), N_("SAP, Microsoft Dynamics, Oracle and NetSuite connectors.")),
        (N_("Email-to-invoice"), N_("PDF invoices sent by email and turned into e-invoices.")),
        (N_("Scanning service"), N_("Paper invoices scanned and interpreted.")),
    )),
    (N_("Networks"), N_("Delivery to and from other networks and authorities."), True, (
        ("Peppol Access Point", N_("Sending and receiving over the Peppol network.")),
        (N_("E-invoice delivery"), N_("Delivery of e-invoices to receivers on every channel.")),
        (N_("Tax clearance gateways"),
         N_("Real-time reporting and clearance with tax authorities.")),
    )),
)
LOOSE_COMPONENTS: tuple[tuple[str, str], ...] = (
    (N_("Login and single sign-on"), N_("Signing in to Pagero Online, including SAML and "
                                        "OpenID Connect single sign-on.")),
    (N_("Notification emails"), N_("Emails about received documents, approvals and errors.")),
)


@dataclass(frozen=True)
class DemoResult:
    created: bool
    email: str
    password: str


def is_empty() -> bool:
    """True when no component, group, incident or ops user exists yet."""
    for model in (Component, ComponentGroup, Incident, staff.User):
        if db.session.scalar(sa.select(sa.func.count()).select_from(model)):
            return False
    return True


def load(login_password: str, now: datetime | None = None,
         language: str = DEFAULT_LANGUAGE) -> DemoResult:
    """Fill an empty database with the demo page, written in ``language``; leave any other
    database as it is."""
    now = now or utcnow()
    language = parse_language(language)
    if not is_empty():
        return DemoResult(created=False, email=DEMO_EMAIL, password="")
    # First, so that an unusable password stops the load before anything else is written.
    staff.create_user(DEMO_EMAIL, login_password, role=staff.Role.ADMIN, actor=ACTOR)
    with force_locale(language):
        _write_page(now)
    return DemoResult(created=True, email=DEMO_EMAIL, password=login_password)


def _write_page(now: datetime) -> None:
    site.update_page_settings(
        actor=ACTOR, name="Pagero", time_zone=TIME_ZONE,
        support_url="https://www.pagero.com/support", accent_color="#0a7a5c",
        logo_url="/static/demo-logo.svg",  # served by this site, so it follows BASE_URL
    )
    ids = _create_components(now - COMPONENT_AGE)
    _Story(ids, now).tell()
    for name, title, status, body, affected in TEMPLATES:
        incident_templates.save_template(
            name=_(name), title=_(title), status=status, body=_(body),
            components={ids[key]: value for key, value in affected.items()}, actor=ACTOR)


def _create_components(created_at: datetime) -> dict[str, int]:
    ids: dict[str, int] = {}
    for group_name, description, collapsed, members in GROUPS:
        group = components.create_group(_(group_name), description=_(description),
                                        collapsed=collapsed, actor=ACTOR)
        for name, about in members:
            ids[name] = components.create_component(
                _(name), description=_(about), group_id=group.id, actor=ACTOR,
                now=created_at).id
    for name, about in LOOSE_COMPONENTS:
        ids[name] = components.create_component(_(name), description=_(about), actor=ACTOR,
                                                now=created_at).id
    return ids


class _Story:
    """The page's past weeks, told in the order they happened.

    Every step goes through ``at``, which refuses to move backwards in time: a component's
    history rows must follow each other, or the uptime bars would be wrong.
    """

    def __init__(self, ids: dict[str, int], now: datetime) -> None:
        self.ids = ids
        self.now = now
        self.zone = ZoneInfo(TIME_ZONE)
        self.today: date = now.astimezone(self.zone).date()
        self.clock = now - COMPONENT_AGE

    def at(self, days_ago: int, hour: int, minute: int = 0) -> datetime:
        """A local wall-clock time ``days_ago`` days before today, as UTC."""
        day = self.today - timedelta(days=days_ago)
        return self.step(datetime.combine(day, time(hour, minute), self.zone))

    def step(self, when: datetime) -> datetime:
        """Advance the story's clock to ``when``."""
        if when < self.clock or when > self.now:
            raise ValueError(f"demo step at {when} is out of order")
        self.clock = when
        return when

    def affect(self, statuses: dict[str, ComponentStatus]) -> dict[int, ComponentStatus]:
        """The components named, by id, with the status each moves to."""
        return {self.ids[name]: status for name, status in statuses.items()}

    def tell(self) -> None:
        """Write every incident and maintenance, oldest first."""
        self.peppol_outage()
        self.sftp_delays()
        self.archive_maintenance()
        self.api_errors()
        self.sso_failures()
        self.as2_delays()
        self.certificate_maintenance()

    def peppol_outage(self) -> None:
        """A major outage, with a published postmortem: it shows in the 90-day uptime bars."""
        incident = incidents.open_incident(
            _("Peppol Access Point unavailable"),
            body=_("We are investigating failures when sending and receiving documents over "
                 "the Peppol network. Documents are queued and will be delivered once the "
                 "service recovers."),
            components=self.affect({"Peppol Access Point": MAJOR, "E-invoice delivery": PARTIAL}),
            author=ACTOR, now=self.at(62, 8, 47),
        )
        incidents.post_update(
            incident, status=IncidentStatus.IDENTIFIED,
            body=_("The outage is caused by an expired intermediate certificate on the access "
                 "point's load balancer. A renewed certificate is being rolled out."),
            author=ACTOR, now=self.at(62, 9, 31),
        )
        incidents.post_update(
            incident, status=IncidentStatus.MONITORING,
            body=_("The renewed certificate is in place and the access point accepts "
                 "connections again. The queued documents are being delivered; we are "
                 "monitoring the backlog."),
            components=self.affect({"Peppol Access Point": OPERATIONAL,
                                    "E-invoice delivery": DEGRADED}),
            author=ACTOR, now=self.at(62, 11, 5),
        )
        incidents.resolve_incident(
            incident,
            body=_("All queued documents have been delivered and Peppol traffic is back to "
                 "normal. We will publish a postmortem."),
            author=ACTOR, now=self.at(62, 13, 20),
        )
        postmortems.save_postmortem(incident, _(POSTMORTEM), actor=ACTOR,
                                    now=self.at(59, 15, 0))
        postmortems.publish_postmortem(incident, actor=ACTOR, now=self.at(59, 15, 10))

    def sftp_delays(self) -> None:
        """Slow processing of inbound files: degraded performance only."""
        incident = incidents.open_incident(
            _("Delayed processing of files received over SFTP"),
            body=_("Files uploaded over SFTP are taking longer than usual to be processed. "
                 "No files are lost."),
            components=self.affect({"SFTP": DEGRADED}),
            author=ACTOR, now=self.at(27, 7, 12),
        )
        incidents.post_update(
            incident, status=IncidentStatus.IDENTIFIED,
            body=_("A storage volume used by the file intake ran short of I/O capacity during "
                 "the morning peak. We are moving the intake to faster storage."),
            author=ACTOR, now=self.at(27, 7, 58),
        )
        incidents.post_update(
            incident, status=IncidentStatus.MONITORING,
            body=_("The intake runs on the new storage and the backlog is shrinking. Files "
                 "uploaded now are processed within a few minutes."),
            author=ACTOR, now=self.at(27, 9, 40),
        )
        incidents.resolve_incident(
            incident, body=_("The backlog is cleared and processing times are normal again."),
            author=ACTOR, now=self.at(27, 10, 25),
        )

    def archive_maintenance(self) -> None:
        """A maintenance window in the past, started and completed by the scheduler."""
        maint.schedule_maintenance(
            _("Document archive database upgrade"),
            scheduled_for=self.zoned(16, 22, 0), scheduled_until=self.zoned(15, 1, 0),
            body=_("We will upgrade the database behind the document archive. Searching and "
                 "opening archived documents will be unavailable during the window; sending "
                 "and receiving documents is not affected."),
            component_ids=[self.ids["Document archive"]],
            author=ACTOR, now=self.at(23, 14, 0),
        )
        maint.run_due_transitions(now=self.at(16, 22, 0))
        maint.run_due_transitions(now=self.at(15, 1, 0))

    def api_errors(self) -> None:
        """Errors on the API that spill into the portal: a partial outage."""
        incident = incidents.open_incident(
            _("Elevated error rates on the API"),
            body=_("Some API requests fail with HTTP 502 or 503. We are investigating."),
            components=self.affect({"API": PARTIAL}),
            author=ACTOR, now=self.at(9, 13, 4),
        )
        incidents.post_update(
            incident, status=IncidentStatus.IDENTIFIED,
            body=_("A faulty configuration change reduced the capacity of the API gateway. "
                 "The web portal is also slower than usual. We are rolling the change back."),
            components=self.affect({"Web portal": DEGRADED}),
            author=ACTOR, now=self.at(9, 13, 37),
        )
        incidents.post_update(
            incident, status=IncidentStatus.MONITORING,
            body=_("The rollback is complete and error rates are back to normal. Requests that "
                 "failed can be retried safely."),
            components=self.affect({"API": OPERATIONAL, "Web portal": OPERATIONAL}),
            author=ACTOR, now=self.at(9, 14, 10),
        )
        incidents.resolve_incident(
            incident, body=_("Error rates have stayed normal for an hour. This incident is "
                           "resolved."),
            author=ACTOR, now=self.at(9, 15, 15),
        )

    def sso_failures(self) -> None:
        """A short incident in the last days, so the page's recent history is not empty."""
        incident = incidents.open_incident(
            _("Single sign-on failures for some customers"),
            body=_("Some users who sign in with SAML single sign-on get an error page. Users "
                 "signing in with a password are not affected."),
            components=self.affect({"Login and single sign-on": PARTIAL}),
            author=ACTOR, now=self.at(3, 8, 20),
        )
        incidents.post_update(
            incident, status=IncidentStatus.IDENTIFIED,
            body=_("An identity provider rotated its signing certificate earlier than "
                 "announced. We are importing the new certificate."),
            author=ACTOR, now=self.at(3, 8, 52),
        )
        incidents.post_update(
            incident, status=IncidentStatus.MONITORING,
            body=_("The new certificate is imported and sign-ins succeed again."),
            components=self.affect({"Login and single sign-on": OPERATIONAL}),
            author=ACTOR, now=self.at(3, 9, 15),
        )
        incidents.resolve_incident(incident, author=ACTOR, now=self.at(3, 10, 0))

    def as2_delays(self) -> None:
        """The one open incident: the page reads "Partially Degraded Service" because of it."""
        incident = incidents.open_incident(
            _("Delayed AS2 deliveries"),
            body=_("Documents sent to some trading partners over AS2 are delivered with a delay. "
                 "We are investigating."),
            components=self.affect({"AS2": DEGRADED}),
            author=ACTOR, now=self.step(self.now - timedelta(minutes=95)),
        )
        incidents.post_update(
            incident, status=IncidentStatus.IDENTIFIED,
            body=_("A partner's AS2 endpoint answers slowly, which holds up the shared delivery "
                 "queue. We are moving deliveries to that partner to a separate queue.\n\n"
                 "- Documents are **not** lost and will be delivered in order.\n"
                 "- Receipts (MDNs) may arrive late."),
            author=ACTOR, now=self.step(self.now - timedelta(minutes=40)),
        )

    def certificate_maintenance(self) -> None:
        """An upcoming window that the scheduler will start and complete on its own."""
        maint.schedule_maintenance(
            _("Peppol Access Point certificate renewal"),
            scheduled_for=self.zoned(-4, 21, 0), scheduled_until=self.zoned(-4, 23, 0),
            body=_("We will renew the certificates of our Peppol Access Point. Documents sent "
                 "over Peppol during the window are queued and delivered when it ends."),
            component_ids=[self.ids["Peppol Access Point"], self.ids["E-invoice delivery"]],
            auto_start=True, auto_complete=True, author=ACTOR, now=self.now,
        )

    def zoned(self, days_ago: int, hour: int, minute: int = 0) -> datetime:
        """Like ``at`` but without moving the clock (for windows announced ahead of time)."""
        day = self.today - timedelta(days=days_ago)
        return datetime.combine(day, time(hour, minute), self.zone)


POSTMORTEM = N_("""\
## Summary

For about two hours and twenty minutes, our Peppol Access Point refused connections from other
access points. Outgoing documents were queued and delivered late; no document was lost.

## What happened

An intermediate certificate on the load balancer in front of the access point expired. Our
expiry monitoring watched the leaf certificate only, so the alert we rely on never fired.

## What we are changing

- Expiry monitoring now covers every certificate in the chain, with alerts 30 days ahead.
- Certificate renewals are scheduled maintenance on this page from now on.
- The delivery queue drains at twice the previous rate, so a backlog clears sooner.
""")

# Templates ops start incidents from: name, incident name, status, message, component statuses.
TEMPLATES: tuple[tuple[str, str, str, str, dict[str, ComponentStatus]], ...] = (
    (N_("API errors"), N_("Elevated error rates on the API"), IncidentStatus.INVESTIGATING,
     N_("Some API requests fail. We are investigating and will post an update within 30 "
        "minutes."), {"API": PARTIAL}),
    (N_("Peppol delays"), N_("Delayed deliveries over Peppol"), IncidentStatus.INVESTIGATING,
     N_("Documents sent over the Peppol network are delivered with a delay. No documents are "
        "lost."), {"Peppol Access Point": DEGRADED}),
)
