"""PostgreSQL stops under load: what was built keeps answering, nothing says 500, and the site
recovers by itself once the database is back.

gunicorn serves the demo page from a cluster of this test's own, which is stopped at once
(``pg_ctl -m immediate``) while four clients keep asking, and started again.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests

from statuspage import ROOT, create_app, demo, staff
from statuspage.extensions import db
from statuspage.site import get_page_settings
from tests.conftest import require_tool
from tests.faults.cluster import Cluster, free_port, initdb_path
from tests.processes import output_file, output_of, stop

# Long and varied enough for the production check on SECRET_KEY.
KEY = "database-down-test-key-0123456789abcdef"

STALE = "Statuspage-Stale"
WARM = ["/", "/api/v2/summary.json", "/api/v2/status.json", "/history", "/incidents/1",
        "/history.atom", "/badge.svg", "/embed"]
COLD_PAGES = ["/incidents/2", "/subscribe", "/admin/login", "/subscribe?lang=pl"]
COLD_JSON = ["/api/v2/incidents.json", "/api/v1/pages/{page}/components"]


@pytest.fixture
def site(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """The demo page in a cluster of its own, served by two gunicorn workers."""
    require_tool("PostgreSQL (initdb)", initdb_path() is not None)
    cluster = Cluster()
    server = None
    output = output_file()
    try:
        cluster.create()
        app = create_app({"TESTING": True, "SECRET_KEY": "t",
                          "SQLALCHEMY_DATABASE_URI": cluster.url})
        with app.app_context():
            from flask_migrate import upgrade

            upgrade()
            demo.load(login_password="demo password 1",
                      now=datetime(2026, 1, 15, 12, 0, tzinfo=UTC))
            page_id = get_page_settings().page_code
            _key, read_key = staff.create_api_key("reader", scope="read", actor="test")
            _key, write_key = staff.create_api_key("writer", scope="write", actor="test")
            db.session.remove()
            db.engine.dispose()
        port = free_port()
        env = {**os.environ, "DATABASE_URL": cluster.url, "SECRET_KEY": KEY,
               "BASE_URL": f"http://127.0.0.1:{port}", "MAIL_PORT": "9",
               "PAGE_VERSION_CHECK_MS": "200", "HOME": str(tmp_path)}
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--workers", "2", "--bind",
             f"127.0.0.1:{port}", "--no-control-socket", "--log-level", "warning",
             "wsgi:app"], cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                requests.get(f"{base}/api/v2/status.json", timeout=30)
                break
            except (requests.ConnectionError, requests.Timeout):  # a busy machine is slow
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"gunicorn did not start:\n{output_of(output)}")
                time.sleep(0.2)
        yield {"base": base, "cluster": cluster, "page": page_id, "read": read_key,
               "write": write_key}
    finally:
        if server is not None:
            stop(server, timeout=10)
        output.close()
        cluster.remove()


def _get(site: dict[str, Any], path: str) -> requests.Response:
    headers = {"Authorization": f"OAuth {site['read']}"} if "/v1/" in path else {}
    return requests.get(site["base"] + path.format(page=site["page"]), headers=headers,
                        timeout=30)


class Load:
    """Four clients asking for every URL in turn, keeping (time, path, answer) of each."""

    def __init__(self, site: dict[str, Any], paths: list[str]) -> None:
        self.site, self.paths = site, paths
        self.answers: list[tuple[float, str, requests.Response]] = []
        self.stopped = threading.Event()
        self.threads = [threading.Thread(target=self._run, args=(n,)) for n in range(4)]

    def _run(self, offset: int) -> None:
        turn = offset
        while not self.stopped.is_set():
            path = self.paths[turn % len(self.paths)]
            turn += 1
            self.answers.append((time.monotonic(), path, _get(self.site, path)))

    def __enter__(self) -> Load:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stopped.set()
        for thread in self.threads:
            thread.join(20)


def _settle(check, what: str, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(what)
        time.sleep(0.1)


def _warm(site: dict[str, Any], paths: list[str]) -> None:
    """Ask for each path from eight clients at once, so that both workers have it."""
    with ThreadPoolExecutor(8) as pool:
        for path in paths:
            codes = list(pool.map(lambda _n, p=path: _get(site, p).status_code, range(40)))
            assert set(codes) == {200}, path


def test_pages_keep_answering_while_postgresql_is_down_and_recover_after(site):
    _warm(site, WARM)

    # Pages nobody asked for yet are asked for only once the database is gone.
    with Load(site, WARM) as warm:
        time.sleep(0.5)
        stopped_at = time.monotonic()
        site["cluster"].stop()
        with Load(site, COLD_PAGES + COLD_JSON) as cold:
            time.sleep(3)
    outage = [(at, path, r) for at, path, r in warm.answers + cold.answers
              if at > stopped_at + 1.5]

    assert outage, "no answers while the database was down"
    for _at, path, answer in outage:
        assert answer.status_code in (200, 503), (path, answer.status_code, answer.text[:300])
        if path in WARM:
            assert answer.status_code == 200, path
            assert answer.headers[STALE] == "database unavailable", path
            assert answer.headers["ETag"] and answer.content, path
        else:
            assert answer.status_code == 503, path
            assert answer.headers["Retry-After"] == "30", path
            assert "no-store" in answer.headers["Cache-Control"], path
            if path in COLD_JSON:
                assert answer.json()["error"] == "Service Unavailable", path
                assert "Content-Language" not in answer.headers, path
            elif path.endswith("?lang=pl"):
                assert answer.headers["Content-Language"] == "pl", path
                assert ("Strona statusu nie może teraz odczytać swoich danych."
                        .encode() in answer.content), path
                assert b"cannot read" not in answer.content, path
            else:
                assert "cannot read its data right now" in answer.text, path
            if path not in COLD_JSON:
                assert "Pagero" in answer.text, path  # the page as this process knew it
    seen = {path for _at, path, _r in outage}
    assert seen == set(WARM + COLD_PAGES + COLD_JSON)

    site["cluster"].start()
    _settle(lambda: all(STALE not in _get(site, "/api/v2/status.json").headers
                        for _ in range(4)), "a worker still answers stale")
    for path in COLD_PAGES + COLD_JSON:
        assert _get(site, path).status_code == 200, path
    created = requests.post(
        f"{site['base']}/api/v1/pages/{site['page']}/incidents", timeout=10,
        headers={"Authorization": f"OAuth {site['write']}"},
        json={"incident": {"name": "Back after the outage", "status": "investigating",
                           "deliver_notifications": False}})
    assert created.status_code == 201, created.text
    _settle(lambda: all("Back after the outage" in _get(site, "/").text for _ in range(4)),
            "the page does not show the write made after the recovery")
