"""The Statuspage words: the statuses, impacts and indicators of components, incidents and
maintenance, and how people read them.

Spelled as Statuspage spells them, so that its API clients and users feel at home. Every room
and view takes its words from here, so a label is written once. Labels are lazy translations:
each is read in the language of the page or email being made (English in the APIs, which keep
the plain English values).
"""

from __future__ import annotations

import enum
from typing import Any

from flask_babel import LazyString, lazy_gettext


class ComponentStatus(enum.StrEnum):
    OPERATIONAL = "operational"
    DEGRADED_PERFORMANCE = "degraded_performance"
    PARTIAL_OUTAGE = "partial_outage"
    MAJOR_OUTAGE = "major_outage"
    UNDER_MAINTENANCE = "under_maintenance"

    @property
    def label(self) -> LazyString:
        return _STATUS_LABELS[self]

    @property
    def severity(self) -> int:
        """Worse is larger; maintenance ranks above operational and below any trouble."""
        return _SEVERITY[self]


_STATUS_LABELS = {
    ComponentStatus.OPERATIONAL: lazy_gettext("Operational"),
    ComponentStatus.DEGRADED_PERFORMANCE: lazy_gettext("Degraded Performance"),
    ComponentStatus.PARTIAL_OUTAGE: lazy_gettext("Partial Outage"),
    ComponentStatus.MAJOR_OUTAGE: lazy_gettext("Major Outage"),
    ComponentStatus.UNDER_MAINTENANCE: lazy_gettext("Under Maintenance"),
}
_SEVERITY = {
    ComponentStatus.OPERATIONAL: 0,
    ComponentStatus.UNDER_MAINTENANCE: 1,
    ComponentStatus.DEGRADED_PERFORMANCE: 2,
    ComponentStatus.PARTIAL_OUTAGE: 3,
    ComponentStatus.MAJOR_OUTAGE: 4,
}


class Indicator(enum.StrEnum):
    NONE = "none"
    MINOR = "minor"
    MAJOR = "major"
    CRITICAL = "critical"
    MAINTENANCE = "maintenance"


class IncidentKind(enum.StrEnum):
    INCIDENT = "incident"
    MAINTENANCE = "maintenance"


class IncidentStatus(enum.StrEnum):
    INVESTIGATING = "investigating"
    IDENTIFIED = "identified"
    MONITORING = "monitoring"
    RESOLVED = "resolved"
    POSTMORTEM = "postmortem"


class MaintenanceStatus(enum.StrEnum):
    SCHEDULED = "scheduled"
    IN_PROGRESS = "in_progress"
    VERIFYING = "verifying"
    COMPLETED = "completed"


class Impact(enum.StrEnum):
    NONE = "none"
    MINOR = "minor"
    MAJOR = "major"
    CRITICAL = "critical"
    MAINTENANCE = "maintenance"


OPEN_INCIDENT_STATUSES = (IncidentStatus.INVESTIGATING, IncidentStatus.IDENTIFIED,
                          IncidentStatus.MONITORING)
UPCOMING_MAINTENANCE_STATUSES = (MaintenanceStatus.SCHEDULED,)
ACTIVE_MAINTENANCE_STATUSES = (MaintenanceStatus.IN_PROGRESS, MaintenanceStatus.VERIFYING)
# An incident or maintenance in one of these is over (history, not news).
DONE_STATUSES = frozenset({IncidentStatus.RESOLVED.value, IncidentStatus.POSTMORTEM.value,
                           MaintenanceStatus.COMPLETED.value})

STATUS_LABELS = {
    "investigating": lazy_gettext("Investigating"), "identified": lazy_gettext("Identified"),
    "monitoring": lazy_gettext("Monitoring"), "resolved": lazy_gettext("Resolved"),
    "postmortem": lazy_gettext("Postmortem"), "scheduled": lazy_gettext("Scheduled"),
    "in_progress": lazy_gettext("In progress"), "verifying": lazy_gettext("Verifying"),
    "completed": lazy_gettext("Completed"),
}

# Statuspage's default messages, used when an update is posted without a body. They are stored
# in English, as the APIs answer them; pages and emails show them in their reader's language.
DEFAULT_BODIES = {
    "investigating": "We are currently investigating this issue.",
    "identified": "The issue has been identified and a fix is being implemented.",
    "monitoring": "A fix has been implemented and we are monitoring the results.",
    "resolved": "This incident has been resolved.",
    "scheduled": "We will be undergoing scheduled maintenance during this time.",
    "in_progress": "Scheduled maintenance is currently in progress. We will provide updates "
                   "as necessary.",
    "verifying": "Verification is currently underway for the maintenance items.",
    "completed": "The scheduled maintenance has been completed.",
}
CANCELLED_BODY = "This scheduled maintenance has been cancelled."
_BODY_LABELS = {
    DEFAULT_BODIES["investigating"]: lazy_gettext("We are currently investigating this issue."),
    DEFAULT_BODIES["identified"]: lazy_gettext(
        "The issue has been identified and a fix is being implemented."),
    DEFAULT_BODIES["monitoring"]: lazy_gettext(
        "A fix has been implemented and we are monitoring the results."),
    DEFAULT_BODIES["resolved"]: lazy_gettext("This incident has been resolved."),
    DEFAULT_BODIES["scheduled"]: lazy_gettext(
        "We will be undergoing scheduled maintenance during this time."),
    DEFAULT_BODIES["in_progress"]: lazy_gettext(
        "Scheduled maintenance is currently in progress. We will provide updates as "
        "necessary."),
    DEFAULT_BODIES["verifying"]: lazy_gettext(
        "Verification is currently underway for the maintenance items."),
    DEFAULT_BODIES["completed"]: lazy_gettext("The scheduled maintenance has been completed."),
    CANCELLED_BODY: lazy_gettext("This scheduled maintenance has been cancelled."),
}

# The page's descriptions (components.page_status), as status.json spells them.
_DESCRIPTION_LABELS = {
    "All Systems Operational": lazy_gettext("All Systems Operational"),
    "Major System Outage": lazy_gettext("Major System Outage"),
    "Partial System Outage": lazy_gettext("Partial System Outage"),
    "Minor Service Outage": lazy_gettext("Minor Service Outage"),
    "Degraded System Service": lazy_gettext("Degraded System Service"),
    "Partially Degraded Service": lazy_gettext("Partially Degraded Service"),
    "Service Under Maintenance": lazy_gettext("Service Under Maintenance"),
}
_IMPACT_LABELS = {
    "none": lazy_gettext("None"), "minor": lazy_gettext("Minor"),
    "major": lazy_gettext("Major"), "critical": lazy_gettext("Critical"),
    "maintenance": lazy_gettext("Maintenance"),
}


def status_label(value: object) -> Any:
    """How people read a component, incident or maintenance status."""
    try:
        return ComponentStatus(str(value)).label
    except ValueError:
        return STATUS_LABELS.get(str(value), str(value).replace("_", " ").capitalize())


def description_label(description: str) -> Any:
    """How people read the page's description ("All Systems Operational")."""
    return _DESCRIPTION_LABELS.get(description, description)


def impact_label(value: object) -> Any:
    """How people read an incident's impact."""
    return _IMPACT_LABELS.get(str(value), str(value).capitalize())


def body_text(body: str) -> Any:
    """An update's text as people read it: Statuspage's default messages in their language,
    anything ops wrote as written."""
    return _BODY_LABELS.get(body, body)
