"""Every time people read, and every time machines read, formatted in one place.

People see a time in the page's time zone, in their language's forms (Flask-Babel: month
names, order, separators), with the zone named, so nobody has to guess; machines get ISO 8601
in UTC with milliseconds, as Statuspage's API writes it.
"""

from __future__ import annotations

from datetime import date, datetime, tzinfo

from flask_babel import format_date, format_datetime

from .dbtypes import as_utc
from .languages import DEFAULT_LANGUAGE, current_language

# The styles a caller asks for, by name.
DATE_TIME = "date_time"  # Nov 20, 2026 12:00 / 20 listopada 2026, 12:00
DATE_TIME_SECONDS = "date_time_seconds"
DAY_TIME = "day_time"  # Nov 20, 12:00 / 20 listopada, 12:00
TIME = "time"  # 12:00
DATE = "date"  # Nov 20, 2026 / 20 listopada 2026
MONTH = "month"  # November 2026 / listopad 2026

# Babel (CLDR) patterns per language; the locale supplies the month names and their case (a
# Polish month after a day number is in the genitive, "listopada"; alone, "listopad").
_PATTERNS: dict[str, dict[str, str]] = {
    "en": {DATE_TIME: "MMM d, yyyy HH:mm", DATE_TIME_SECONDS: "MMM d, yyyy HH:mm:ss",
           DAY_TIME: "MMM d, HH:mm", TIME: "HH:mm", DATE: "MMM d, yyyy", MONTH: "MMMM yyyy"},
    "pl": {DATE_TIME: "d MMMM yyyy, HH:mm", DATE_TIME_SECONDS: "d MMMM yyyy, HH:mm:ss",
           DAY_TIME: "d MMMM, HH:mm", TIME: "HH:mm", DATE: "d MMMM yyyy", MONTH: "LLLL yyyy"},
}


def pattern(style: str) -> str:
    """The CLDR pattern of ``style`` in the current language."""
    return _PATTERNS.get(current_language(), _PATTERNS[DEFAULT_LANGUAGE])[style]


def local(value: datetime, zone: tzinfo, style: str = DATE_TIME) -> str:
    """``value`` in ``zone``, in the current language, followed by the zone's abbreviation."""
    moment = as_utc(value).astimezone(zone)
    return f"{format_datetime(moment, pattern(style), rebase=False)} {moment.tzname()}"


def calendar_day(value: date, style: str = DATE) -> str:
    """A calendar day (or, with MONTH, its month) of the page, in the current language."""
    return format_date(value, pattern(style), rebase=False)


def iso_utc(value: datetime) -> str:
    """ISO 8601 in UTC with milliseconds, as machines read it (``2024-05-14T09:12:40.118Z``)."""
    return as_utc(value).isoformat(timespec="milliseconds").replace("+00:00", "Z")
