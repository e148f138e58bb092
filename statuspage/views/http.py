"""HTTP answers that every view shares: the cached public answers (built once per page
version for every process, see ``pagecache``), and one shape for errors (an HTML page, or JSON
for API clients), including the 503 that needs no database."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from functools import lru_cache
from typing import Any

from flask import Flask, Response, current_app, jsonify, render_template, request
from flask.sessions import SecureCookieSessionInterface
from flask_babel import LazyString, lazy_gettext
from werkzeug.http import parse_accept_header

from .. import pagecache
from ..builds import ENCODINGS, IDENTITY, Built, Edition
from ..languages import DEFAULT_LANGUAGE, current_language
from ..pagecache import Resource
from ..site import get_page_settings
from . import fastlane, language

HTML = "text/html; charset=utf-8"
JSON = "application/json"
RETRY_AFTER_SECONDS = 30
STALE_HEADER = "Statuspage-Stale"  # on answers kept while the database cannot be read
UNAVAILABLE_TITLE = "Service Unavailable"
# The JSON's message, English like every API answer; the page says it in the visitor's language.
UNAVAILABLE = ("The status page cannot read its data right now. It is being worked on; please "
               "try again in a minute.")
_UNAVAILABLE_PAGE = (lazy_gettext("Service unavailable"), lazy_gettext(
    "The status page cannot read its data right now. It is being worked on; please try again "
    "in a minute."))


def built(body: str | bytes, content_type: str = HTML, last_modified: datetime | None = None,
          headers: tuple[tuple[str, str], ...] = ()) -> Built:
    """What a cached view builds; Last-Modified is the page's last change unless given."""
    data = body.encode() if isinstance(body, str) else body
    return Built(data, content_type, last_modified or get_page_settings().last_change, headers)


def cached(resource: Resource, *, contract: bool = False) -> Response:
    """The answer for ``resource`` at the current page version, the same for every visitor:
    from memory, without the database, once this process has it.

    It carries an ETag of the version (per encoding) and Last-Modified, so clients revalidate
    to a 304; it is compressed once per version, sent as the client accepts it (``Vary:
    Accept-Encoding`` when the client said what it accepts), and ``Cache-Control: public``
    with ``stale-while-revalidate`` and ``stale-if-error`` for shared caches. ``contract``
    keeps the v2 API's recorded ``Cache-Control``. While the database cannot be read, the
    kept answer is sent marked ``Statuspage-Stale``; where there is none, a 503.
    """
    translated = language.is_translated()
    if translated:  # one edition per language, each built in its own (pagecache)
        resource = replace(resource, lang=current_language())
    try:
        edition, stale = pagecache.serve(resource)
    except pagecache.Unavailable:
        return unavailable()
    if not stale and pagecache.current().interval:
        # The fast lane may replay it to requests of the same path that negotiate the same
        # language (None: the answer is the same in every language).
        request.environ[fastlane.MARK] = (edition.key, edition,
                                          resource.lang if translated else None)
    return _answer(edition, stale, contract)


@lru_cache(maxsize=256)
def _accepted(header: str) -> tuple[str, ...]:
    accept = parse_accept_header(header)
    return tuple(name for name in ENCODINGS if accept.quality(name) > 0)


def _answer(edition: Edition, stale: bool, contract: bool) -> Response:
    header = request.headers.get("Accept-Encoding")
    encoding = next((name for name in _accepted(header) if name in edition.bodies),
                    IDENTITY) if header else IDENTITY
    etag = edition.stamp if encoding == IDENTITY else f"{edition.stamp}-{encoding}"
    if request.if_none_match.contains_weak(etag):
        response = Response(status=304)
    else:
        response = Response(edition.bodies[encoding], content_type=edition.content_type)
        if encoding != IDENTITY:
            response.headers["Content-Encoding"] = encoding
    response.set_etag(etag)
    response.last_modified = edition.last_modified
    config = current_app.config
    control = f"public, max-age={config['PAGE_CACHE_SECONDS']}"
    if not contract:
        control += (f", stale-while-revalidate={config['PAGE_STALE_WHILE_REVALIDATE_SECONDS']}"
                    f", stale-if-error={config['PAGE_STALE_IF_ERROR_SECONDS']}")
    response.headers["Cache-Control"] = control
    if header is not None:
        response.vary.add("Accept-Encoding")
    if stale:
        response.headers[STALE_HEADER] = "database unavailable"
    response.headers.extend(edition.headers)
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
                           message=message, page=pagecache.known_page()), status


def unavailable() -> Response:
    """503 with Retry-After, for when the database cannot be read: needs no database (the
    page's settings are those this process last read; the language is negotiated from the
    request alone) and is never cached."""
    if wants_json():
        response, _ = json_error(503, "Service Unavailable", UNAVAILABLE)
    else:
        # Rendered without context processors: some (the console's) would read the database.
        title, message = _UNAVAILABLE_PAGE
        page = current_app.jinja_env.get_template("error.html").render(
            status=503, error=UNAVAILABLE_TITLE, title=title, message=message,
            page=pagecache.known_page(), language=current_language())
        response = Response(page, content_type=HTML)
    response.status_code = 503
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response.cache_control.no_store = True
    return response


class PublicResponseSessionInterface(SecureCookieSessionInterface):
    """Keeps public responses cacheable by shared caches (CDNs, proxies).

    Flask adds `Vary: Cookie` to any response whose request touched the session, and
    Flask-Login touches it on every response. A response that declares itself
    `Cache-Control: public` is the same for every visitor, so it must not vary by the session
    cookie; it keeps `Vary: Cookie` only when another cookie chose it (the language).
    """

    def save_session(self, app: Flask, session: Any, response: Any) -> None:
        super().save_session(app, session, response)
        if (response.cache_control.public and not session.modified
                and not request.environ.get(language.COOKIE_DEPENDENT)):
            # Lower case: HeaderSet.remove matches the stored spelling against the name as
            # given, so "Cookie" would stay in a Vary that names another header too.
            response.vary.discard("cookie")
