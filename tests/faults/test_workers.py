"""Worker processes killed during a fan-out, and several racing over one queue."""

from __future__ import annotations

import time
from typing import Any

from tests.faults.conftest import (
    IN_FLIGHT_PER_WORKER,
    LONG,
    add_subscribers,
    post_incident,
    report,
    seeded,
    settled,
    statuses,
    wait_for,
)

KILL_SUBSCRIBERS, KILLS = (20_000, 10) if LONG else (3_000, 4)
RACE_SUBSCRIBERS, RACERS = (20_000, 4) if LONG else (2_000, 3)


def test_sigkill_during_fan_out_loses_nothing_and_repeats_at_most_what_was_in_flight(
        db: Any, fault_smtp: Any, workers: Any) -> None:
    addresses = add_subscribers(KILL_SUBSCRIBERS)
    started = time.monotonic()
    post_incident()
    rng = seeded()
    for _ in range(KILLS):
        worker = workers.start(fault_smtp.port)
        time.sleep(rng.uniform(1.0, 2.5))  # mid fan-out or mid sending, wherever it is
        workers.kill(worker)
    workers.start(fault_smtp.port)
    wait_for(settled, "every delivery to be settled", 300 if LONG else 120, workers)

    accepted = fault_smtp.handler.accepted
    sent, missing, duplicates = report("sigkill", addresses, accepted, started)
    assert missing == 0
    assert statuses() == {"sent": KILL_SUBSCRIBERS}
    # Each kill can repeat only what the dead worker had sent but not yet recorded.
    assert duplicates <= KILLS * IN_FLIGHT_PER_WORKER


def test_several_workers_racing_send_each_email_exactly_once(
        db: Any, fault_smtp: Any, workers: Any) -> None:
    addresses = add_subscribers(RACE_SUBSCRIBERS)
    for _ in range(RACERS):
        workers.start(fault_smtp.port)
    started = time.monotonic()
    post_incident()
    wait_for(settled, "every delivery to be settled", 300 if LONG else 120, workers)

    sent, missing, duplicates = report(f"{RACERS} workers racing", addresses,
                                       fault_smtp.handler.accepted, started)
    assert (missing, duplicates) == (0, 0)
    assert statuses() == {"sent": RACE_SUBSCRIBERS}
