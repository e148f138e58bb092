"""A worker process against a relay that is down, refuses, stalls, hangs or drops."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from statuspage import scheduler
from statuspage.extensions import db as _db
from statuspage.outbox import Delivery
from tests.faults.conftest import (
    LONG,
    SilentServer,
    add_subscribers,
    post_incident,
    report,
    settled,
    statuses,
    wait_for,
)

SUBSCRIBERS = 5_000 if LONG else 1_000
TIMEOUT = 300 if LONG else 90


def _deliver(name: str | Callable[[], str], addresses: list[str], fault_smtp: Any,
             workers: Any, meanwhile: Callable[[], None] | None = None,
             **settings: str) -> tuple[int, int]:
    """Start a worker (with ``settings``), post an incident, run ``meanwhile``, wait until
    every delivery is settled and print the figures for ``addresses`` under ``name`` (a
    callable when the name holds what only the run knows); returns (missing, duplicates)."""
    workers.start(fault_smtp.port, **settings)
    started = time.monotonic()
    post_incident()
    if meanwhile is not None:
        meanwhile()
    wait_for(settled, "every delivery to be settled", TIMEOUT, workers)
    _, missing, duplicates = report(name if isinstance(name, str) else name(), addresses,
                                    fault_smtp.handler.accepted, started)
    return missing, duplicates


def test_a_relay_that_is_down_then_up_gets_everything_once(
        db: Any, fault_smtp: Any, workers: Any) -> None:
    addresses = add_subscribers(SUBSCRIBERS)
    fault_smtp.stop()

    def relay_back_after_4_s() -> None:
        time.sleep(4)  # the worker finds no relay, retries
        fault_smtp.start()

    missing, duplicates = _deliver("relay down 4 s", addresses, fault_smtp, workers,
                                   relay_back_after_4_s)
    assert (missing, duplicates) == (0, 0)
    assert statuses() == {"sent": SUBSCRIBERS}


def test_bursts_of_4xx_are_retried_until_everything_is_delivered_once(
        db: Any, fault_smtp: Any, workers: Any) -> None:
    addresses = add_subscribers(SUBSCRIBERS)
    counter = itertools.count()
    lock = threading.Lock()

    def bursts(address: str) -> str | None:
        with lock:
            n = next(counter)
        # 30 refusals in every 100 recipients, for the first 600 tries.
        return "451 4.3.0 Try again later" if n < 600 and n % 100 < 30 else None

    fault_smtp.handler.rcpt_policy = bursts
    missing, duplicates = _deliver("451 bursts", addresses, fault_smtp, workers)
    assert (missing, duplicates) == (0, 0)
    assert statuses() == {"sent": SUBSCRIBERS}


def test_a_550_for_some_addresses_fails_them_visibly_and_delivers_the_rest_once(
        db: Any, fault_smtp: Any, workers: Any) -> None:
    addresses = add_subscribers(SUBSCRIBERS)
    refused = set(addresses[::20])  # 5%
    fault_smtp.handler.rcpt_policy = (
        lambda address: "550 5.1.1 No such user" if address in refused else None)
    _deliver("550 for 5%", [a for a in addresses if a not in refused], fault_smtp, workers,
             MAIL_RETRY_LIMIT="2")
    accepted = fault_smtp.handler.accepted
    assert set(accepted) == set(addresses) - refused
    assert max(accepted.values()) == 1
    assert statuses() == {"sent": SUBSCRIBERS - len(refused), "failed": len(refused)}
    failed = set(_db.session.scalars(sa.select(Delivery.to_address).where(
        Delivery.status == "failed", Delivery.last_error.like("550 5.1.1%"))))
    assert failed == refused


def test_a_relay_that_stalls_beyond_the_timeout_ends_the_batch_and_the_rest_still_goes(
        db: Any, fault_smtp: Any, workers: Any) -> None:
    addresses = add_subscribers(SUBSCRIBERS)
    stalls = itertools.count()
    fault_smtp.handler.stall_seconds = 5  # the workers wait 2 s (MAIL_TIMEOUT_SECONDS)
    fault_smtp.handler.data_policy = lambda address: "stall" if next(stalls) < 3 else None
    missing, duplicates = _deliver("3 stalls of 5 s", addresses, fault_smtp, workers)
    assert missing == 0
    # A stalled message may still be accepted after the sender gave up: at least once.
    assert duplicates <= 3
    assert statuses() == {"sent": SUBSCRIBERS}


def test_a_connection_dropped_during_data_loses_nothing(
        db: Any, fault_smtp: Any, workers: Any) -> None:
    addresses = add_subscribers(SUBSCRIBERS)
    dropped: set[str] = set()

    def drop_every_25th(address: str) -> str | None:
        if int(address[6:12]) % 25 == 0 and address not in dropped:
            dropped.add(address)
            return "drop"
        return None

    fault_smtp.handler.data_policy = drop_every_25th
    missing, duplicates = _deliver(lambda: f"{len(dropped)} drops during DATA", addresses,
                                   fault_smtp, workers)
    assert (missing, duplicates) == (0, 0) and len(dropped) == SUBSCRIBERS // 25
    assert statuses() == {"sent": SUBSCRIBERS}


def test_a_relay_that_never_answers_shows_the_worker_as_stuck(
        db: Any, smtp: Any, workers: Any) -> None:
    silent = SilentServer()
    try:
        add_subscribers(20)
        workers.start(silent.port)
        wait_for(lambda: scheduler.worker_status().alive, "the idle worker's first beat", 30,
                 workers)
        post_incident()

        def reported() -> bool:
            _db.session.remove()
            return any("timed out" in (error or "") for error in _db.session.scalars(
                sa.select(scheduler.WorkerHeartbeat.last_error)))

        wait_for(reported, "the worker to report the silent relay", 30, workers)

        def beaten_since_progress() -> bool:
            # The process's own beat, a second or more after its mail last moved (the report
            # of the silent relay may come before the next beat).
            _db.session.remove()
            return any(progress is not None and seen >= progress + timedelta(seconds=1)
                       for seen, progress in _db.session.execute(sa.select(
                           scheduler.WorkerHeartbeat.last_seen_at,
                           scheduler.WorkerHeartbeat.last_progress_at)))

        wait_for(beaten_since_progress, "the stuck worker's next beat", 30, workers)
        # A minute on, its process still beats, but its mail has not moved: stuck.
        last_progress = _last_progress()
        status = scheduler.worker_status(last_progress + scheduler.ALIVE_WITHIN
                                         + timedelta(seconds=1))
        assert not status.alive
        [(_worker_id, progress, error)] = status.stuck
        assert progress == last_progress and "timed out" in error
        # Nothing was claimed while there was no relay to send through.
        assert statuses() == {"queued": 20}
        assert _db.session.scalar(sa.select(sa.func.count()).select_from(Delivery).where(
            Delivery.claim_token.is_not(None))) == 0
    finally:
        silent.close()


def _last_progress() -> Any:
    return _db.session.scalar(sa.select(sa.func.max(scheduler.WorkerHeartbeat.last_progress_at)))
