"""Two processes run the maintenance jobs at the same moment: each transition and each
reminder happens once."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from statuspage import ROOT
from statuspage.dbtypes import utcnow
from statuspage.extensions import db as _db
from statuspage.incidents import IncidentUpdate
from statuspage.outbox import Notice, NoticeKind

WINDOWS = 6


def race(database_url: str, now: Any) -> list[str]:
    start_at = time.time() + 3  # both processes imported and connected by then
    env = {**os.environ, "DATABASE_URL": database_url}
    racers = [subprocess.Popen(
        [sys.executable, "-m", "tests.faults.maintenance_racer", str(start_at), now.isoformat()],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        for _ in range(2)]
    outputs = [racer.communicate(timeout=60)[0].decode() for racer in racers]
    assert all(racer.returncode == 0 for racer in racers), outputs
    return outputs


def test_two_processes_start_complete_and_remind_each_window_exactly_once(
        db: Any, database_url: str, make_maintenance: Any) -> None:
    now = utcnow()
    starting = [make_maintenance(f"Upgrade {n}", scheduled_for=now - timedelta(minutes=1),
                                 scheduled_until=now + timedelta(hours=1),
                                 now=now - timedelta(days=1))
                for n in range(WINDOWS)]
    reminded = [make_maintenance(f"Later {n}", scheduled_for=now + timedelta(minutes=30),
                                 now=now - timedelta(days=1))
                for n in range(WINDOWS)]
    starting_ids, reminded_ids = [m.id for m in starting], [m.id for m in reminded]
    _db.session.remove()

    race(database_url, now)
    race(database_url, now + timedelta(hours=2))  # now every window is due to complete

    _db.session.remove()
    updates = Counter(_db.session.execute(
        sa.select(IncidentUpdate.incident_id, IncidentUpdate.status)
        .where(IncidentUpdate.incident_id.in_(starting_ids))).all())
    for maintenance_id in starting_ids:
        assert updates[(maintenance_id, "in_progress")] == 1
        assert updates[(maintenance_id, "completed")] == 1
    reminders = Counter(_db.session.scalars(sa.select(Notice.incident_id).where(
        Notice.kind == NoticeKind.MAINTENANCE_REMINDER)))
    assert reminders == {maintenance_id: 1 for maintenance_id in reminded_ids}
    # One notice per update: subscribers hear of each transition once.
    notices = Counter(_db.session.scalars(sa.select(Notice.update_id).where(
        Notice.incident_id.in_(starting_ids))))
    assert set(notices.values()) == {1}
