"""The HTTP edge: every blueprint, and every rule that holds for all of them, installed here.

``init_app`` is the one place to read what applies app-wide: the error handlers, the headers
every response carries (framing), the language of each answer, the session interface that
keeps public pages cacheable, the template filters, and the blueprints in the order they are
registered.

The language: pages for people speak the visitor's language, the APIs, feeds, badges and the
console speak English. An explicit choice (``?lang=pl`` in the URL) wins; then the cookie the
switcher sets; then the best match of ``Accept-Language``; then English. A page in a language
other than English links on in it (``?lang=pl``), so those URLs are the language's own and
cache as they are; a page reached without ``?lang=`` says ``Vary: Accept-Language, Cookie``, so
that a shared cache never hands one visitor's language to another.
"""

from __future__ import annotations

import math
import time
from typing import Any

from flask import Flask, Response, has_request_context, make_response, request
from flask_babel import get_babel, lazy_gettext
from flask_limiter.errors import RateLimitExceeded
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

from ..extensions import db, limiter
from ..languages import DEFAULT_LANGUAGE, LANGUAGES, current_language, is_language
from ..validation import DomainError
from .http import PublicResponseSessionInterface, depends_on_cookie, error_response

# The only page other sites may show in a frame; every other one refuses (clickjacking).
FRAMABLE_PATHS = frozenset({"/embed"})
_REASONS = {400: "Bad Request", 404: "Not Found", 409: "Conflict", 422: "Unprocessable Entity"}

LANGUAGE_COOKIE = "lang"
LANGUAGE_ARG = "lang"
# Pages for people live on these blueprints; everything else (the APIs, the console) is English.
TRANSLATED_BLUEPRINTS = frozenset({"public", "embeds"})
# ... except these answers for machines and feed readers, which stay English like the APIs.
ENGLISH_ENDPOINTS = frozenset({
    "public.history_rss", "public.history_atom", "public.component_rss",
    "public.component_atom", "public.switch_language", "embeds.badge",
    "embeds.component_badge", "embeds.maintenance_calendar", "embeds.favicon",
    "embeds.favicon_ico", "embeds.robots",
})
_ENGLISH_PATHS = ("/api/", "/v1/", "/admin/", "/static/")


def init_app(app: Flask) -> None:
    """Install the app-wide rules, then the blueprints."""
    from . import admin, api, embeds, filters, public

    _install_error_handlers(app)
    get_babel(app).locale_selector = select_language
    app.url_defaults(_link_in_language)
    app.after_request(_language_headers)
    app.after_request(_framing)
    app.session_interface = PublicResponseSessionInterface()
    filters.init_app(app)
    for blueprint in (public, admin, api, embeds):
        blueprint.init_app(app)


def is_translated() -> bool:
    """Whether this request answers a person (a page in their language) rather than a machine."""
    endpoint = request.endpoint
    if endpoint is None:  # no route matched: the error page of a stray URL
        return not request.path.startswith(_ENGLISH_PATHS)
    return request.blueprint in TRANSLATED_BLUEPRINTS and endpoint not in ENGLISH_ENDPOINTS


def explicit_language() -> str | None:
    """The language the URL names (``?lang=pl``), if it names one the page speaks."""
    value = request.args.get(LANGUAGE_ARG)
    return value if is_language(value) else None


def select_language() -> str:
    """Flask-Babel's locale selector: the language of this answer (English outside a request,
    where emails choose theirs with ``force_locale``)."""
    if not has_request_context() or not is_translated():
        return DEFAULT_LANGUAGE
    chosen = explicit_language() or request.cookies.get(LANGUAGE_COOKIE)
    if is_language(chosen):
        return chosen
    return request.accept_languages.best_match(LANGUAGES) or DEFAULT_LANGUAGE


def _link_in_language(endpoint: str, values: dict[str, Any]) -> None:
    # A page in Polish links on in Polish, so that following a link never changes language.
    # An explicit lang=None asks for the page without one (the switcher's way back).
    if (has_request_context() and LANGUAGE_ARG not in values and endpoint.partition(".")[0]
            in TRANSLATED_BLUEPRINTS and endpoint not in ENGLISH_ENDPOINTS
            and is_translated() and current_language() != DEFAULT_LANGUAGE):
        values[LANGUAGE_ARG] = current_language()


def _language_headers(response: Response) -> Response:
    if not is_translated():
        return response
    response.content_language.add(current_language())
    if explicit_language() is None:
        # Chosen by the visitor's headers: a shared cache must keep one copy per choice.
        response.vary.add("Accept-Language")
        response.vary.add("Cookie")
        depends_on_cookie()
    return response


def _framing(response: Response) -> Response:
    if request.path in FRAMABLE_PATHS:
        response.headers["Content-Security-Policy"] = "frame-ancestors *"
        response.headers.pop("X-Frame-Options", None)
    else:
        response.headers["X-Frame-Options"] = "DENY"
        response.headers.setdefault("Content-Security-Policy", "frame-ancestors 'none'")
    return response


def _install_error_handlers(app: Flask) -> None:
    # Domain errors become their 4xx; anything unexpected rolls back first, so a failed
    # request never leaves a half-done transaction to the next one.

    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError) -> Any:
        return error_response(400, "Bad Request", lazy_gettext(
            "The form was too old or incomplete (missing CSRF token). Go back, reload the page "
            "and try again."))

    @app.errorhandler(DomainError)
    def domain_error(exc: DomainError) -> Any:
        db.session.rollback()
        return error_response(exc.status_code, _REASONS.get(exc.status_code, "Error"),
                              exc.message, exc.field)

    @app.errorhandler(RateLimitExceeded)
    def rate_limited(exc: RateLimitExceeded) -> Any:
        response = make_response(error_response(429, "Too Many Requests", exc.description or
                                                "Too many requests."))
        limit = limiter.current_limit  # the one exceeded; Retry-After is when it frees a slot
        wait = limit.window.reset_time - time.time() if limit is not None else 60
        response.headers["Retry-After"] = str(max(1, math.ceil(wait)))
        return response

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Any:
        return error_response(exc.code or 500, exc.name, exc.description or exc.name)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> Any:
        db.session.rollback()
        app.logger.exception("Unhandled error on %s %s", request.method, request.path)
        return error_response(500, InternalServerError().name, lazy_gettext(
            "Something went wrong on our side and your change was not saved. Please try "
            "again."))
