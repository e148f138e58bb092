"""The Statuspage words: the statuses, impacts and indicators of components, incidents and
maintenance, and how people read them.

Spelled as Statuspage spells them, so that its API clients and users feel at home. Every room
and view takes its words from here, so a label is written once.
"""

from __future__ import annotations

import enum


class ComponentStatus(enum.StrEnum):
    OPERATIONAL = "operational"
    DEGRADED_PERFORMANCE = "degraded_performance"
    PARTIAL_OUTAGE = "partial_outage"
    MAJOR_OUTAGE = "major_outage"
    UNDER_MAINTENANCE = "under_maintenance"

    @property
    def label(self) -> str:
        return _STATUS_LABELS[self]

    @property
    def severity(self) -> int:
        """Worse is larger; maintenance ranks above operational and below any trouble."""
        return _SEVERITY[self]


_STATUS_LABELS = {
    ComponentStatus.OPERATIONAL: "Operational",
    ComponentStatus.DEGRADED_PERFORMANCE: "Degraded Performance",
    ComponentStatus.PARTIAL_OUTAGE: "Partial Outage",
    ComponentStatus.MAJOR_OUTAGE: "Major Outage",
    ComponentStatus.UNDER_MAINTENANCE: "Under Maintenance",
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
    "investigating": "Investigating", "identified": "Identified", "monitoring": "Monitoring",
    "resolved": "Resolved", "postmortem": "Postmortem", "scheduled": "Scheduled",
    "in_progress": "In progress", "verifying": "Verifying", "completed": "Completed",
}

# Statuspage's default messages, used when an update is posted without a body.
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


def status_label(value: object) -> str:
    """How people read a component, incident or maintenance status."""
    try:
        return ComponentStatus(str(value)).label
    except ValueError:
        return STATUS_LABELS.get(str(value), str(value).replace("_", " ").capitalize())
