"""Webhook receivers that fail, hang or drop, under real worker processes, one of them
killed: every endpoint gets its messages, and repeats are only what was in flight."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from statuspage.extensions import db as _db
from statuspage.outbox import Channel
from statuspage.subscriptions import Subscriber
from tests.faults.conftest import (
    LONG,
    post_incident,
    seeded,
    settled,
    statuses,
    wait_for,
)

ENDPOINTS = 400 if LONG else 120
HTTP_SETTINGS = {"WEBHOOK_TIMEOUT_SECONDS": "2", "WEBHOOK_BATCH_SIZE": "10",
                 "WEBHOOK_CONNECTIONS": "3", "WEBHOOK_ALLOW_PRIVATE_ADDRESSES": "true",
                 "WEBHOOK_DISABLE_AFTER_FAILURES": "100"}
IN_FLIGHT_PER_WORKER = 3 * 10  # one batch per posting loop


def add_webhooks(receiver: Any, count: int) -> list[str]:
    """``count`` confirmed webhook subscribers, one path each on the receiver."""
    now = datetime.now(UTC)
    paths = [f"/hook/{n}" for n in range(count)]
    _db.session.execute(sa.insert(Subscriber), [
        {"channel": Channel.WEBHOOK, "email": f"oncall{n}@example.com",
         "endpoint": receiver.url(path), "secret": f"{n:064x}", "all_components": True,
         "confirmed_at": now, "token_version": 5000 + n, "created_at": now, "updated_at": now}
        for n, path in enumerate(paths)])
    _db.session.commit()
    return paths


def test_failing_hanging_and_dropping_receivers_under_a_killed_worker_lose_nothing(
        db: Any, fault_smtp: Any, receiver: Any, workers: Any) -> None:
    paths = add_webhooks(receiver, ENDPOINTS)
    rng = seeded()
    trouble = {path: rng.choice(["500", "hang", "drop", "fine", "fine"]) for path in paths}

    def policy(path: str, seen: int) -> int | str:
        kind = trouble[path]
        if kind == "fine" or seen >= 2:  # each troubled endpoint recovers after two tries
            return 200
        return 500 if kind == "500" else kind

    receiver.server.policy = policy
    started = time.monotonic()
    post_incident()
    first = workers.start(fault_smtp.port, **HTTP_SETTINGS)
    time.sleep(2.5)
    workers.kill(first)
    for _ in range(2):
        workers.start(fault_smtp.port, **HTTP_SETTINGS)
    wait_for(settled, "every webhook to be settled", 240 if LONG else 120, workers)

    accepted = receiver.server.accepted
    missing = [p for p in paths if accepted[p] == 0]
    duplicates = sum(n - 1 for n in accepted.values() if n > 1)
    print(f"\nFAULT webhooks: {ENDPOINTS} endpoints ({sum(v != 'fine' for v in trouble.values())}"
          f" failing, hanging or dropping), {sum(accepted.values())} accepted, "
          f"{len(missing)} missing, {duplicates} duplicates, "
          f"{time.monotonic() - started:.1f} s")
    assert missing == []
    assert statuses() == {"sent": ENDPOINTS}
    assert duplicates <= IN_FLIGHT_PER_WORKER  # one kill: at most its batches in flight
    # Every retry of a delivery carried the same idempotency key.
    keys: dict[str, set[str]] = {}
    for request in receiver.requests:
        keys.setdefault(request.path, set()).add(request.headers["idempotency-key"])
    assert all(len(k) == 1 for k in keys.values())
