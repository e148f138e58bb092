"""The per-key rate limit, shared by every web process through Redis: gunicorn with two worker
processes, a real redis-server on loopback, and one key that gets its limit once, not twice."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import requests

from statuspage import create_app
from statuspage.site import get_page_settings
from statuspage.staff import create_api_key
from tests.conftest import free_port, require_tool
from tests.processes import output_file, output_of

LIMIT = 5
REQUESTS = 24


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Redis server for the run: STATUSPAGE_TEST_REDIS_URL, or one started on a free loopback
    port (and stopped after the run)."""
    if os.environ.get("STATUSPAGE_TEST_REDIS_URL"):
        yield os.environ["STATUSPAGE_TEST_REDIS_URL"]
        return
    binary = shutil.which("redis-server")
    require_tool("redis-server", binary is not None)
    port = free_port()
    output = output_file()
    server = subprocess.Popen(
        [str(binary), "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", str(tmp_path_factory.mktemp("redis"))],
        stdout=output, stderr=subprocess.STDOUT)
    url = f"redis://127.0.0.1:{port}/0"
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                redis.Redis.from_url(url, socket_timeout=1).ping()
                break
            except redis.ConnectionError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"redis-server did not start:\n{output_of(output)}")
                time.sleep(0.05)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)
        output.close()


@pytest.fixture
def shared_limits(redis_url: str) -> Iterator[str]:
    """The Redis URL, with no rate-limit counts left from earlier tests (ids restart at 1)."""
    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter("LIMITS*"):
        client.delete(key)
    yield redis_url
    client.close()


def _answers_in_pairs(base: str, path: str, token: str, pairs: int
                      ) -> list[tuple[int, dict[str, str], bytes]]:
    """Send ``2 * pairs`` requests, two at a time on fresh connections, both opened before
    either request is sent: a sync worker holds the connection it accepted until it has
    answered it, so the two of each pair are answered by the two workers."""
    host, port = base.removeprefix("http://").split(":")
    answers = []
    for _ in range(pairs):
        held = [http.client.HTTPConnection(host, int(port), timeout=10) for _ in range(2)]
        for connection in held:
            connection.connect()
        time.sleep(0.05)  # both accepted, each by a worker of its own
        for connection in reversed(held):
            connection.request("GET", path, headers={"Authorization": f"OAuth {token}"})
            response = connection.getresponse()
            answers.append((response.status, dict(response.getheaders()), response.read()))
            connection.close()
    return answers


def test_two_worker_processes_count_one_key_against_one_limit(
        gunicorn_factory: Any, shared_limits: str, tmp_path: Path) -> None:
    access_log = tmp_path / "access.log"
    base = gunicorn_factory(
        "--access-logfile", str(access_log), "--access-logformat", "%(p)s %(r)s %(s)s",
        workers=2, RATE_LIMIT_STORAGE_URL=shared_limits, API_RATE_LIMIT_PER_MINUTE=str(LIMIT))
    path = f"/api/v1/pages/{get_page_settings().page_code}/components"
    _key, token = create_api_key("deploy bot", scope="read")
    _other, other_token = create_api_key("dashboard", scope="read")

    answers = _answers_in_pairs(base, path, token, REQUESTS // 2)

    statuses = [status for status, _headers, _body in answers]
    assert statuses.count(200) == LIMIT, statuses
    assert statuses.count(429) == REQUESTS - LIMIT, statuses
    for _status, headers, body in (a for a in answers if a[0] == 429):
        assert 1 <= int(headers["Retry-After"]) <= 60
        assert json.loads(body)["message"].startswith(f"This key may make {LIMIT} requests")
    # Another key has an allowance of its own.
    assert requests.get(base + path, headers={"Authorization": f"OAuth {other_token}"},
                        timeout=10).status_code == 200

    time.sleep(0.5)  # gunicorn writes the access log as each request ends
    lines = [line.split() for line in access_log.read_text().splitlines()]
    pids = {pid for pid, _method, logged, *_ in lines if logged == path}
    assert len(pids) == 2, "both worker processes must have answered"


def test_an_unreachable_redis_leaves_the_api_working_with_limits_per_process(
        database_url: str, db: Any) -> None:
    app = create_app({"TESTING": True, "SECRET_KEY": "t", "SQLALCHEMY_DATABASE_URI": database_url,
                      "RATELIMIT_STORAGE_URI": f"redis://127.0.0.1:{free_port()}/0",
                      "API_RATE_LIMIT_PER_MINUTE": 2})
    _key, token = create_api_key("deploy bot", scope="read")
    path = f"/api/v1/pages/{get_page_settings().page_code}/components"
    client = app.test_client()
    try:
        statuses = [client.get(path, headers={"Authorization": f"OAuth {token}"}).status_code
                    for _ in range(3)]
    finally:
        with app.app_context():
            db.engine.dispose()
    assert statuses == [200, 200, 429]
