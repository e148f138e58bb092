"""Scheduled jobs, declared as data, and the two ways of running them.

``flask --app wsgi worker`` runs them in the foreground (production; several workers are safe
because every job is an idempotent database operation). The development server runs them in a
background thread when ``SCHEDULER_IN_PROCESS`` is set; the factory never starts them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from flask import Flask
from sqlalchemy.orm import Mapped, mapped_column

from . import maintenance as maint
from . import notifications, signup, subscriptions
from .dbtypes import UTCDateTime, utcnow
from .extensions import db

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    id: str
    func: Callable[[], object]
    seconds: int
    help: str


HEARTBEAT_SECONDS = 10
# A worker silent for this long is taken for dead: several missed beats, not one slow one.
ALIVE_WITHIN = timedelta(seconds=60)
FORGET_AFTER = timedelta(days=1)


class WorkerHeartbeat(db.Model):
    """The last sign of life of one worker process, so the admin can tell mail is moving."""

    __tablename__ = "worker_heartbeat"

    worker_id: Mapped[str] = mapped_column(sa.String(255), primary_key=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


def beat(*, worker_id: str | None = None, now: datetime | None = None) -> WorkerHeartbeat:
    """Record that this worker is alive, and forget workers gone for a day."""
    now = now or utcnow()
    worker_id = worker_id or notifications.default_worker_id()
    row = db.session.get(WorkerHeartbeat, worker_id)
    if row is None:
        row = WorkerHeartbeat(worker_id=worker_id, started_at=now)
        db.session.add(row)
    row.last_seen_at = now
    db.session.execute(sa.delete(WorkerHeartbeat).where(
        WorkerHeartbeat.last_seen_at < now - FORGET_AFTER))
    db.session.commit()
    return row


@dataclass(frozen=True)
class WorkerStatus:
    alive: bool
    last_seen_at: datetime | None
    workers: list[tuple[str, datetime]]  # (worker id, last seen), most recent first


def worker_status(now: datetime | None = None) -> WorkerStatus:
    """Whether any worker has beaten recently: without one, no email leaves."""
    now = now or utcnow()
    rows = db.session.execute(
        sa.select(WorkerHeartbeat.worker_id, WorkerHeartbeat.last_seen_at)
        .order_by(WorkerHeartbeat.last_seen_at.desc())).all()
    workers = [(worker_id, seen) for worker_id, seen in rows]
    last_seen = workers[0][1] if workers else None
    return WorkerStatus(alive=last_seen is not None and now - last_seen <= ALIVE_WITHIN,
                        last_seen_at=last_seen, workers=workers)


def heartbeat() -> object:
    """Tell the admin this worker is alive."""
    return beat()


def start_and_complete_maintenance() -> object:
    """Move maintenance windows that are due to in progress or completed."""
    return maint.run_due_transitions()


def remind_of_maintenance() -> object:
    """Queue the reminder of maintenance that starts within the lead time."""
    return maint.enqueue_reminders()


def deliver_notifications() -> object:
    """Expand new notices into emails and send what is due."""
    return notifications.deliver()


def take_subscription_requests() -> object:
    """Turn the choices visitors saved into pending choices and emailed confirmation links."""
    return signup.process_requests()


def purge_unconfirmed() -> object:
    """Delete subscribers who never confirmed their address, and choices never confirmed."""
    return subscriptions.purge_unconfirmed(), signup.purge_requests()


# Delivery runs every 2 seconds so that a notice leaves within 5 seconds of its commit.
JOBS: tuple[Job, ...] = (
    Job("heartbeat", heartbeat, HEARTBEAT_SECONDS, "record that this worker is alive"),
    Job("maintenance-transitions", start_and_complete_maintenance, 15,
        "start and complete scheduled maintenance on time"),
    Job("maintenance-reminders", remind_of_maintenance, 30,
        "queue reminders of maintenance that starts soon"),
    Job("subscription-requests", take_subscription_requests, 2,
        "email the links that confirm the choices visitors saved"),
    Job("deliver-notifications", deliver_notifications, 2,
        "expand notices into emails and send the due ones"),
    Job("purge-unconfirmed", purge_unconfirmed, 3600,
        "delete subscribers who never confirmed (checked hourly)"),
)


def _in_app_context(app: Flask, job: Job) -> Callable[[], None]:
    def run() -> None:
        with app.app_context():
            try:
                job.func()
            except Exception:
                db.session.rollback()
                log.exception("job %s failed; it runs again at its next interval", job.id)
            finally:
                db.session.remove()

    return run


def build(app: Flask, scheduler: BaseScheduler) -> BaseScheduler:
    """Add every job to ``scheduler`` by its fixed id, so a restart never duplicates one."""
    for job in JOBS:
        scheduler.add_job(_in_app_context(app, job), "interval", seconds=job.seconds, id=job.id,
                          name=job.help, replace_existing=True, max_instances=1,
                          coalesce=True, misfire_grace_time=job.seconds)
    return scheduler


def run_forever(app: Flask) -> None:
    """Run the jobs in the foreground until interrupted (``flask worker``)."""
    build(app, BlockingScheduler(timezone="UTC")).start()


def start_in_background(app: Flask) -> BackgroundScheduler:
    """Run the jobs in a daemon thread of this process (development server)."""
    scheduler = build(app, BackgroundScheduler(timezone="UTC", daemon=True))
    scheduler.start()
    return scheduler


def run_once(app: Flask) -> None:
    """Run every job once, now (used by tests and `flask worker --once`)."""
    for job in JOBS:
        _in_app_context(app, job)()


def init_app(app: Flask) -> None:
    """Nothing starts here; the worker command and the dev server start the scheduler."""
    app.extensions["statuspage.jobs"] = JOBS
