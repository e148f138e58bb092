"""Sending: claimed batches out through a channel connection, settled once per batch.

Each message is rendered from its notice's prepared email (``emails.Renderer``), so a batch
needs no query per email. Before each send the loop makes sure the lease still has at least
one timeout left, renewing it every third of its length; a renewal that finds the claim
taken stops the batch at once. A refusal fails or retries one message; a broken or stalled
connection ends the batch: the message in flight is retried later, the rest released at once.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask import Flask, current_app

from .. import emails
from ..channels import Broken, Connection, Refused, smtp
from ..dbtypes import utcnow
from ..extensions import db
from . import claims
from .claims import Claim, Failure

log = logging.getLogger(__name__)

POLL_SECONDS = 0.5  # how often an idle connection looks for due mail
IDLE_SECONDS = 10.0  # an idle connection is closed after this
PAUSE_SECONDS = 3.0  # after the relay or the database failed, before trying again


@dataclass
class SendReport:
    claimed: int = 0
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    released: int = 0
    error: str | None = None  # why the connection ended, when it broke

    def add(self, other: SendReport) -> None:
        """Count ``other`` into this report."""
        for item in fields(self):
            if item.name != "error":
                setattr(self, item.name, getattr(self, item.name) + getattr(other, item.name))
        self.error = other.error or self.error


@dataclass
class _Sent:
    """What became of one batch's messages, before it is recorded."""

    sent: list[int] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    release: list[int] = field(default_factory=list)
    error: str | None = None  # set when the connection broke or stalled

    def settle(self, claim: Claim, report: SendReport, message_ids: tuple[str, str],
               now: datetime | None) -> None:
        """Record it (one transaction) and count it into ``report``."""
        outcome = claims.settle(claim, sent=self.sent, failures=self.failures,
                                release=self.release, now=now or utcnow(),
                                message_ids=message_ids,
                                retry_limit=max(current_app.config["MAIL_RETRY_LIMIT"], 1))
        report.sent += outcome.sent
        report.retrying += outcome.retrying
        report.failed += outcome.failed
        report.released += outcome.released
        report.error = self.error or report.error


def _send_items(claim: Claim, connection: Connection, renderer: emails.Renderer,
                now: datetime | None, stop: threading.Event | None) -> _Sent:
    sender = emails.envelope_sender()
    timeout = float(current_app.config["MAIL_TIMEOUT_SECONDS"])
    items = claim.items
    done = _Sent()
    index = 0
    while index < len(items) and not (stop is not None and stop.is_set()):
        if claim.due_for_renewal() or claim.left() < timeout:
            pending = [item.id for item in items[index:]]
            if not claims.renew(claim, pending, now or utcnow()) or claim.left() < timeout:
                log.warning("claim %s… was taken over; stopping its batch", claim.token[:8])
                break
        item = items[index]
        index += 1
        try:
            payload, _message_id = renderer.render(item)
        except emails.Undeliverable as exc:
            done.failures.append(Failure(item, str(exc), permanent=True, final=True))
            continue
        except sa.exc.SQLAlchemyError:
            raise  # the database, not the email: the batch waits for its lease to run out
        except Exception as exc:  # a template bug must not stall the queue
            log.exception("delivery %s could not be rendered", item.id)
            done.failures.append(Failure(item, f"Could not render the email: {exc}",
                                         permanent=True, final=True))
            continue
        try:
            connection.send(sender, item.to_address, payload)
        except Refused as exc:
            done.failures.append(Failure(item, exc.reply, permanent=exc.permanent))
            if exc.closing:
                done.error = exc.reply
                break
        except Broken as exc:
            # It may or may not have arrived: at least once, so it is tried again later.
            done.failures.append(Failure(item, str(exc), permanent=False))
            done.error = str(exc)
            break
        else:
            done.sent.append(item.id)
    done.release = [item.id for item in items[index:]]
    return done


