"""The JSON APIs: the public API v2, the management API v1, and their OpenAPI 3.1 document
with its page for people (Swagger UI, from the Python package that ships it: no CDN).

``schemas`` and ``inputs`` hold every shape, ``v2`` and ``v1`` the views, ``openapi`` the
document built from both.
"""

from __future__ import annotations

import importlib.resources
import json
from pathlib import Path

from flask import Blueprint, Flask, Response, render_template, send_from_directory

from ... import links
from ...extensions import csrf
from ...site import get_page_settings
from . import followers, openapi, v1, v2, webhooks  # noqa: F401  (followers: v1 routes)
from .routes import JsonSuffix

bp = Blueprint("api_docs", __name__)

SWAGGER_UI_PACKAGE = "flask_swagger_ui"  # ships Swagger UI 5, the first to read OpenAPI 3.1


@bp.get("/api/openapi.json")
def openapi_document() -> Response:
    """The OpenAPI 3.1 document of the public and management APIs."""
    # BASE_URL, never the Host header: the document is cached publicly, and a forged Host
    # would otherwise send every reader's "try it" requests elsewhere.
    document = openapi.document(links.home(), get_page_settings().name)
    response = Response(json.dumps(document, ensure_ascii=False, indent=1),
                        content_type="application/json")
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.cache_control.public = True
    response.cache_control.max_age = 300
    return response


@bp.get("/api/docs")
def api_docs() -> str:
    """The API reference for people, rendered from the OpenAPI document by Swagger UI."""
    return render_template("public/api_docs.html")


@bp.get("/api/docs/assets/<path:filename>")
def api_docs_asset(filename: str) -> Response:
    """Swagger UI's files, served from the Python package that ships them (no CDN)."""
    folder = Path(str(importlib.resources.files(SWAGGER_UI_PACKAGE) / "dist"))
    return send_from_directory(folder, filename, max_age=86400)


def init_app(app: Flask) -> None:
    """Register both APIs and the document; the management API takes keys, not cookies, so it
    is exempt from CSRF, and each key is under its rate limit."""
    app.url_map.converters["json"] = JsonSuffix
    csrf.exempt(v1.bp)
    v1.limit_each_key()
    app.register_blueprint(v2.bp)
    app.register_blueprint(v1.bp)
    app.register_blueprint(bp)
    webhooks.init_app(app)
