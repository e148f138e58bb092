"""statuspage: a self-hosted service status page with email notifications."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

from . import config as settings
from .extensions import babel, csrf, db, limiter, login_manager, mail, migrate

ROOT = Path(__file__).resolve().parent.parent


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the application: read settings, bind extensions, register views and commands."""
    app = Flask(__name__, instance_relative_config=True,
                template_folder=str(ROOT / "templates"))
    settings.init_app(app, config)

    from . import cli, dbtypes, scheduler, site, views

    dbtypes.init_app(app)
    db.init_app(app)
    site.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"), render_as_batch=True)
    mail.init_app(app)
    csrf.init_app(app)
    login_manager.init_app(app, add_context_processor=False)  # see views.filters
    babel.init_app(app, default_translation_directories=str(ROOT / "translations"))
    limiter.init_app(app)
    views.init_app(app)
    scheduler.init_app(app)
    cli.init_app(app)
    return app