def send_claim(claim: Claim, connection: Connection, renderer: emails.Renderer, *,
               report: SendReport, now: datetime | None = None,
               stop: threading.Event | None = None) -> Connection | None:
    """Send one claimed batch over ``connection`` and record it; returns the connection
    while it is still usable."""
    done = _send_items(claim, connection, renderer, now, stop)
    done.settle(claim, report, renderer.message_id_parts(), now)
    if done.error is not None:
        connection.close()
        return None
    return connection


def _fail_unconnected(claim: Claim, report: SendReport, renderer: emails.Renderer,
                      error: str, now: datetime | None) -> None:
    failed = _Sent(failures=[Failure(item, error, permanent=False) for item in claim.items],
                   error=error)
    failed.settle(claim, report, renderer.message_id_parts(), now)


def send_due(*, now: datetime | None = None, batch_size: int | None = None,
             worker_id: str | None = None) -> SendReport:
    """Claim one batch of due deliveries and send it over a connection of its own."""
    now = now or utcnow()
    claim = claims.claim(now, batch_size or current_app.config["MAIL_BATCH_SIZE"],
                         worker_id or default_worker_id())
    report = SendReport(claimed=len(claim.items) if claim else 0)
    if claim is None:
        return report
    renderer = emails.Renderer()
    try:
        connection = smtp.connect()
    except Broken as exc:
        log.warning("SMTP connection to %s failed: %s", smtp.relay(), exc)
        _fail_unconnected(claim, report, renderer, str(exc), now)
        return report
    kept = send_claim(claim, connection, renderer, report=report, now=now)
    if kept is not None:
        kept.close()
    return report


def send_all_due(*, now: datetime | None = None, worker_id: str | None = None) -> SendReport:
    """Send batch after batch over one connection until nothing is due or the relay fails."""
    total = SendReport()
    renderer = emails.Renderer()
    connection: Connection | None = None
    worker_id = worker_id or default_worker_id()
    cursor: tuple[datetime, int] | None = None
    while True:
        claim = claims.claim(now or utcnow(), current_app.config["MAIL_BATCH_SIZE"], worker_id,
                             after=cursor)
        if claim is None and cursor is not None:
            cursor = None
            continue
        if claim is None:
            break
        cursor = claim.last_key
        report = SendReport(claimed=len(claim.items))
        if connection is None:
            try:
                connection = smtp.connect()
            except Broken as exc:
                log.warning("SMTP connection to %s failed: %s", smtp.relay(), exc)
                _fail_unconnected(claim, report, renderer, str(exc), now)
                total.add(report)
                break
        connection = send_claim(claim, connection, renderer, report=report, now=now)
        total.add(report)
        if connection is None:
            break  # the next run tries again
    if connection is not None:
        connection.close()
    return total


def default_worker_id() -> str:
    """This process, as it appears in claims and heartbeats."""
    return f"{socket.gethostname()}:{os.getpid()}"


def reset_session() -> None:
    """Drop this thread's session after a database error: the rollback itself may fail on a
    connection the server closed; the next query connects afresh."""
    try:
        db.session.rollback()
    except sa.exc.SQLAlchemyError:
        pass
    db.session.remove()


