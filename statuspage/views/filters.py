"""Template filters and globals: times in the page's zone, stored HTML, the words people read,
and the links between a page's language versions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from flask import Flask, has_request_context, request, url_for
from flask_babel import format_percent, gettext
from flask_login import current_user
from markupsafe import Markup
from werkzeug.local import LocalProxy

from .. import links, times
from ..dbtypes import utcnow
from ..languages import DEFAULT_LANGUAGE, LANGUAGES, TERRITORIES, current_language
from ..markup import render_markdown, trusted_html
from ..site import PageSettings, get_page_settings
from ..times import iso_utc
from ..vocabulary import ComponentStatus, body_text, description_label, impact_label, status_label

# The status icon that stands for each page indicator.
INDICATOR_ICONS = {"none": "operational", "minor": "degraded_performance",
                   "major": "partial_outage", "critical": "major_outage",
                   "maintenance": "under_maintenance"}

_SETTINGS = "statuspage.page_settings"


def page_settings() -> PageSettings:
    """The page's settings, read once per request (or per build, which has a request of its
    own): templates ask for them for every time they show."""
    if not has_request_context():
        return get_page_settings()
    if _SETTINGS not in request.environ:
        request.environ[_SETTINGS] = get_page_settings()
    return request.environ[_SETTINGS]


def time_tag(value: datetime | None, precision: str = "minutes") -> Markup:
    """A <time> element: UTC ISO 8601 for machines, the page's zone for people; ``precision``
    "seconds" shows the seconds too."""
    if value is None:
        return Markup("")
    style = times.DATE_TIME_SECONDS if precision == "seconds" else times.DATE_TIME
    return Markup('<time datetime="{}">{}</time>').format(
        iso_utc(value), times.local(value, page_settings().zone, style))


def day_tag(value: date, style: str = times.DATE) -> Markup:
    """A <time> element for a calendar day (or, with "month", a month) of the page."""
    machine = value.strftime("%Y-%m") if style == times.MONTH else value.isoformat()
    return Markup('<time datetime="{}">{}</time>').format(machine,
                                                          times.calendar_day(value, style))


def percent(value: float) -> str:
    """A percentage with two decimals in the reader's forms (99.95% / 99,95%)."""
    return format_percent(value / 100, "#,##0.00%")


def calendar_day(value: date) -> str:
    """A calendar day of the page as text (Nov 20, 2026 / 20 listopada 2026)."""
    return times.calendar_day(value)


def update_html(update: Any) -> Markup:
    """An update's HTML as stored when it was written; Statuspage's default messages (short,
    and the same for every page) in the reader's language."""
    shown = body_text(update.body)
    if shown is update.body:
        return trusted_html(update.body_html)
    return render_markdown(str(shown))


def duration(minutes: int) -> str:
    """A span of minutes as people read it (6 h 5 min / 6 godz. 5 min)."""
    hours, rest = divmod(minutes, 60)
    if not hours:
        return gettext("%(minutes)d min", minutes=rest)
    return gettext("%(hours)d h %(minutes)d min", hours=hours, minutes=rest)


def bar_facts(bar: Any) -> dict[str, Any]:
    """What a day of the uptime bars tells: its status, uptime, outage and incidents."""
    label, shown = str(status_label(bar.status)), percent(bar.uptime)
    uptime = gettext("%(pct)s uptime", pct=shown)
    outage = [gettext("Major outage: %(duration)s", duration=duration(bar.major_minutes))
              if bar.major_minutes else "",
              gettext("Partial outage: %(duration)s", duration=duration(bar.partial_minutes))
              if bar.partial_minutes else ""]
    # The status word, a full day's uptime, the words around a percentage and the incident
    # links' common parts are not repeated per day: page.js has them from uptime_words, by
    # the day's class letter (hundreds of such days on a large page).
    return {
        "status": label, "uptime": uptime, "percent": shown,
        "partial_uptime": shown != percent(100.0), "outage": " · ".join(o for o in outage if o),
        "title": f"{times.calendar_day(bar.day)}: {label}, {uptime}",
        "incidents": [[name, i] for i, name in bar.incidents],
    }


def _full_day() -> str:
    return gettext("%(pct)s uptime", pct=percent(100.0))


