"""HTTP answers that every view shares: conditional responses for what the public caches, and
one shape for errors (an HTML page, or JSON for API clients)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from flask import Flask, Response, current_app, jsonify, render_template, request
from flask.sessions import SecureCookieSessionInterface
from flask_babel import LazyString, lazy_gettext

from ..languages import DEFAULT_LANGUAGE, current_language

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


# The error page's words for people, in their language; a message that is not translated (a
# domain error's English) gives way to the general one of its status.
_PAGE_TITLES = {
    400: lazy_gettext("The request could not be used"),
    403: lazy_gettext("Not allowed"),
    404: lazy_gettext("Page not found"),
    405: lazy_gettext("Not allowed here"),
    409: lazy_gettext("Not possible now"),
    410: lazy_gettext("No longer here"),
    413: lazy_gettext("Too large"),
    422: lazy_gettext("The request could not be used"),
    429: lazy_gettext("Too many requests"),
    500: lazy_gettext("Something went wrong"),
}
_PAGE_TEXTS = {
    400: lazy_gettext("Something in the request was missing or malformed. Go back and try "
                      "again."),
    403: lazy_gettext("You are not allowed to see this page."),
    404: lazy_gettext("There is no page at this address. The link may be mistyped, or the "
                      "page may have moved."),
    405: lazy_gettext("This address does not answer that kind of request."),
    409: lazy_gettext("This cannot be done in the current state. Reload the page and try "
                      "again."),
    410: lazy_gettext("What was here has gone."),
    413: lazy_gettext("What was sent is too large."),
    422: lazy_gettext("Some of what was sent cannot be used. Go back and check the form."),
    429: lazy_gettext("Too many requests in a short time. Wait a minute and try again."),
    500: lazy_gettext("Something went wrong on our side and your change was not saved. "
                      "Please try again."),
}


def error_response(status: int, error: str, message: str | LazyString,
                   field: str | None = None) -> Any:
    """The error in the shape the client asked for: JSON (``json_error``) or the error page."""
    if wants_json():
        return json_error(status, error, str(message), field)
    title = _PAGE_TITLES.get(status, error)
    if not isinstance(message, LazyString) and current_language() != DEFAULT_LANGUAGE:
        message = _PAGE_TEXTS.get(status, message)
    return render_template("error.html", status=status, error=error, title=title,
                           message=message), status


_COOKIE_DEPENDENT = "statuspage.cookie_dependent"


def depends_on_cookie() -> None:
    """Mark this answer as chosen by a cookie (the language), so it keeps ``Vary: Cookie``."""
    request.environ[_COOKIE_DEPENDENT] = True


class PublicResponseSessionInterface(SecureCookieSessionInterface):
    """Keeps public responses cacheable by shared caches (CDNs, proxies).

    Flask adds `Vary: Cookie` to any response whose request touched the session, and
    Flask-Login touches it on every response. A response that declares itself
    `Cache-Control: public` is the same for every visitor, so it must not vary by the session
    cookie; it keeps `Vary: Cookie` only when another cookie chose it (``depends_on_cookie``).
    """

    def save_session(self, app: Flask, session: Any, response: Any) -> None:
        super().save_session(app, session, response)
        if (response.cache_control.public and not session.modified
                and not request.environ.get(_COOKIE_DEPENDENT)):
            response.vary.discard("Cookie")
