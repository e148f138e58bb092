"""From notices to messages: fan-out, fenced claims, sending in batches, retries, and the
queue as ops see it.

A worker runs one expansion loop (``fanout``), several sending loops, one per SMTP connection
(``sending.run_connection``), and HTTP posting loops for webhooks, Slack and Teams
(``posting.run_poster``), all on the same queue and claims. Expansion turns each notice into
one delivery per matching subscriber, a chunk per transaction, so sending starts on the first
chunk. Senders claim due deliveries in batches under a fenced, renewed lease (``claims``),
render each notice once per language, and settle each batch in one statement per outcome. A
worker that dies leaves its unsent claims to be taken over once the lease runs out. Every
delivery ends up sent, queued for a retry, failed (visible to ops), or cancelled because its
subscriber left; none is dropped silently, and a crash repeats at most the batches in flight.
"""

from __future__ import annotations

from datetime import datetime

from .claims import backoff, lease
from .fanout import expand_notices, expand_step
from .posting import disable_failing, post_all_due, run_poster
from .queue import (
    DeliveryCounts,
    MailError,
    QueueStatus,
    delivery_counts,
    failed_deliveries,
    queue_status,
    retry_failed,
    send_test_email,
)
from .sending import (
    SendReport,
    default_worker_id,
    reset_session,
    run_connection,
    send_all_due,
    send_due,
)

__all__ = [
    "DeliveryCounts", "MailError", "QueueStatus", "SendReport", "backoff", "default_worker_id",
    "deliver", "delivery_counts", "disable_failing", "expand_notices", "expand_step",
    "failed_deliveries", "lease", "post_all_due", "queue_status", "reset_session", "retry_failed",
    "run_connection", "run_poster", "send_all_due", "send_due", "send_test_email",
]


def deliver(*, now: datetime | None = None) -> SendReport:
    """Expand every new notice, then send all email that is due over one connection and post
    every HTTP delivery that is due (``worker --once``, the development server, and tests)."""
    expand_notices(now=now)
    report = send_all_due(now=now)
    report.add(post_all_due(now=now))
    return report
