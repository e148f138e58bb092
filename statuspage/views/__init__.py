"""The HTTP edge: every blueprint, and every rule that holds for all of them, installed here.

``init_app`` is the one place to read what applies app-wide: the error handlers, the headers
every response carries (framing), the session interface that keeps public pages cacheable,
the template filters, and the blueprints in the order they are registered.
"""

from __future__ import annotations

import math
import time
from typing import Any

from flask import Flask, Response, make_response, request
from flask_limiter.errors import RateLimitExceeded
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

from ..extensions import db, limiter
from ..validation import DomainError
from .http import PublicResponseSessionInterface, error_response

# The only page other sites may show in a frame; every other one refuses (clickjacking).
FRAMABLE_PATHS = frozenset({"/embed"})
_REASONS = {400: "Bad Request", 404: "Not Found", 409: "Conflict", 422: "Unprocessable Entity"}


def init_app(app: Flask) -> None:
    """Install the app-wide rules, then the blueprints."""
    from . import admin, api, embeds, filters, public

    _install_error_handlers(app)
    app.after_request(_framing)
    app.session_interface = PublicResponseSessionInterface()
    filters.init_app(app)
    for blueprint in (public, admin, api, embeds):
        blueprint.init_app(app)


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
        return error_response(400, "Bad Request",
                              "The form was too old or incomplete (missing CSRF token). "
                              "Go back, reload the page and try again.")

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
        response = make_response(error_response(exc.code or 500, exc.name,
                                                exc.description or exc.name))
        # The exception's own headers: Allow on a 405, WWW-Authenticate, Retry-After.
        for name, value in exc.get_headers():
            if name.lower() != "content-type":
                response.headers[name] = value
        return response

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> Any:
        db.session.rollback()
        app.logger.exception("Unhandled error on %s %s", request.method, request.path)
        return error_response(500, InternalServerError().name, "Something went wrong on our "
                              "side and your change was not saved. Please try again.")
