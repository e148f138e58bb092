"""The HTTP edge: every blueprint, and every rule that holds for all of them, installed here.

``init_app`` is the one place to read what applies app-wide: the error handlers, the headers
every response carries (the content security policy, framing, no sniffing, referrers,
browser features; no storing of console pages), the session interface that keeps public pages
cacheable, the template filters, and the blueprints in the order they are registered.
"""

from __future__ import annotations

import math
import time
from typing import Any

from flask import Flask, Response, current_app, make_response, request
from flask_limiter.errors import RateLimitExceeded
from flask_wtf.csrf import CSRFError
from sqlalchemy import exc as sa_exc
from werkzeug.exceptions import HTTPException, InternalServerError, TooManyRequests
from werkzeug.middleware.proxy_fix import ProxyFix

from ..accesslog import redact
from ..extensions import db, limiter
from ..validation import DomainError
from .http import (
    PublicResponseSessionInterface,
    error_response,
    json_error,
    unavailable,
    wants_json,
)
from .rules import LazyBuilderRule, lazy_rules_supported

# One policy for every page: scripts and styles come from this site's own files, nothing is
# inline (no <script>, <style>, style= or on...= in a page), no plugins, no <base>, forms post
# here only, and no other site may frame the page (clickjacking).
CONTENT_SECURITY_POLICY = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    # The page's logo is an https address ops give; Swagger UI's stylesheet carries data:
    # images. An image runs nothing.
    "img-src": "'self' data: https:",
    "object-src": "'none'",
    "base-uri": "'none'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}
# Where a page needs a directive of its own: the embed is made to be framed by other sites.
POLICY_BY_PATH = {"/embed": {"frame-ancestors": "*"}}
# The console's mail viewer shows an email's own HTML, inline styles and all, in a sandboxed
# frame: it may style itself and show images, and nothing else (no script, no forms, an origin
# of its own), and only this site may frame it.
SANDBOXED_ENDPOINTS = {"admin.mail_message_html": (
    "sandbox allow-popups allow-popups-to-escape-sandbox; default-src 'none'; "
    "style-src 'unsafe-inline'; img-src data: https:; frame-ancestors 'self'")}
PERMISSIONS_POLICY = ("accelerometer=(), camera=(), geolocation=(), gyroscope=(), "
                      "magnetometer=(), microphone=(), payment=(), usb=()")
_REASONS = {400: "Bad Request", 404: "Not Found", 409: "Conflict", 422: "Unprocessable Entity",
            429: "Too Many Requests"}


def init_app(app: Flask) -> None:
    """Install the app-wide rules, then the blueprints."""
    from . import admin, api, embeds, fastlane, filters, public

    if lazy_rules_supported():
        app.url_rule_class = LazyBuilderRule
    if app.config["PROXY_COUNT"]:
        # Only the proxies we run may say who the client is and that it came over TLS.
        count = app.config["PROXY_COUNT"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count)  # type: ignore[method-assign]
    _install_error_handlers(app)
    app.after_request(_security_headers)
    app.session_interface = PublicResponseSessionInterface()
    filters.init_app(app)
    for blueprint in (public, admin, api, embeds):
        blueprint.init_app(app)
    fastlane.init_app(app)  # outermost: kept answers never reach routing


def _policy(path: str) -> str:
    directives = {**CONTENT_SECURITY_POLICY, **POLICY_BY_PATH.get(path, {})}
    return "; ".join(f"{name} {value}" for name, value in directives.items())


def _security_headers(response: Response) -> Response:
    headers = response.headers
    sandboxed = SANDBOXED_ENDPOINTS.get(request.endpoint or "")
    headers["Content-Security-Policy"] = sandboxed or _policy(request.path)
    if sandboxed:
        headers["X-Frame-Options"] = "SAMEORIGIN"
    elif request.path in POLICY_BY_PATH and "frame-ancestors" in POLICY_BY_PATH[request.path]:
        headers.pop("X-Frame-Options", None)
    else:
        headers["X-Frame-Options"] = "DENY"
    headers["X-Content-Type-Options"] = "nosniff"
    headers["Permissions-Policy"] = PERMISSIONS_POLICY
    headers["Cross-Origin-Opener-Policy"] = "same-origin"
    # Pages under a signed link say no-referrer themselves (views.public).
    headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    hsts = current_app.config["HSTS_SECONDS"]
    if hsts and (request.is_secure or current_app.config["BASE_URL"].startswith("https://")):
        headers["Strict-Transport-Security"] = f"max-age={hsts}; includeSubDomains"
    if request.path == "/admin" or request.path.startswith("/admin/"):
        # Console pages show subscriber addresses, keys and the audit log: never kept in a
        # browser's or a proxy's cache.
        response.cache_control.no_store = True
    return response


def _retry_after(exc: TooManyRequests) -> int:
    # A limiter limit frees a slot when its window moves on (the longest of those exceeded);
    # a plain 429 may say when itself.
    exceeded = [limit.window.reset_time for limit in limiter.current_limits if limit.breached]
    if isinstance(exc, RateLimitExceeded) and exceeded:
        wait = max(exceeded) - time.time()
    else:
        wait = exc.retry_after or 60  # type: ignore[assignment]
    return max(1, math.ceil(float(wait)))  # type: ignore[arg-type]


def _in_words(seconds: int) -> str:
    minutes = math.ceil(seconds / 60)
    if minutes < 90:
        return "1 minute" if minutes == 1 else f"{minutes} minutes"
    hours = round(minutes / 60)
    return f"{hours} hours"


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
        response = make_response(error_response(
            exc.status_code, _REASONS.get(exc.status_code, "Error"), exc.message, exc.field))
        if getattr(exc, "retry_after", None):  # a refusal that passes with time (a cooldown)
            response.headers["Retry-After"] = str(exc.retry_after)  # type: ignore[attr-defined]
        return response

    @app.errorhandler(TooManyRequests)  # a rate limit (RateLimitExceeded), or any 429
    def too_many_requests(exc: TooManyRequests) -> Any:
        wait = _retry_after(exc)
        message = exc.description or "Too many requests."
        if wants_json():
            response = make_response(json_error(429, "Too Many Requests", message))
        else:
            # Rendered without the context processors: a flood must cost no database work.
            html = current_app.jinja_env.get_template("too_many_requests.html").render(
                message=message, wait=_in_words(wait))
            response = make_response(html, 429)
        response.headers["Retry-After"] = str(wait)
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

    @app.errorhandler(sa_exc.OperationalError)
    @app.errorhandler(sa_exc.InterfaceError)
    @app.errorhandler(sa_exc.TimeoutError)
    def database_unavailable(exc: Exception) -> Any:
        # The database is down, unreachable or refusing work for now: a 503 that says to come
        # back, never "your change was not saved" with a 500.
        try:
            db.session.rollback()
        except sa_exc.SQLAlchemyError:
            pass
        app.logger.warning("Database unavailable on %s %s: %s", request.method, request.path,
                           type(exc).__name__)
        return unavailable()

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> Any:
        db.session.rollback()
        app.logger.exception("Unhandled error on %s %s", request.method, redact(request.path))
        return error_response(500, InternalServerError().name, "Something went wrong on our "
                              "side and your change was not saved. Please try again.")
