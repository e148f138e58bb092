"""What a subscriber wants to hear: incidents, maintenance or both, from which impact on, and
(for webhooks) component status events. The audience condition reads them; the subscriber
operations write them through ``apply_preferences``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .validation import ValidationError
from .vocabulary import Impact


@dataclass(frozen=True)
class Preferences:
    """What a subscriber wants to hear: incidents, maintenance, from which impact, and (for
    webhooks) component status events."""

    notify_incidents: bool = True
    notify_maintenance: bool = True
    min_impact: Impact = Impact.NONE
    component_events: bool = True


IMPACT_THRESHOLDS = (Impact.NONE, Impact.MINOR, Impact.MAJOR, Impact.CRITICAL)


def check_preferences(preferences: Preferences) -> Preferences:
    """The preferences, or ValidationError when they would hear nothing at all."""
    if not (preferences.notify_incidents or preferences.notify_maintenance):
        raise ValidationError("Choose incidents, maintenance, or both.", "notify")
    if Impact(preferences.min_impact) not in IMPACT_THRESHOLDS:
        raise ValidationError("Unknown impact threshold.", "min_impact")
    return preferences


def apply_preferences(subscriber: Any, preferences: Preferences) -> None:
    """Write checked preferences onto the subscriber in the caller's transaction (never
    commits)."""
    check_preferences(preferences)
    subscriber.notify_incidents = preferences.notify_incidents
    subscriber.notify_maintenance = preferences.notify_maintenance
    subscriber.min_impact = Impact(preferences.min_impact)
    subscriber.component_events = preferences.component_events


def preferences_of(subscriber: Any) -> Preferences:
    """The subscriber's preferences as they stand."""
    return Preferences(subscriber.notify_incidents, subscriber.notify_maintenance,
                       subscriber.min_impact, subscriber.component_events)
