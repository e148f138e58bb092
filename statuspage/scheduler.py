"""Scheduled jobs, declared as data, and the two ways of running them.

``flask --app wsgi worker`` runs them in the foreground (production; several workers are safe
because every job is an idempotent database operation). The development server runs them in a
background thread when ``SCHEDULER_IN_PROCESS`` is set; the factory never starts them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from flask import Flask

from . import incidents
from .extensions import db

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Job:
    id: str
    func: Callable[[], object]
    seconds: int
    help: str


def start_and_complete_maintenance() -> object:
    """Move maintenance windows that are due to in progress or completed."""
    return incidents.run_due_transitions()


JOBS: tuple[Job, ...] = (
    Job("maintenance-transitions", start_and_complete_maintenance, 15,
        "start and complete scheduled maintenance on time"),
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
