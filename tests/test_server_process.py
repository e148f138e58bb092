"""The production shape: gunicorn serving wsgi:app in its own processes, spoken to over HTTP."""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests

from statuspage import subscriptions as subs
from statuspage.staff import create_api_key


@pytest.fixture
def gunicorn(gunicorn_factory: Any) -> str:
    """Two gunicorn workers on loopback over the test database; the base URL."""
    return gunicorn_factory(workers=2)


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

    # Every worker process sees the write within PAGE_VERSION_CHECK_MS (and the build): the
    # page version lives in the database, and each process reads it in the background.
    def settled(check) -> None:
        for _ in range(100):
            if all(check() for _ in range(4)):  # both workers, whichever answers
                return
            time.sleep(0.1)
        raise AssertionError("a worker still answers with the old page")

    settled(lambda: requests.get(f"{gunicorn}/api/v2/summary.json", timeout=5).json()[
        "status"]["description"] == "Major System Outage")
    summary = requests.get(f"{gunicorn}/api/v2/summary.json", timeout=5)
    assert summary.headers["Access-Control-Allow-Origin"] == "*"
    body = summary.json()
    assert body["status"] == {"indicator": "critical", "description": "Major System Outage"}
    assert [i["id"] for i in body["incidents"]] == [incident_id]
    settled(lambda: "Major System Outage" in requests.get(gunicorn, timeout=5).text)

    resolved = requests.patch(
        f"{gunicorn}/api/v1/pages/{page_id}/incidents/{incident_id}", headers=auth, timeout=5,
        json={"incident": {"status": "resolved", "body": "Fixed."}})
    assert resolved.status_code == 200, resolved.text
    settled(lambda: requests.get(f"{gunicorn}/api/v2/status.json", timeout=5).json()[
        "status"]["description"] == "All Systems Operational")

    refused = requests.post(f"{gunicorn}/v1/pages/{page_id}/incidents", timeout=5,
                            json={"incident": {"name": "No key"}})
    assert refused.status_code == 401 and refused.json()["error"]


def test_the_access_log_keeps_subscriber_links_out(gunicorn_factory: Any, tmp_path: Any,
                                                   db: Any) -> None:
    # gunicorn reads gunicorn.conf.py from its working directory, as the README runs it.
    log = tmp_path / "access.log"
    base = gunicorn_factory("--access-logfile", str(log), workers=1)
    subs.subscribe("reader@example.com")
    token = subs.make_token(subs.find_subscriber("reader@example.com"), "manage")

    for path in (f"/subscriptions/manage/{token}", f"/subscriptions/unsubscribe/{token}",
                 f"/subscriptions/confirm/{token}/resend?x=1", "/history?page=2"):
        requests.get(base + path, timeout=5, headers={"Referer": base + path})

    deadline = time.monotonic() + 5
    while log.read_text().count("\n") < 5 and time.monotonic() < deadline:
        time.sleep(0.1)
    text = log.read_text()
    assert token not in text and token[:20] not in text
    assert "GET /subscriptions/manage/[token] HTTP/1.1" in text
    assert "GET /subscriptions/confirm/[token]/resend?x=1 HTTP/1.1" in text
    assert "GET /history?page=2 HTTP/1.1" in text
