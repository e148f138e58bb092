"""Template filters and globals: times in the page's zone, Markdown, status labels."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Flask
from markupsafe import Markup, escape

from ..dbtypes import as_utc
from ..markup import render_markdown
from ..site import get_page_settings
from ..vocabulary import STATUS_LABELS, ComponentStatus


def iso_utc(value: datetime) -> str:
    """ISO 8601 in UTC with milliseconds, as machines read it."""
    return as_utc(value).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def format_local(value: datetime | None, fmt: str = "%b %-d, %Y %H:%M", zone: Any = None) -> str:
    """``value`` in the page's time zone, with the zone named."""
    if value is None:
        return ""
    zone = zone or get_page_settings().zone
    local = as_utc(value).astimezone(zone)
    return f"{local.strftime(fmt)} {local.tzname()}"


def time_tag(value: datetime | None, fmt: str = "%b %-d, %Y %H:%M") -> Markup:
    """A <time> element: UTC ISO 8601 for machines, the page's zone for people."""
    if value is None:
        return Markup("")
    return Markup('<time datetime="{}">{}</time>').format(iso_utc(value),
                                                         escape(format_local(value, fmt)))


def status_label(value: Any) -> str:
    """A human label for a component, incident or maintenance status."""
    try:
        return ComponentStatus(str(value)).label
    except ValueError:
        return STATUS_LABELS.get(str(value), str(value).replace("_", " ").capitalize())


def init_app(app: Flask) -> None:
    """Register the filters and the page settings every template sees."""
    app.add_template_filter(render_markdown, "markdown")
    app.add_template_filter(time_tag, "time_tag")
    app.add_template_filter(format_local, "local")
    app.add_template_filter(iso_utc, "iso")
    app.add_template_filter(status_label, "status_label")

    @app.context_processor
    def page_settings() -> dict[str, Any]:
        return {"page": get_page_settings()}
