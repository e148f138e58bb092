"""Keep public responses cacheable by shared caches (CDNs, proxies).

Flask adds `Vary: Cookie` to any response whose request touched the session, and Flask-Login
touches it on every response. A response that declares itself `Cache-Control: public` is the
same for every visitor, so it must not vary by cookie; this interface drops that header there.
"""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.sessions import SecureCookieSessionInterface


class PublicResponseSessionInterface(SecureCookieSessionInterface):
    def save_session(self, app: Flask, session: Any, response: Any) -> None:
        super().save_session(app, session, response)
        if response.cache_control.public and not session.modified:
            response.vary.discard("Cookie")


def init_app(app: Flask) -> None:
    """Install the session interface."""
    app.session_interface = PublicResponseSessionInterface()
