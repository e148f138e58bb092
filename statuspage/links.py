"""Every link that leaves the site (emails, feeds, the API, calendars): built from BASE_URL.

Links are built by the URL map (``url_for``'s own machinery) bound to ``BASE_URL``, never from
the request's Host header and never spelled by hand, so a route can move without a link going
stale. Inside the site, templates use ``url_for`` as usual. This room knows the URL map and
the settings only, so every room may ask it for a link.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import current_app
from werkzeug.routing import MapAdapter

_ADAPTER = "statuspage.links.adapter"


def _adapter() -> MapAdapter:
    # Bound once per application: BASE_URL does not change while it runs.
    adapter = current_app.extensions.get(_ADAPTER)
    if adapter is None:
        base = urlsplit(current_app.config["BASE_URL"])
        adapter = current_app.url_map.bind(base.netloc, script_name=base.path or "/",
                                           url_scheme=base.scheme or "https")
        current_app.extensions[_ADAPTER] = adapter
    return adapter


def external(endpoint: str, **values: Any) -> str:
    """The absolute URL of ``endpoint`` under BASE_URL, as ``url_for(..., _external=True)``."""
    return _adapter().build(endpoint, values, force_external=True)


def host() -> str:
    """BASE_URL's host name, for ids that must be unique to this site (Message-IDs, tags)."""
    return urlsplit(current_app.config["BASE_URL"]).hostname or "localhost"


def home() -> str:
    """The status page itself, as BASE_URL names it (without a trailing slash)."""
    return current_app.config["BASE_URL"].rstrip("/")


def incident(incident_id: int) -> str:
    """An incident's (or maintenance's) own page."""
    return external("public.incident", incident_id=incident_id)


def confirm(token: str) -> str:
    """The emailed link that confirms a subscription."""
    return external("public.confirm_subscription", token=token)


def manage(token: str) -> str:
    """The emailed link to a subscriber's choice."""
    return external("public.manage_subscription", token=token)


def unsubscribe(token: str) -> str:
    """The one-click unsubscribe link (a GET asks, a POST unsubscribes, RFC 8058)."""
    return external("public.unsubscribe", token=token)


def feed(kind: str, component_id: int | None = None) -> str:
    """The history feed (``rss`` or ``atom``), of the whole page or of one component."""
    if component_id is None:
        return external(f"public.history_{kind}")
    return external(f"public.component_{kind}", component_id=component_id)
