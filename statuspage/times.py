"""Every time people read, and every time machines read, formatted in one place.

People see a time in the page's time zone, in their locale's forms (Flask-Babel), with the
zone named, so nobody has to guess; machines get ISO 8601 in UTC with milliseconds, as
Statuspage's API writes it.
"""

from __future__ import annotations

from datetime import datetime, tzinfo

from flask_babel import format_datetime

from .dbtypes import as_utc

# Babel (CLDR) patterns; the locale supplies the month names.
DATE_TIME = "MMM d, yyyy HH:mm"
DATE_TIME_SECONDS = "MMM d, yyyy HH:mm:ss"
DAY_TIME = "MMM d, HH:mm"


def local(value: datetime, zone: tzinfo, pattern: str = DATE_TIME) -> str:
    """``value`` in ``zone``, in the current locale, followed by the zone's abbreviation."""
    moment = as_utc(value).astimezone(zone)
    return f"{format_datetime(moment, pattern, rebase=False)} {moment.tzname()}"


def iso_utc(value: datetime) -> str:
    """ISO 8601 in UTC with milliseconds, as machines read it (``2024-05-14T09:12:40.118Z``)."""
    return as_utc(value).isoformat(timespec="milliseconds").replace("+00:00", "Z")
