"""statuspage: a self-hosted service status page with email notifications."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

from . import config as settings
from .extensions import babel, csrf, db, login_manager, mail, migrate

ROOT = Path(__file__).resolve().parent.parent


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the application: read settings, bind extensions, register views and commands."""
    app = Flask(__name__, instance_relative_config=True,
                template_folder=str(ROOT / "templates"))
    app.config.from_mapping(settings.from_env())
    app.config.update(
        SQLALCHEMY_ENGINE_OPTIONS={"pool_pre_ping": True},
        WTF_CSRF_TIME_LIMIT=None,  # the session bounds a form's life; no surprise expiries
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_SAMESITE="Lax",
        MAX_CONTENT_LENGTH=2 * 1024 * 1024,
    )
    if config:
        app.config.from_mapping(config)
    if not app.config.get("SECRET_KEY") and (app.debug or app.testing):
        app.config["SECRET_KEY"] = secrets.token_hex(32)
    settings.check(app.config)

    from . import cli, dbtypes, scheduler
    from .views import admin, api, api_v1, caching, embeds, errors, filters, public

    dbtypes.init_app(app)
    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"), render_as_batch=True)
    mail.init_app(app)
    csrf.init_app(app)
    login_manager.init_app(app, add_context_processor=False)  # see admin.init_app
    babel.init_app(app)
    caching.init_app(app)
    filters.init_app(app)
    errors.init_app(app)
    public.init_app(app)
    admin.init_app(app)
    api.init_app(app)
    api_v1.init_app(app)
    embeds.init_app(app)
    scheduler.init_app(app)
    cli.init_app(app)
    return app