class _Bookkeeper:
    """Claims the next batch and records the last one in a thread of its own, so that the
    connection sends while the database works. Tasks run one at a time, in order."""

    def __init__(self, app: Flask, worker_id: str, batch: int) -> None:
        self.worker_id, self.batch = worker_id, batch
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="mail-book",
                                       initializer=self._enter, initargs=(app,))
        self.recorded: Future[None] | None = None

    @staticmethod
    def _enter(app: Flask) -> None:
        app.app_context().push()  # this thread's own context and database session

    def claim(self, after: tuple[datetime, int] | None) -> Future[Claim | None]:
        """Claim the next batch after ``after`` (from the start when None)."""
        return self.pool.submit(self._guarded, claims.claim, utcnow(), self.batch,
                                self.worker_id, after=after)

    def record(self, done: _Sent, claim: Claim, message_ids: tuple[str, str]) -> None:
        """Record a sent batch; a failure surfaces at the next ``check``."""
        self.check()
        self.recorded = self.pool.submit(self._guarded, done.settle, claim, SendReport(),
                                         message_ids, None)

    def check(self, wait: bool = True) -> None:
        """Raise what the last recording raised, if anything (without waiting for it to
        finish unless ``wait``)."""
        recorded = self.recorded
        if recorded is not None and (wait or recorded.done()):
            self.recorded = None
            recorded.result()

    @staticmethod
    def _guarded(call: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return call(*args, **kwargs)
        except Exception:
            reset_session()
            raise

    def close(self) -> None:
        """Finish what was asked, then end the thread."""
        self.pool.shutdown(wait=True)


def run_connection(stop: threading.Event, *, worker_id: str,
                   progress: Callable[[str | None], None]) -> None:
    """Send due mail over one connection until ``stop`` is set (one worker thread's body).

    While a batch is sent, the next one is claimed and the last one recorded in a second
    thread, so at most two batches per connection are in flight. ``progress(None)`` is called
    whenever the loop moved (a batch went out, or nothing was due); ``progress(error)`` when
    the relay or the database failed it: a worker whose loop is blocked or failing stops
    calling ``progress(None)``, so ops see it as stuck.
    """
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    renderer = emails.Renderer()
    book = _Bookkeeper(app, worker_id, current_app.config["MAIL_BATCH_SIZE"])
    connection: Connection | None = None
    upcoming: Future[Claim | None] | None = None
    cursor: tuple[datetime, int] | None = None
    last_busy = time.monotonic()
    try:
        while not stop.is_set():
            try:
                book.check(wait=False)
                if connection is None:
                    if not claims.has_due(utcnow()):
                        progress(None)
                        stop.wait(POLL_SECONDS)
                        continue
                    connection = smtp.connect()
                claim = (upcoming or book.claim(cursor)).result()
                upcoming = None
                if claim is None and cursor is not None:
                    cursor = None  # from the start: released or retried mail waits there
                    continue
                if claim is None:
                    progress(None)
                    if time.monotonic() - last_busy > IDLE_SECONDS:
                        connection.close()
                        connection = None
                    stop.wait(POLL_SECONDS)
                    continue
                cursor = claim.last_key
                upcoming = book.claim(cursor)
                done = _send_items(claim, connection, renderer, None, stop)
                book.record(done, claim, renderer.message_id_parts())
                last_busy = time.monotonic()
                if done.error is not None:
                    connection.close()
                    connection = None
                    upcoming = _release(book, upcoming, renderer)
                progress(done.error)
            except Broken as exc:
                log.warning("SMTP connection to %s failed: %s", smtp.relay(), exc)
                progress(f"SMTP {smtp.relay()}: {exc}")
                stop.wait(PAUSE_SECONDS)
            except Exception as exc:  # the database went away: wait, then start over
                log.exception("sending failed; trying again in %s s", PAUSE_SECONDS)
                reset_session()
                upcoming = None
                progress(f"{type(exc).__name__}: {exc}"[:500])
                stop.wait(PAUSE_SECONDS)
        upcoming = _release(book, upcoming, renderer)
    finally:
        book.close()
        if connection is not None:
            connection.close()


def _release(book: _Bookkeeper, upcoming: Future[Claim | None] | None,
             renderer: emails.Renderer) -> None:
    """Hand back a batch claimed ahead that will not be sent now."""
    try:
        claim = upcoming.result() if upcoming is not None else None
    except Exception:
        return None  # its lease runs out by itself
    if claim is not None:
        book.record(_Sent(release=[item.id for item in claim.items]), claim,
                    renderer.message_id_parts())
    return None
