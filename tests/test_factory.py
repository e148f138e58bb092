"""The application factory: it wires settings, extensions, views and commands, and nothing else."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask

from statuspage import create_app
from statuspage.config import SETTINGS, ConfigError
from statuspage.extensions import db


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Start each test from an environment that sets none of the page's settings."""
    for setting in SETTINGS:
        monkeypatch.delenv(setting.env, raising=False)
    monkeypatch.delenv("FLASK_DEBUG", raising=False)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'factory.db'}"


def dispose(app: Flask) -> None:
    with app.app_context():
        db.engine.dispose()


def test_a_mapping_configures_the_app_for_tests(sqlite_url: str) -> None:
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": sqlite_url,
                      "HISTORY_PAGE_SIZE": 7})
    assert app.testing
    assert app.config["HISTORY_PAGE_SIZE"] == 7
    assert app.config["SQLALCHEMY_DATABASE_URI"] == sqlite_url
    assert app.config["MAIL_PORT"] == 1025  # untouched settings keep their defaults
    assert app.secret_key, "tests get a random secret key"
    assert {"create-user", "demo-data", "worker", "check-settings", "dev"} <= set(app.cli.commands)
    dispose(app)


def test_the_environment_configures_the_app(monkeypatch: pytest.MonkeyPatch,
                                            sqlite_url: str) -> None:
    monkeypatch.setenv("SECRET_KEY", "from-the-environment-9c41e07d2ab5f836")
    monkeypatch.setenv("MAIL_PORT", "2525")
    monkeypatch.setenv("MAIL_USE_TLS", "yes")
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    app = create_app()
    assert not app.testing and not app.debug
    assert app.secret_key == "from-the-environment-9c41e07d2ab5f836"
    assert (app.config["MAIL_PORT"], app.config["MAIL_USE_TLS"]) == (2525, True)
    dispose(app)


def test_a_mapping_overrides_the_environment(monkeypatch: pytest.MonkeyPatch,
                                             sqlite_url: str) -> None:
    monkeypatch.setenv("MAIL_PORT", "2525")
    app = create_app({"TESTING": True, "MAIL_PORT": 25, "SQLALCHEMY_DATABASE_URI": sqlite_url})
    assert app.config["MAIL_PORT"] == 25
    dispose(app)


def test_without_a_secret_key_the_app_refuses_to_start_in_production() -> None:
    with pytest.raises(ConfigError, match=r"SECRET_KEY is not set\. Set it to a long random"):
        create_app()


def test_debug_mode_runs_without_a_secret_key(monkeypatch: pytest.MonkeyPatch,
                                              sqlite_url: str) -> None:
    monkeypatch.setenv("FLASK_DEBUG", "1")
    app = create_app({"SQLALCHEMY_DATABASE_URI": sqlite_url})
    assert app.debug and len(app.secret_key or "") >= 32
    dispose(app)


@pytest.mark.parametrize(("env", "raw"), [
    ("MAIL_PORT", "abc"),
    ("SCHEDULER_IN_PROCESS", "maybe"),
    ("PAGE_CACHE_SECONDS", "-5"),
    ("DATABASE_URL", ""),
])
def test_a_bad_environment_value_stops_the_factory_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, env: str, raw: str,
) -> None:
    monkeypatch.setenv(env, raw)
    with pytest.raises(ConfigError, match=rf"^{env}: "):
        create_app({"TESTING": True})


def test_tls_and_ssl_together_stop_the_factory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAIL_USE_TLS", "true")
    monkeypatch.setenv("MAIL_USE_SSL", "true")
    with pytest.raises(ConfigError, match="MAIL_USE_TLS and MAIL_USE_SSL"):
        create_app({"TESTING": True})


def test_a_heroku_style_postgres_url_is_pointed_at_psycopg(monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgres://status:pw@db.internal:5432/status")
    app = create_app({"TESTING": True})
    assert (app.config["SQLALCHEMY_DATABASE_URI"]
            == "postgresql+psycopg://status:pw@db.internal:5432/status")
    with app.app_context():
        assert db.engine.dialect.driver == "psycopg"


def threads() -> set[threading.Thread]:
    """The running threads, less the expiry timers of the rate limiter's memory storage: each
    re-arms itself while counts from earlier tests' requests are kept, at any moment."""
    return {t for t in threading.enumerate()
            if not type(getattr(getattr(t, "function", None), "__self__", None)
                        ).__module__.startswith("limits.")}


def test_the_factory_starts_no_threads_even_with_the_scheduler_in_process(sqlite_url: str
                                                                          ) -> None:
    before = threads()
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": sqlite_url,
                      "SCHEDULER_IN_PROCESS": True})
    assert threads() == before
    assert app.extensions["statuspage.jobs"], "jobs are declared, not started"
    dispose(app)


def test_the_factory_creates_no_tables(sqlite_url: str) -> None:
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": sqlite_url})
    with app.app_context():
        assert sa.inspect(db.engine).get_table_names() == []
        db.engine.dispose()


def test_two_apps_keep_their_own_settings(sqlite_url: str) -> None:
    first = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": sqlite_url,
                        "BASE_URL": "https://one.example"})
    second = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": sqlite_url,
                         "BASE_URL": "https://two.example"})
    assert first.config["BASE_URL"] == "https://one.example"
    assert second.config["BASE_URL"] == "https://two.example"
    assert first.secret_key != second.secret_key
    for app in (first, second):
        dispose(app)


def test_every_setting_is_in_the_app_config(sqlite_url: str) -> None:
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": sqlite_url})
    missing = [s.key for s in SETTINGS if s.key not in app.config]
    assert not missing
    dispose(app)
