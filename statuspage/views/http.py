"""HTTP answers that every view shares: conditional responses for what the public caches, and
one shape for errors (an HTML page, or JSON for API clients)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from flask import Flask, Response, current_app, jsonify, render_template, request
from flask.sessions import SecureCookieSessionInterface

Body = str | bytes


def conditional(etag: str, build: Callable[[], Body | tuple[Body, datetime]],
                content_type: str, *, last_modified: datetime | None = None) -> Response:
    """A public response revalidated by ``etag``: built only when the client lacks it, 304
    otherwise; ``Cache-Control: public, max-age=PAGE_CACHE_SECONDS``.

    ``build`` returns the body, or the body and its Last-Modified time.
    """
    if request.if_none_match.contains(etag):
        response = Response(status=304)
    else:
        built = build()
        body, last_modified = built if isinstance(built, tuple) else (built, last_modified)
        response = Response(body, content_type=content_type)
    response.set_etag(etag)
    if last_modified is not None:
        response.last_modified = last_modified
    response.cache_control.public = True
    response.cache_control.max_age = current_app.config["PAGE_CACHE_SECONDS"]
    return response.make_conditional(request)


def wants_json() -> bool:
    """True for API paths and clients that prefer JSON over HTML."""
    if request.path.startswith(("/api/", "/v1/")) or request.path in ("/api", "/v1"):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json" and request.accept_mimetypes[best] > \
        request.accept_mimetypes["text/html"]


def json_error(status: int, error: str, message: str, field: str | None = None
               ) -> tuple[Response, int]:
    """The one JSON error shape of every API: ``{"error": reason, "message": ...}``, plus
    ``"field"`` when one field is to blame."""
    body: dict[str, Any] = {"error": error, "message": message}
    if field:
        body["field"] = field
    return jsonify(body), status


def error_response(status: int, error: str, message: str, field: str | None = None) -> Any:
    """The error in the shape the client asked for: JSON (``json_error``) or the error page."""
    if wants_json():
        return json_error(status, error, message, field)
    return render_template("error.html", status=status, error=error, message=message), status


class PublicResponseSessionInterface(SecureCookieSessionInterface):
    """Keeps public responses cacheable by shared caches (CDNs, proxies).

    Flask adds `Vary: Cookie` to any response whose request touched the session, and
    Flask-Login touches it on every response. A response that declares itself
    `Cache-Control: public` is the same for every visitor, so it must not vary by cookie.
    """

    def save_session(self, app: Flask, session: Any, response: Any) -> None:
        super().save_session(app, session, response)
        if response.cache_control.public and not session.modified:
            response.vary.discard("Cookie")
