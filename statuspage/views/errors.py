"""Error pages chosen by Accept; one JSON shape for API clients; rollback before a 500."""

from __future__ import annotations

from typing import Any

from flask import Flask, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

from ..extensions import db
from ..validation import DomainError


def wants_json() -> bool:
    """True for API paths and clients that prefer JSON over HTML."""
    if request.path.startswith(("/api/", "/v1/")):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json" and request.accept_mimetypes[best] > \
        request.accept_mimetypes["text/html"]


def error_response(status: int, error: str, message: str, field: str | None = None) -> Any:
    """The error in the shape the client asked for."""
    if wants_json():
        body: dict[str, Any] = {"error": error, "message": message}
        if field:
            body["field"] = field
        return jsonify(body), status
    return render_template("error.html", status=status, error=error, message=message), status


def init_app(app: Flask) -> None:
    """Register the handlers."""

    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError) -> Any:
        return error_response(400, "Bad Request",
                              "The form was too old or incomplete (missing CSRF token). "
                              "Go back, reload the page and try again.")

    @app.errorhandler(DomainError)
    def domain_error(exc: DomainError) -> Any:
        db.session.rollback()
        return error_response(exc.status_code, _reason(exc.status_code), exc.message, exc.field)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Any:
        return error_response(exc.code or 500, exc.name, exc.description or exc.name)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> Any:
        db.session.rollback()
        app.logger.exception("Unhandled error on %s %s", request.method, request.path)
        error = InternalServerError()
        return error_response(500, error.name, "Something went wrong on our side and your "
                              "change was not saved. Please try again.")


def _reason(status: int) -> str:
    return {400: "Bad Request", 404: "Not Found", 409: "Conflict",
            422: "Unprocessable Entity"}.get(status, "Error")
