"""Scheduled jobs, declared as data, the mail loops, and the ways of running them.

``flask --app wsgi worker`` runs them in the foreground (production; several workers are safe:
every job is an idempotent database operation, and mail is claimed under fenced leases). Besides
the periodic jobs a worker runs its mail loops in threads of its own: one expands notices, and
one per SMTP connection (MAIL_CONNECTIONS) sends, and WEBHOOK_CONNECTIONS post. These loops
report their progress to the worker's heartbeat row, so a worker one of whose loops is blocked
shows as stuck, not alive. The development server runs the same in background threads when
``SCHEDULER_IN_PROCESS`` is set; the factory never starts them.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
import time
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
# A worker whose process beats but whose mail loop has not moved for as long is stuck.
ALIVE_WITHIN = timedelta(seconds=60)
FORGET_AFTER = timedelta(days=1)
# Progress is written at most this often per worker (and at once when an error starts).
PROGRESS_EVERY = 5.0


class WorkerHeartbeat(db.Model):
    """The last signs of life of one worker process, so the admin can tell mail is moving."""

    __tablename__ = "worker_heartbeat"

    worker_id: Mapped[str] = mapped_column(sa.String(255), primary_key=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The process is up (its heartbeat job ran).
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    # Its mail loop moved: a batch was settled, or nothing was due.
    last_progress_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Why the mail loop could not move, while it cannot (the relay's words, a timeout).
    last_error: Mapped[str | None] = mapped_column(sa.Text)


def beat(*, worker_id: str | None = None, now: datetime | None = None) -> WorkerHeartbeat:
    """Record that this worker process is up, and forget workers gone for a day."""
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


def record_progress(*, worker_id: str | None = None, error: str | None = None,
                    now: datetime | None = None, moved_at: datetime | None = None) -> None:
    """Record that this worker's mail loop moved (``error`` None) or is failing, on a
    connection of its own so that no caller's transaction is touched. ``moved_at`` says
    when its loops last all moved, when that is not now."""
    now = now or utcnow()
    worker_id = worker_id or notifications.default_worker_id()
    values = {"last_seen_at": now, "last_error": error[:2000] if error else None}
    if moved_at is not None:
        values["last_progress_at"] = moved_at
    elif error is None:
        values["last_progress_at"] = now
    table = WorkerHeartbeat.__table__
    with db.engine.begin() as connection:
        found = connection.execute(sa.update(table).where(table.c.worker_id == worker_id)
                                   .values(**values)).rowcount
        if not found:
            connection.execute(sa.insert(table).values(worker_id=worker_id, started_at=now,
                                                       **values))


class Progress:
    """The delivery loops' progress callback: writes it to the heartbeat row, throttled.

    Each loop (thread) keeps its own state, and the worker's progress is that of its slowest
    loop: a webhook loop that moves must not hide a sending loop that cannot.
    """

    def __init__(self, app: Flask, worker_id: str) -> None:
        self.app, self.worker_id = app, worker_id
        self.lock = threading.Lock()
        self.written = 0.0
        self.error: str | None = None
        self.moved: dict[str, datetime] = {}  # loop -> when it last moved
        self.errors: dict[str, str] = {}  # loop -> why it cannot move, while it cannot

    def __call__(self, error: str | None) -> None:
        moment, now, loop = time.monotonic(), utcnow(), threading.current_thread().name
        with self.lock:
            self.moved.setdefault(loop, now)
            if error is None:
                self.moved[loop] = now
                self.errors.pop(loop, None)
            else:
                self.errors[loop] = error
            failing = next(iter(self.errors.values()), None)
            changed = (failing is None) != (self.error is None)
            if not changed and moment - self.written < PROGRESS_EVERY:
                return
            self.written, self.error = moment, failing
            moved_at = min(self.moved.values())
        try:
            with self.app.app_context():
                record_progress(worker_id=self.worker_id, error=failing, now=now,
                                moved_at=moved_at)
        except Exception:  # the database is down: the loop reports it when it is back
            log.warning("could not record the mail loop's progress", exc_info=True)


@dataclass(frozen=True)
class WorkerStatus:
    alive: bool  # some worker's mail loop moved recently: mail is leaving
    last_seen_at: datetime | None
    workers: list[tuple[str, datetime]]  # (worker id, last seen), most recent first
    # Workers whose process is up but whose mail loop has not moved within ALIVE_WITHIN:
    # (worker id, last progress, last error).
    stuck: list[tuple[str, datetime | None, str | None]]


def worker_status(now: datetime | None = None) -> WorkerStatus:
    """Whether mail is moving: without a worker whose mail loop makes progress, none leaves."""
    now = now or utcnow()
    rows = db.session.execute(
        sa.select(WorkerHeartbeat.worker_id, WorkerHeartbeat.last_seen_at,
                  WorkerHeartbeat.last_progress_at, WorkerHeartbeat.last_error)
        .order_by(WorkerHeartbeat.last_seen_at.desc())).all()
    recent = now - ALIVE_WITHIN
    moving = [r for r in rows if r.last_progress_at is not None and r.last_progress_at >= recent]
    stuck = [(r.worker_id, r.last_progress_at, r.last_error) for r in rows
             if r.last_seen_at >= recent and r not in moving]
    last_seen = max((r.last_progress_at for r in moving), default=None)
    return WorkerStatus(alive=bool(moving),
                        last_seen_at=last_seen or (rows[0].last_seen_at if rows else None),
                        workers=[(r.worker_id, r.last_seen_at) for r in rows], stuck=stuck)


def heartbeat() -> object:
    """Tell the admin this worker process is up."""
    return beat()


def start_and_complete_maintenance() -> object:
    """Move maintenance windows that are due to in progress or completed."""
    return maint.run_due_transitions()


def remind_of_maintenance() -> object:
    """Queue the reminder of maintenance that starts within the lead time."""
    return maint.enqueue_reminders()


def take_subscription_requests() -> object:
    """Turn the choices visitors saved into pending choices and emailed confirmation links."""
    return signup.process_requests()


def purge_unconfirmed() -> object:
    """Delete subscribers who never confirmed their address, and choices never confirmed."""
    return subscriptions.purge_unconfirmed(), signup.purge_requests()


def deliver_notifications() -> object:
    """Expand new notices and send what is due, once (``worker --once``)."""
    report = notifications.deliver()
    record_progress(error=report.error if report.sent == 0 else None)
    return report


# Mail is sent by the loops below, not by a job: they run continuously.
JOBS: tuple[Job, ...] = (
    Job("heartbeat", heartbeat, HEARTBEAT_SECONDS, "record that this worker is up"),
    Job("maintenance-transitions", start_and_complete_maintenance, 15,
        "start and complete scheduled maintenance on time"),
    Job("maintenance-reminders", remind_of_maintenance, 30,
        "queue reminders of maintenance that starts soon"),
    Job("subscription-requests", take_subscription_requests, 2,
        "email the links that confirm the choices visitors saved"),
    Job("purge-unconfirmed", purge_unconfirmed, 3600,
        "delete subscribers who never confirmed (checked hourly)"),
)


def _in_app_context(app: Flask, job: Job) -> Callable[[], None]:
    def run() -> None:
        with app.app_context():
            try:
                job.func()
            except Exception:
                log.exception("job %s failed; it runs again at its next interval", job.id)
            finally:
                notifications.reset_session()

    return run


def build(app: Flask, scheduler: BaseScheduler) -> BaseScheduler:
    """Add every job to ``scheduler`` by its fixed id, so a restart never duplicates one."""
    for job in JOBS:
        scheduler.add_job(_in_app_context(app, job), "interval", seconds=job.seconds, id=job.id,
                          name=job.help, replace_existing=True, max_instances=1,
                          coalesce=True, misfire_grace_time=job.seconds)
    return scheduler


def _expansion_loop(app: Flask, stop: threading.Event) -> None:
    with app.app_context():
        while not stop.is_set():
            try:
                if notifications.expand_step() is None:
                    stop.wait(notifications.sending.POLL_SECONDS)
            except Exception:
                log.exception("expanding notices failed; trying again shortly")
                notifications.reset_session()
                stop.wait(notifications.sending.PAUSE_SECONDS)


def _sending_loop(app: Flask, stop: threading.Event, progress: Progress) -> None:
    with app.app_context():
        while not stop.is_set():
            try:
                notifications.run_connection(stop, worker_id=progress.worker_id,
                                             progress=progress)
            except Exception:  # never let a sending thread die: start it over
                log.exception("a sending loop failed; starting it again")
                notifications.reset_session()
                stop.wait(notifications.sending.PAUSE_SECONDS)


def _posting_loop(app: Flask, stop: threading.Event, progress: Progress) -> None:
    with app.app_context():
        while not stop.is_set():
            try:
                notifications.run_poster(stop, worker_id=progress.worker_id, progress=progress)
            except Exception:  # never let a posting thread die: start it over
                log.exception("a posting loop failed; starting it again")
                notifications.reset_session()
                stop.wait(notifications.sending.PAUSE_SECONDS)


class MailLoops:
    """The worker's delivery threads: one expanding notices, one per SMTP connection
    sending, and WEBHOOK_CONNECTIONS posting webhooks, Slack and Teams messages."""

    def __init__(self, app: Flask) -> None:
        self.stop = threading.Event()
        progress = Progress(app, notifications.default_worker_id())
        self.threads = [threading.Thread(target=_expansion_loop, args=(app, self.stop),
                                         name="mail-expand", daemon=True)]
        self.threads += [
            threading.Thread(target=_sending_loop, args=(app, self.stop, progress),
                             name=f"mail-send-{n}", daemon=True)
            for n in range(max(app.config["MAIL_CONNECTIONS"], 1))]
        self.threads += [
            threading.Thread(target=_posting_loop, args=(app, self.stop, progress),
                             name=f"http-post-{n}", daemon=True)
            for n in range(max(app.config["WEBHOOK_CONNECTIONS"], 1))]

    def start(self) -> MailLoops:
        """Start every thread."""
        for thread in self.threads:
            thread.start()
        return self

    def shutdown(self, wait: bool = True) -> None:
        """Ask every thread to stop after its current message; wait for them if asked."""
        self.stop.set()
        if wait:
            for thread in self.threads:
                thread.join(timeout=60)


class Running:
    """The scheduler and the mail loops of one process, stopped together."""

    def __init__(self, scheduler: BackgroundScheduler, loops: MailLoops) -> None:
        self.scheduler, self.loops = scheduler, loops

    def shutdown(self, wait: bool = True) -> None:
        """Stop the jobs and the mail loops."""
        self.loops.shutdown(wait=wait)
        self.scheduler.shutdown(wait=wait)


def _exit_on_sigterm(signum: int, frame: object) -> None:
    sys.exit(0)


def run_forever(app: Flask) -> None:
    """Run the jobs and the mail loops in the foreground until interrupted (``flask worker``).

    SIGTERM stops it like Ctrl+C: each sending loop finishes its message and releases the
    rest of its batch.
    """
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    _in_app_context(app, JOBS[0])()  # seen at once; a database still down is retried later
    loops = MailLoops(app).start()
    try:
        build(app, BlockingScheduler(timezone="UTC")).start()
    finally:
        loops.shutdown(wait=True)


def start_in_background(app: Flask) -> Running:
    """Run the jobs and the mail loops in daemon threads of this process (development)."""
    scheduler = build(app, BackgroundScheduler(timezone="UTC", daemon=True))
    scheduler.start()
    return Running(scheduler, MailLoops(app).start())


def run_once(app: Flask) -> None:
    """Run every job once, and deliver what is due, now (tests and `flask worker --once`)."""
    for job in (*JOBS, Job("deliver-notifications", deliver_notifications, 0, "send mail")):
        _in_app_context(app, job)()


def init_app(app: Flask) -> None:
    """Nothing starts here; the worker command and the dev server start the scheduler."""
    app.extensions["statuspage.jobs"] = JOBS
