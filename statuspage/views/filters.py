"""Template filters and globals: times in the page's zone, stored HTML, status labels."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Flask, has_request_context, request
from flask_login import current_user
from markupsafe import Markup
from werkzeug.local import LocalProxy

from .. import times
from ..markup import trusted_html
from ..site import PageSettings, get_page_settings
from ..times import iso_utc
from ..vocabulary import status_label

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
    pattern = times.DATE_TIME_SECONDS if precision == "seconds" else times.DATE_TIME
    return Markup('<time datetime="{}">{}</time>').format(
        iso_utc(value), times.local(value, page_settings().zone, pattern))


def init_app(app: Flask) -> None:
    """Register the filters and the page settings every template sees."""
    app.add_template_filter(trusted_html, "stored_html")
    app.add_template_filter(time_tag, "time_tag")
    app.add_template_filter(iso_utc, "iso")
    app.add_template_filter(status_label, "status_label")

    @app.context_processor
    def settings() -> dict[str, Any]:
        # current_user is the proxy, loaded only where a template uses it: Flask-Login's own
        # processor (off in create_app) would load the user, and so read the session, on every
        # render, which makes public pages `Vary: Cookie` and defeats shared caches.
        # The settings are read where a template uses them, so a page passed the settings this
        # process knows (the error pages) needs no database.
        return {"page": LocalProxy(page_settings), "current_user": current_user}
