"""The production shape: gunicorn serving wsgi:app in its own processes, spoken to over HTTP."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from statuspage import ROOT
from statuspage.staff import create_api_key


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def gunicorn(database_url: str, db, tmp_path: Path) -> Iterator[str]:
    """Two gunicorn workers on loopback over the test database; yields the base URL."""
    port = _free_port()
    env = {**os.environ, "DATABASE_URL": database_url, "SECRET_KEY": "server-process-test",
           "BASE_URL": f"http://127.0.0.1:{port}", "MAIL_PORT": "9",  # nothing sends mail here
           "HOME": str(tmp_path)}
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--workers", "2", "--bind", f"127.0.0.1:{port}",
         "--no-control-socket", "--log-level", "warning", "wsgi:app"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(f"{base}/api/v2/status.json", timeout=5)
                break
            except (requests.ConnectionError, requests.Timeout):
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"gunicorn did not start:\n{server.stdout.read()}")
                time.sleep(0.2)
        yield base
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        server.stdout.close()


def test_gunicorn_serves_the_page_and_both_apis(gunicorn: str, make_component) -> None:
    api = make_component("API")
    _key, token = create_api_key("deploy bot", scope="write")
    page_id = requests.get(f"{gunicorn}/api/v2/status.json", timeout=5).json()["page"]["id"]
    auth = {"Authorization": f"OAuth {token}"}

    created = requests.post(
        f"{gunicorn}/v1/pages/{page_id}/incidents.json", headers=auth, timeout=5,
        json={"incident": {"name": "Slow API", "status": "investigating",
                           "body": "Looking into it.",
                           "components": {str(api.id): "major_outage"}}})
    assert created.status_code == 201, created.text
    incident_id = created.json()["id"]

    # Every worker process sees the write at once: the page version lives in the database.
    for _ in range(4):
        summary = requests.get(f"{gunicorn}/api/v2/summary.json", timeout=5)
        assert summary.headers["Access-Control-Allow-Origin"] == "*"
        body = summary.json()
        assert body["status"] == {"indicator": "critical", "description": "Major System Outage"}
        assert [i["id"] for i in body["incidents"]] == [incident_id]
        assert "Major System Outage" in requests.get(gunicorn, timeout=5).text

    resolved = requests.patch(
        f"{gunicorn}/api/v1/pages/{page_id}/incidents/{incident_id}", headers=auth, timeout=5,
        json={"incident": {"status": "resolved", "body": "Fixed."}})
    assert resolved.status_code == 200, resolved.text
    for _ in range(4):
        status = requests.get(f"{gunicorn}/api/v2/status.json", timeout=5).json()["status"]
        assert status["description"] == "All Systems Operational"

    refused = requests.post(f"{gunicorn}/v1/pages/{page_id}/incidents", timeout=5,
                            json={"incident": {"name": "No key"}})
    assert refused.status_code == 401 and refused.json()["error"]
