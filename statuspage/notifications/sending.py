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
from dataclasses import dataclass, fields
from datetime import datetime

from flask import current_app

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


def _settle(claim: Claim, report: SendReport, renderer: emails.Renderer, *, sent: list[int],
            failures: list[Failure], release: list[int], now: datetime | None) -> None:
    outcome = claims.settle(claim, sent=sent, failures=failures, release=release,
                            now=now or utcnow(), message_ids=renderer.message_id_parts(),
                            retry_limit=max(current_app.config["MAIL_RETRY_LIMIT"], 1))
    report.sent += outcome.sent
    report.retrying += outcome.retrying
    report.failed += outcome.failed
    report.released += outcome.released


def send_claim(claim: Claim, connection: Connection, renderer: emails.Renderer, *,
               report: SendReport, now: datetime | None = None,
               stop: threading.Event | None = None) -> Connection | None:
    """Send one claimed batch over ``connection``; returns it while it is still usable."""
    sender = emails.envelope_sender()
    timeout = float(current_app.config["MAIL_TIMEOUT_SECONDS"])
    items = claim.items
    sent: list[int] = []
    failures: list[Failure] = []
    index, usable = 0, True
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
            failures.append(Failure(item, str(exc), permanent=True, final=True))
            continue
        except Exception as exc:  # a template bug must not stall the queue
            log.exception("delivery %s could not be rendered", item.id)
            failures.append(Failure(item, f"Could not render the email: {exc}",
                                    permanent=True, final=True))
            continue
        try:
            connection.send(sender, item.to_address, payload)
        except Refused as exc:
            failures.append(Failure(item, exc.reply, permanent=exc.permanent))
            if exc.closing:
                usable, report.error = False, exc.reply
                break
        except Broken as exc:
            # It may or may not have arrived: at least once, so it is tried again later.
            failures.append(Failure(item, str(exc), permanent=False))
            usable, report.error = False, str(exc)
            break
        else:
            sent.append(item.id)
    release = [item.id for item in items[index:]]
    _settle(claim, report, renderer, sent=sent, failures=failures, release=release, now=now)
    if not usable:
        connection.close()
        return None
    return connection


def _fail_unconnected(claim: Claim, report: SendReport, renderer: emails.Renderer,
                      error: str, now: datetime | None) -> None:
    failures = [Failure(item, error, permanent=False) for item in claim.items]
    _settle(claim, report, renderer, sent=[], failures=failures, release=[], now=now)
    report.error = error


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
    while (claim := claims.claim(now or utcnow(), current_app.config["MAIL_BATCH_SIZE"],
                                 worker_id)) is not None:
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


def run_connection(stop: threading.Event, *, worker_id: str,
                   progress: Callable[[str | None], None]) -> None:
    """Send due mail over one connection until ``stop`` is set (one worker thread's body).

    ``progress(None)`` is called whenever the loop moved (a batch settled, or nothing was
    due); ``progress(error)`` when the relay or the database failed it: a worker whose loop
    is blocked or failing stops calling ``progress(None)``, so ops see it as stuck.
    """
    renderer = emails.Renderer()
    connection: Connection | None = None
    last_busy = time.monotonic()
    batch = current_app.config["MAIL_BATCH_SIZE"]
    while not stop.is_set():
        try:
            if connection is None:
                if not claims.has_due(utcnow()):
                    progress(None)
                    stop.wait(POLL_SECONDS)
                    continue
                connection = smtp.connect()
            claim = claims.claim(utcnow(), batch, worker_id)
            if claim is None:
                progress(None)
                if time.monotonic() - last_busy > IDLE_SECONDS:
                    connection.close()
                    connection = None
                stop.wait(POLL_SECONDS)
                continue
            report = SendReport(claimed=len(claim.items))
            connection = send_claim(claim, connection, renderer, report=report, stop=stop)
            last_busy = time.monotonic()
            progress(report.error if connection is None else None)
        except Broken as exc:
            log.warning("SMTP connection to %s failed: %s", smtp.relay(), exc)
            progress(f"SMTP {smtp.relay()}: {exc}")
            stop.wait(PAUSE_SECONDS)
        except Exception as exc:  # the database went away: wait, then start over
            log.exception("sending failed; trying again in %s s", PAUSE_SECONDS)
            db.session.rollback()
            db.session.remove()
            progress(f"{type(exc).__name__}: {exc}"[:500])
            stop.wait(PAUSE_SECONDS)
    if connection is not None:
        connection.close()
