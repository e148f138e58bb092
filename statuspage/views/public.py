"""Public pages: the status page, incident pages, history."""

from __future__ import annotations

from flask import Blueprint, Flask

bp = Blueprint("public", __name__)


@bp.get("/")
def index() -> str:
    return "statuspage"


def init_app(app: Flask) -> None:
    """Register the blueprint."""
    app.register_blueprint(bp)