# An incident id no page has, to split an incident's URL around the id for page.js.
_ANY_INCIDENT = 987654321


def uptime_words() -> dict[str, Any]:
    """The words page.js needs for the detail of a quiet day and for its controls."""
    return {"operational": str(ComponentStatus.OPERATIONAL.label),
            "statuses": {status.value[0]: str(status.label) for status in ComponentStatus},
            "full": _full_day(), "uptime": gettext("%(pct)s uptime", pct="{}"),
            "incident": url_for("public.incident", incident_id=_ANY_INCIDENT).split(
                str(_ANY_INCIDENT)),
            "nodata": gettext("No data"), "noincidents": gettext("No incidents this day."),
            "close": gettext("Close")}


@dataclass(frozen=True)
class DayRun:
    """Consecutive past days: one with incidents, or several quiet ones told in one line."""

    days: tuple[Any, ...]


def fold_quiet(days: Sequence[Any]) -> list[DayRun]:
    """Past days with runs of quiet days folded together, so the page stays short."""
    runs: list[DayRun] = []
    quiet: list[Any] = []
    for day in days:
        if day.incidents:
            if quiet:
                runs.append(DayRun(tuple(quiet)))
                quiet = []
            runs.append(DayRun((day,)))
        else:
            quiet.append(day)
    if quiet:
        runs.append(DayRun(tuple(quiet)))
    return runs


def _here() -> tuple[str | None, dict[str, Any]]:
    """This page as an endpoint and its values, for its other language versions."""
    values = dict(request.view_args or {})
    if request.args.get("page"):
        values["page"] = request.args["page"]
    return request.endpoint, values


def language_url(code: str) -> str:
    """The switcher's link: remember ``code`` and come back to this page in it."""
    endpoint, values = _here()
    back = url_for(endpoint, **values, lang=None) if endpoint and request.method == "GET" \
        else url_for("public.index", lang=None)
    return url_for("public.switch_language", code=code, next=back)


def alternate_url(code: str | None) -> str | None:
    """This page's absolute URL in language ``code`` (None: the one that negotiates), or None
    for a page that is not the same for everyone (a form's answer, a signed link)."""
    endpoint, values = _here()
    if not endpoint or request.method != "GET" or "token" in values:
        return None
    if code is not None:
        values["lang"] = code
    return links.external(endpoint, **values)


def absolute(url: str) -> str:
    """A URL the page settings hold, made absolute (a logo may be given as /static/...)."""
    return links.home() + url if url.startswith("/") else url


def page_zone_name() -> str:
    """The page's time zone as people recognise it: its name and abbreviation now."""
    zone = page_settings().zone
    abbreviation = utcnow().astimezone(zone).tzname() or zone.key
    return abbreviation if zone.key in ("UTC", "Etc/UTC") else f"{zone.key} ({abbreviation})"


def init_app(app: Flask) -> None:
    """Register the filters and the page settings every template sees."""
    for name, function in (("stored_html", trusted_html), ("update_html", update_html),
                           ("time_tag", time_tag), ("day_tag", day_tag), ("iso", iso_utc),
                           ("percent", percent), ("calendar_day", calendar_day),
                           ("status_label", status_label), ("bar_facts", bar_facts),
                           ("description_label", description_label),
                           ("impact_label", impact_label), ("fold_quiet", fold_quiet),
                           ("indicator_icon", lambda i: INDICATOR_ICONS.get(str(i), "info"))):
        app.add_template_filter(function, name)
    for function in (language_url, alternate_url, absolute, page_zone_name, uptime_words,
                     current_language):
        app.add_template_global(function)
    app.add_template_global(LANGUAGES, "languages")  # for macros, which see no context
    app.add_template_global(lambda code: TERRITORIES.get(code, code), "territory")

    @app.context_processor
    def settings() -> dict[str, Any]:
        # current_user is the proxy, loaded only where a template uses it: Flask-Login's own
        # processor (off in create_app) would load the user, and so read the session, on every
        # render, which makes public pages `Vary: Cookie` and defeats shared caches.
        # The settings are read where a template uses them, so a page passed the settings this
        # process knows (the error pages) needs no database.
        return {"page": LocalProxy(page_settings), "current_user": current_user,
                "language": current_language(), "languages": LANGUAGES,
                "default_language": DEFAULT_LANGUAGE}
