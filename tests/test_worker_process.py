"""A real worker process killed in the middle of a batch, and another one taking over."""

from __future__ import annotations

import asyncio
import os
import signal
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

from statuspage import ROOT, subscriber_csv
from statuspage.extensions import db as _db
from statuspage.incidents import open_incident
from statuspage.outbox import Delivery, DeliveryStatus
from tests.smtp import Recorder, SmtpServer

SUBSCRIBERS = 60
BATCH = 10
# Long enough that the second worker is up and sending before the first one's lease ends.
LEASE_SECONDS = 10
HOLD_AT = 25  # the server keeps the 25th message waiting for its reply: the batch in flight
DEADLINE = 45


class _HoldingRecorder(Recorder):
    """Records each message, and keeps the sender of the HOLD_AT-th waiting for the reply."""

    def __init__(self) -> None:
        super().__init__()
        self.arrivals: list[tuple[str, float]] = []  # (address, wall-clock time)
        self.holding = threading.Event()
        self.release = threading.Event()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        reply = await super().handle_DATA(server, session, envelope)
        with self.lock:
            self.arrivals.append((envelope.rcpt_tos[0], time.time()))
            hold = len(self.arrivals) == HOLD_AT
        if hold:
            # The message is accepted, but the worker never hears so: it dies first.
            self.holding.set()
            while not self.release.is_set():
                await asyncio.sleep(0.02)
        return reply


@pytest.fixture
def holding_smtp(smtp: SmtpServer) -> Iterator[_HoldingRecorder]:
    """The test's SMTP server, restarted on its port with the holding handler."""
    smtp.stop()
    recorder = _HoldingRecorder()
    smtp.handler = recorder
    smtp.start()
    try:
        yield recorder
    finally:
        recorder.release.set()


@pytest.fixture
def start_worker(database_url: str, smtp: SmtpServer, tmp_path: Path
                 ) -> Iterator[Callable[[str], subprocess.Popen[bytes]]]:
    """Start `flask --app wsgi worker` processes against the test database and SMTP server."""
    env = {**os.environ, "DATABASE_URL": database_url,
           "SECRET_KEY": "worker-process-test-0f3a9c5e1b7d2846",
           "BASE_URL": "http://status.test", "MAIL_SERVER": "127.0.0.1",
           "MAIL_PORT": str(smtp.port), "MAIL_BATCH_SIZE": str(BATCH),
           "MAIL_LEASE_SECONDS": str(LEASE_SECONDS), "MAIL_TIMEOUT_SECONDS": "5",
           "MAIL_CONNECTIONS": "1", "WEBHOOK_TIMEOUT_SECONDS": "5"}
    started: list[subprocess.Popen[bytes]] = []

    def start(name: str) -> subprocess.Popen[bytes]:
        with (tmp_path / f"{name}.log").open("wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "flask", "--app", "wsgi", "worker"], cwd=ROOT,
                env=env, stdout=log, stderr=subprocess.STDOUT)
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)


def wait_for(condition: Callable[[], bool], what: str, deadline: float) -> None:
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.1)


def claimed_in_flight() -> list[tuple[str, datetime]]:
    """(address, lease end) of the deliveries a worker claimed and has not settled."""
    _db.session.remove()
    return [(address, until) for address, until in _db.session.execute(
        sa.select(Delivery.to_address, Delivery.claimed_until)
        .where(Delivery.status == DeliveryStatus.QUEUED, Delivery.claimed_by.is_not(None))
        .order_by(Delivery.id))]


def test_a_worker_killed_mid_batch_loses_nothing_and_repeats_at_most_that_batch(
        db: Any, holding_smtp: _HoldingRecorder, start_worker: Any) -> None:
    deadline = time.monotonic() + DEADLINE
    addresses = [f"reader{n:03}@example.com" for n in range(SUBSCRIBERS)]
    subscriber_csv.import_subscribers("\n".join(addresses), confirmed=True)
    open_incident("Payments are failing", body="We are investigating.")

    first = start_worker("first")
    wait_for(holding_smtp.holding.is_set, "the worker to reach the held message", deadline)
    in_flight = claimed_in_flight()
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    killed_at = time.time()
    holding_smtp.release.set()

    # The dead worker's batches are still leased to it: the one it was sending (up to the held
    # message) and the next, claimed while that one went out.
    held_address = holding_smtp.arrivals[HOLD_AT - 1][0]
    assert held_address in {address for address, _ in in_flight}
    assert 1 <= len(in_flight) <= 2 * BATCH

    start_worker("second")
    wait_for(lambda: set(addresses) <= {a for a, _ in holding_smtp.arrivals},
             "every subscriber's email", deadline)
    wait_for(lambda: not claimed_in_flight(), "the last claims to settle", deadline)

    received = Counter(address for address, _ in holding_smtp.arrivals)
    assert set(received) == set(addresses)
    # A batch is marked sent in one statement at its end: what went out twice is what the
    # dead worker had sent of its unfinished batch, the held message included, nothing else.
    claimed = {address for address, _ in in_flight}
    sent_by_the_dead = {address for address, _ in holding_smtp.arrivals[:HOLD_AT]} & claimed
    assert {a for a, n in received.items() if n > 1} == sent_by_the_dead
    assert held_address in sent_by_the_dead and len(sent_by_the_dead) <= 2 * BATCH
    assert max(received.values()) == 2
    # The new worker sent the rest at once, but each of the dead one's claims only once its
    # own lease had run out (its two batches were claimed at different times).
    later = holding_smtp.arrivals[HOLD_AT:]
    lease_of = {address: until.astimezone(UTC).timestamp() for address, until in in_flight}
    retaken = [(when, lease_of[address]) for address, when in later if address in claimed]
    others = [when for address, when in later if address not in claimed]
    assert retaken and all(when >= lease_end for when, lease_end in retaken)
    assert min(lease_of.values()) > killed_at
    assert min(others) < max(lease_of.values())
    _db.session.remove()
    statuses = Counter(_db.session.scalars(sa.select(Delivery.status)))
    assert statuses == {DeliveryStatus.SENT: SUBSCRIBERS}
