"""PostgreSQL restarted in the middle of a fan-out: the worker recovers by itself.

A throwaway cluster of the test's own (never the suite's database), restarted with
``pg_ctl restart -m fast`` while the worker expands and sends.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask_migrate import upgrade

from statuspage import create_app
from statuspage.extensions import db as _db
from tests.conftest import require_tool
from tests.faults.conftest import (
    IN_FLIGHT_PER_WORKER,
    LONG,
    Workers,
    add_subscribers,
    free_port,
    post_incident,
    report,
    settled,
    statuses,
    wait_for,
)

SUBSCRIBERS = 20_000 if LONG else 4_000


class Cluster:
    """A PostgreSQL cluster in a temporary directory, run as the postgres user."""

    def __init__(self) -> None:
        initdb = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        require_tool("PostgreSQL's initdb", bool(initdb) and shutil.which("runuser") is not None)
        self.bin = Path(initdb[-1]).parent
        self.dir = Path(tempfile.mkdtemp(prefix="statuspage-pg-"))
        shutil.chown(self.dir, "postgres", "postgres")
        self.port = free_port()
        self._run("initdb", "-D", str(self.dir / "data"), "-E", "UTF8", "--locale=C.UTF-8",
                  "-U", "postgres", "--auth=trust")
        self.start()
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "faults")
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/faults"

    def _run(self, tool: str, *args: str) -> None:
        env = {**os.environ, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}
        done = subprocess.run(["runuser", "-u", "postgres", "--", str(self.bin / tool), *args],
                              env=env, capture_output=True, text=True, timeout=60)
        if done.returncode:
            log = self.dir / "server.log"
            raise RuntimeError(f"{tool} failed: {done.stderr}\n"
                               f"{log.read_text() if log.exists() else ''}")

    def _ctl(self, *args: str) -> None:
        self._run("pg_ctl", "-D", str(self.dir / "data"), "-l", str(self.dir / "server.log"),
                  "-w", *args)

    def start(self) -> None:
        self._ctl("-o", f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.dir} "
                        "-c fsync=off -c full_page_writes=off", "start")

    def restart(self) -> None:
        self._ctl("-m", "fast", "stop")
        time.sleep(1)  # down long enough for the worker to notice
        self.start()

    def destroy(self) -> None:
        try:
            self._ctl("-m", "immediate", "stop")
        except RuntimeError:
            pass
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    if not os.environ.get("STATUSPAGE_TEST_DATABASE_URL", "").startswith("postgresql"):
        pytest.skip("runs in the PostgreSQL pass of the suite")
    made = Cluster()
    try:
        yield made
    finally:
        made.destroy()


def test_postgresql_restarted_during_fan_out_loses_nothing(
        fault_smtp: Any, cluster: Cluster, tmp_path: Path) -> None:
    app = create_app({"TESTING": True, "SECRET_KEY": "test-secret",
                      "SQLALCHEMY_DATABASE_URI": cluster.url, "BASE_URL": "http://status.test"})
    workers = Workers(cluster.url, tmp_path)
    try:
        with app.app_context():
            upgrade()
            addresses = add_subscribers(SUBSCRIBERS)
            workers.start(fault_smtp.port)
            wait_for(lambda: _db.session.scalar(sa.text(
                "SELECT count(*) FROM worker_heartbeat")) > 0, "the worker to start", 30)
            started = time.monotonic()
            post_incident()
            _db.session.remove()
            _db.engine.dispose()
            time.sleep(1.5)  # expanding and sending
            cluster.restart()
            wait_for(settled, "every delivery to be settled", 240 if LONG else 120, workers)
            _, missing, duplicates = report("PostgreSQL restarted", addresses,
                                            fault_smtp.handler.accepted, started)
            assert missing == 0
            assert duplicates <= IN_FLIGHT_PER_WORKER
            assert statuses() == {"sent": SUBSCRIBERS}
            assert _db.session.scalar(sa.select(sa.func.count()).select_from(
                sa.table("delivery", sa.column("claim_token"))).where(
                sa.column("claim_token").is_not(None))) == 0
            _db.session.remove()
            _db.engine.dispose()
    finally:
        workers.stop_all()
