"""The fault suite's tools: real worker processes, an SMTP server that misbehaves on request,
bulk subscribers, and the figures each test reports.

Short by default (CI); ``STATUSPAGE_FAULTS_LONG=1`` runs the sizes of the outage the issue
describes (20,000 subscribers, 10 kills). Each test prints one line of figures (sent, missing,
duplicates, seconds), which the README's Reliability section quotes.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from statuspage import ROOT
from statuspage.extensions import db as _db
from statuspage.incidents import open_incident
from statuspage.outbox import Delivery, DeliveryStatus, Notice
from statuspage.subscriptions import Subscriber
from tests.processes import stop
from tests.smtp import Recorder, SmtpServer

# Long and varied enough for the production check on SECRET_KEY.
KEY = "fault-suite-test-key-0123456789abcdef"

LONG = os.environ.get("STATUSPAGE_FAULTS_LONG") == "1"
# The settings every fault test's workers run with: short timeouts and leases, so that a
# stall or a dead worker costs seconds, and small batches, so that a kill has batches in
# flight to repeat.
WORKER_SETTINGS = {
    "MAIL_TIMEOUT_SECONDS": "2", "MAIL_LEASE_SECONDS": "6", "MAIL_RETRY_BACKOFF_SECONDS": "1",
    "WEBHOOK_TIMEOUT_SECONDS": "2",
    "MAIL_BATCH_SIZE": "20", "MAIL_CONNECTIONS": "2",
}
IN_FLIGHT_PER_WORKER = 2 * 20 * 2  # two batches per connection (one sent, one claimed ahead)


class FaultRecorder(Recorder):
    """Counts what it accepts per address; refuses, stalls or drops as the test says."""

    def __init__(self) -> None:
        super().__init__()
        self.accepted: Counter[str] = Counter()
        self.rcpt_policy: Callable[[str], str | None] = lambda address: None
        self.data_policy: Callable[[str], str | None] = lambda address: None  # "stall", "drop"
        self.stall_seconds = 0.0

    def refusal_for(self, address: str) -> str | None:
        """What ``rcpt_policy`` answers, in place of the queued refusals."""
        return self.rcpt_policy(address)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        address = envelope.rcpt_tos[0]
        action = self.data_policy(address)
        if action == "drop":
            # The connection drops before the message is accepted: nothing was delivered.
            server.transport.close()
            return "421 closing"
        if action == "stall":
            await asyncio.sleep(self.stall_seconds)  # the sender gives up before this ends
        with self.lock:
            self.accepted[address] += 1
        return "250 Message accepted for delivery"


@pytest.fixture
def fault_smtp(smtp: SmtpServer) -> Iterator[SmtpServer]:
    """The test's SMTP server with a FaultRecorder (``fault_smtp.handler``)."""
    smtp.stop()
    smtp.handler = FaultRecorder()
    smtp.start()
    yield smtp


class Workers:
    """`flask --app wsgi worker` processes against the test database and a given server."""

    def __init__(self, database_url: str, folder: Path) -> None:
        self.database_url, self.folder = database_url, folder
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self, port: int, **settings: str) -> subprocess.Popen[bytes]:
        env = {**os.environ, "DATABASE_URL": self.database_url, "SECRET_KEY": KEY,
               "BASE_URL": "http://status.test", "MAIL_SERVER": "127.0.0.1",
               "MAIL_PORT": str(port), **WORKER_SETTINGS, **settings}
        with (self.folder / f"worker-{len(self.processes)}.log").open("wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "flask", "--app", "wsgi", "worker"], cwd=ROOT,
                env=env, stdout=log, stderr=subprocess.STDOUT)
        self.processes.append(process)
        return process

    def kill(self, process: subprocess.Popen[bytes]) -> None:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)

    def stop_all(self) -> None:
        stop(*self.processes, timeout=30)

    def logs(self) -> str:
        return "\n".join(f"--- {path.name}\n{path.read_text(errors='replace')[-3000:]}"
                         for path in sorted(self.folder.glob("worker-*.log")))


@pytest.fixture
def workers(database_url: str, tmp_path: Path) -> Iterator[Workers]:
    running = Workers(database_url, tmp_path)
    yield running
    running.stop_all()


def add_subscribers(count: int) -> list[str]:
    """``count`` confirmed subscribers to every component, inserted in bulk."""
    now = datetime.now(UTC)
    addresses = [f"reader{n:06}@example.com" for n in range(count)]
    rows = [{"email": a, "all_components": True, "confirmed_at": now,
             "token_version": 1000 + n, "created_at": now, "updated_at": now}
            for n, a in enumerate(addresses)]
    for start in range(0, count, 10_000):
        _db.session.execute(sa.insert(Subscriber), rows[start:start + 10_000])
    _db.session.commit()
    return addresses


def post_incident() -> None:
    """Open an incident that notifies every subscriber."""
    open_incident("Payments are failing", body="We are investigating.")


def settled() -> bool:
    """Every notice expanded, nothing queued or claimed."""
    _db.session.remove()
    waiting = _db.session.scalar(sa.select(sa.func.count()).select_from(Notice).where(
        Notice.expanded_at.is_(None)))
    queued = _db.session.scalar(sa.select(sa.func.count()).select_from(Delivery).where(
        Delivery.status == DeliveryStatus.QUEUED))
    return waiting == 0 and queued == 0


def wait_for(condition: Callable[[], bool], what: str, timeout: float,
             workers: Workers | None = None) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}"
                                 + (f"\n{workers.logs()}" if workers else ""))
        time.sleep(0.1)


def statuses() -> Counter[str]:
    _db.session.remove()
    return Counter(str(s) for s in _db.session.scalars(sa.select(Delivery.status)))


def report(name: str, addresses: list[str], accepted: Counter[str], started: float) -> tuple[
        int, int, int]:
    """Print the test's figures; returns (sent, missing, duplicates)."""
    missing = sum(1 for a in addresses if accepted[a] == 0)
    duplicates = sum(n - 1 for n in accepted.values() if n > 1)
    sent = sum(accepted.values())
    print(f"\nFAULT {name}: {len(addresses)} subscribers, {sent} accepted, {missing} missing, "
          f"{duplicates} duplicates, {time.monotonic() - started:.1f} s")
    return sent, missing, duplicates


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SilentServer:
    """Accepts connections and never says a word (a relay that hangs)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.held: list[socket.socket] = []
        self.running = True
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while self.running:
            try:
                connection, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(connection)

    def close(self) -> None:
        self.running = False
        self.sock.close()
        for connection in self.held:
            connection.close()


def seeded() -> random.Random:
    return random.Random(8)
