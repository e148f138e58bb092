"""Fixtures: app, db, client, runner, actions, factories, a live server.

The suite runs on a SQLite file by default; STATUSPAGE_TEST_DATABASE_URL switches it to
PostgreSQL (CI runs it both ways). The schema is built once per run through the migrations, and
every test starts from empty tables.
"""

from __future__ import annotations

import os
import re
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import flask_babel
import pytest
import requests
import sqlalchemy as sa
from flask import Flask, g, has_app_context
from flask.testing import FlaskClient
from itsdangerous import URLSafeTimedSerializer
from werkzeug.serving import make_server
from werkzeug.test import TestResponse

from statuspage import ROOT, create_app, models, staff  # noqa: F401  (registers every table)
from statuspage.components import create_component, create_group
from statuspage.extensions import db as _db
from statuspage.incidents import open_incident
from statuspage.maintenance import schedule_maintenance
from statuspage.site import SETTINGS_ID, new_page_code
from statuspage.staff import create_user
from tests.processes import output_file, output_of, serving, stop

pytest_plugins = ["tests.smtp", "tests.receiver"]  # smtp and receiver fixtures; the mail guard

TEST_PASSWORD = "correct horse battery"
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def _database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = os.environ.get("STATUSPAGE_TEST_DATABASE_URL")
    if url:
        return url
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A database with the schema built by the migrations, once per run."""
    from flask_migrate import downgrade, upgrade

    url = _database_url(tmp_path_factory)
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "t"})
    with app.app_context():
        downgrade(revision="base")  # a database left by an aborted run starts clean
        upgrade()
        _db.engine.dispose()
    yield url


class Client(FlaskClient):
    """A test client whose every request loads the signed-in user afresh.

    Flask-Login caches the user on ``g``, and Flask-Babel the language, both on the application
    context, and a request reuses the context already pushed. The fixtures here hold one while
    tests use the client, so the user or language of one request (or of another client) would
    answer the next. In production each request pushes its own context, so the application
    needs no such step.
    """

    def open(self, *args: Any, **kwargs: Any) -> TestResponse:
        if has_app_context():
            g.pop("_login_user", None)
            flask_babel.refresh()
        return super().open(*args, **kwargs)


@pytest.fixture
def app(database_url: str) -> Iterator[Flask]:
    """An application on empty tables (plus the page settings row)."""
    app = create_app({
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "SQLALCHEMY_DATABASE_URI": database_url,
        "BASE_URL": "http://status.test",
        "MAIL_SUPPRESS_SEND": False,
        # Every request reads the page version and builds what it lacks: tests see a write at
        # once. The refresher's own tests turn it on.
        "PAGE_VERSION_CHECK_MS": 0,
        # The subscribe form's proof of work is on in production and in the tests about it
        # (test_subscribe_limits, the browser tests); the others post the form without it.
        "SUBSCRIBE_CHALLENGE": False,
    })
    app.test_client_class = Client
    with app.app_context():
        _reset_tables()
    yield app
    with app.app_context():
        _db.session.remove()
        _db.engine.dispose()


def _reset_tables() -> None:
    tables = [t for t in _db.metadata.sorted_tables]
    with _db.engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            names = ", ".join(f'"{t.name}"' for t in tables)
            connection.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in reversed(tables):
                connection.execute(table.delete())
        connection.execute(sa.text(
            "INSERT INTO page_settings (id, page_code, name, time_zone, accent_color, version, "
            "created_at, updated_at) VALUES (:id, :code, 'Acme', 'Etc/UTC', '#2c7be5', 1, "
            ":now, :now)"
        ), {"id": SETTINGS_ID, "code": new_page_code(),
            "now": datetime.now(UTC).replace(tzinfo=None)})


@pytest.fixture(autouse=True)
def cheap_password_hashes(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
                          ) -> None:
    """Fast hashes, unless a test is about the real one: scrypt costs ~0.3 s per password."""
    if request.node.get_closest_marker("real_password_hashes") is None:
        monkeypatch.setattr(staff, "PASSWORD_HASH_METHOD", "pbkdf2:sha256:1000")


@pytest.fixture
def db(app: Flask) -> Iterator[Any]:
    """The database, inside an application context."""
    with app.app_context():
        yield _db


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> Any:
    return app.test_cli_runner()


class Actions:
    """User steps over the test client, CSRF tokens included, so tests read as a story."""

    def __init__(self, app: Flask, client: FlaskClient) -> None:
        self.app = app
        self.client = client

    def csrf_token(self) -> str:
        """A valid token for this client's session, made the way Flask-WTF makes one."""
        with self.client.session_transaction() as session:
            raw = session.setdefault("csrf_token", secrets.token_hex(20))
        serializer = URLSafeTimedSerializer(self.app.secret_key, salt="wtf-csrf-token")
        return serializer.dumps(raw)

    def post(self, url: str, data: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        """POST a form with a CSRF token."""
        return self.client.post(url, data={"csrf_token": self.csrf_token(), **(data or {})},
                                **kwargs)

    def login(self, email: str = "ops@example.com", password: str = TEST_PASSWORD) -> Any:
        return self.post("/admin/login", {"email": email, "password": password})

    def logout(self) -> Any:
        return self.post("/admin/logout")


@pytest.fixture
def actions(app: Flask, client: FlaskClient) -> Actions:
    return Actions(app, client)


# --- factories: callables with defaults and **overrides -----------------------------------------

@pytest.fixture
def make_user(db: Any) -> Any:
    def make(email: str = "ops@example.com", role: str = "admin", password: str = TEST_PASSWORD,
             **overrides: Any) -> Any:
        return create_user(email, password, role=role, **overrides)

    return make


@pytest.fixture
def admin_user(make_user: Any) -> Any:
    return make_user("ops@example.com", role="admin")


@pytest.fixture
def logged_in(actions: Actions, admin_user: Any) -> Actions:
    """An admin signed in to the ops console."""
    response = actions.login(admin_user.email)
    assert response.status_code == 302, response.get_data(as_text=True)
    return actions


@pytest.fixture
def make_group(db: Any) -> Any:
    def make(name: str = "Platform", **overrides: Any) -> Any:
        return create_group(name, **overrides)

    return make


@pytest.fixture
def make_component(db: Any) -> Any:
    counter = iter(range(1, 10_000))

    def make(name: str | None = None, **overrides: Any) -> Any:
        return create_component(name or f"Component {next(counter)}", **overrides)

    return make


@pytest.fixture
def make_incident(db: Any) -> Any:
    def make(name: str = "Elevated error rates", **overrides: Any) -> Any:
        overrides.setdefault("body", "We are investigating.")
        return open_incident(name, **overrides)

    return make


@pytest.fixture
def make_maintenance(db: Any) -> Any:
    def make(name: str = "Database upgrade", **overrides: Any) -> Any:
        start = overrides.pop("scheduled_for", datetime.now(UTC) + timedelta(days=2))
        overrides.setdefault("scheduled_until", start + timedelta(hours=2))
        return schedule_maintenance(name, scheduled_for=start, **overrides)

    return make


# --- a real server on loopback, for the browser and HTTP-client tests ---------------------------

@pytest.fixture
def live_server(app: Flask) -> Iterator[str]:
    """Serve ``app`` on 127.0.0.1 in a thread; yields its base URL."""
    with serving(make_server("127.0.0.1", 0, app, threaded=True)) as base:
        yield base


def free_port() -> int:
    """A TCP port on loopback that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def gunicorn_factory(database_url: str, db: Any, tmp_path: Path
                     ) -> Iterator[Callable[..., str]]:
    """Start gunicorn serving wsgi:app over the test database; yields ``start(**env)``, which
    returns the base URL. Stopped at the end of the test."""
    servers: list[subprocess.Popen[str]] = []
    outputs: list[IO[str]] = []

    def start(*options: str, workers: int = 2, **env: str) -> str:
        port = free_port()
        output = output_file()
        outputs.append(output)
        base = f"http://127.0.0.1:{port}"
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--workers", str(workers), "--bind",
             f"127.0.0.1:{port}", "--no-control-socket", "--log-level", "warning", *options,
             "wsgi:app"],
            cwd=ROOT, stdout=output, stderr=subprocess.STDOUT,
            env={**os.environ, "DATABASE_URL": database_url,
                 "SECRET_KEY": "server-process-test-5e0b3c8a9d7f1246",
                 "BASE_URL": base, "MAIL_PORT": "9",  # nothing sends mail here
                 "HOME": str(tmp_path), **env})
        servers.append(server)
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(f"{base}/api/v2/status.json", timeout=5)
                return base
            except (requests.ConnectionError, requests.Timeout):
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"gunicorn did not start:\n{output_of(output)}")
                time.sleep(0.2)

    yield start
    stop(*servers, timeout=10)
    for output in outputs:
        output.close()


def form_errors(html: str) -> list[str]:
    """The error messages a form page shows (elements with class "error")."""
    return [re.sub(r"<[^>]+>", "", m).strip()
            for m in re.findall(r'class="[^"]*\berror\b[^"]*"[^>]*>(.*?)</', html, re.S)]


CHROMIUM = Path("/usr/bin/chromium")
# Debian's Chromium, never a downloaded one; no background traffic on a closed network.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def require_tool(what: str, present: bool) -> None:
    """Skip a test whose tool is not installed here; on CI, where it must be, fail instead."""
    if present:
        return
    if os.environ.get("CI"):
        pytest.fail(f"{what} is missing; CI must run this test.")
    pytest.skip(f"{what} is not installed")


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless Chromium for the whole run, driven by Playwright."""
    require_tool(str(CHROMIUM), CHROMIUM.exists())
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()
