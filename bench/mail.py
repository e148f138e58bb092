"""The mail path on outage day, as figures and ratios measured in one run, on SQLite and
PostgreSQL (``BENCH_PG_URL``, e.g. postgresql+psycopg://postgres@127.0.0.1:55432/NAME, a
database this benchmark may wipe). Needs Postfix's ``smtp-sink``.

- expansion: one notice into deliveries for 25,000, 50,000 and 100,000 confirmed subscribers;
  the ratio of the time per subscriber at 100k to that at 25k shows whether it is linear.
- sending: one worker's sending loops against plain ``smtplib`` sending the same messages
  (rendered beforehand, outside the timing) over the same number of connections to the same
  sink, in alternation; the ratio of their rates. Also with PIPELINING off, to show what the
  rest of the path costs.
- outage: a real ``flask worker`` process and 100,000 subscribers: seconds from the commit of
  an incident update to the first and to the last message accepted by the sink, and the
  worker's peak RSS.
- workers: 1, 2 and 4 worker processes (one connection each) sending 20,000 queued emails.

``python -m bench mail`` runs it all (about 15 minutes on 2 cores); ``BENCH_QUICK=1`` runs
smaller sizes to check that it works.
"""

from __future__ import annotations

import cProfile
import io
import os
import pstats
import re
import select
import smtplib
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import Flask

from statuspage import ROOT, create_app, emails, models  # noqa: F401  (every table)
from statuspage import notifications as notify
from statuspage.channels import smtp as smtp_channel
from statuspage.extensions import db
from statuspage.incidents import open_incident
from statuspage.notifications import claims
from statuspage.outbox import Delivery, DeliveryStatus, Notice
from statuspage.subscriptions import Subscriber

from .load import stop

# Long and varied enough for the production check on SECRET_KEY.
KEY = "benchmark-key-0123456789abcdefghijkl"

QUICK = bool(os.environ.get("BENCH_QUICK"))
SIZES = (2_500, 5_000, 10_000) if QUICK else (25_000, 50_000, 100_000)
SEND = 4_000 if QUICK else 20_000
OUTAGE = 10_000 if QUICK else 100_000
SINK = "/usr/sbin/smtp-sink"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Sink:
    """Postfix's smtp-sink on a free port, with its running count read as it prints it."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.process = subprocess.Popen(
            [SINK, "-c", "-u", "postfix", f"127.0.0.1:{self.port}", "256"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.count = 0
        self.base = 0
        self.first_at: float | None = None
        self.lock = threading.Lock()
        threading.Thread(target=self._read, daemon=True).start()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("smtp-sink did not start")

    def _read(self) -> None:
        fd = self.process.stdout.fileno()  # type: ignore[union-attr]
        pending = b""
        while True:
            ready, _, _ = select.select([fd], [], [], 1)
            if not ready:
                if self.process.poll() is not None:
                    return
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                return
            pending += chunk
            found = re.findall(rb"mesg=(\d+)", pending)
            pending = pending[-64:]
            if found:
                with self.lock:
                    self.count = int(found[-1])
                    if self.first_at is None and self.count > self.base:
                        self.first_at = time.time()

    def reset(self) -> None:
        """Count from here on."""
        with self.lock:
            self.base, self.first_at = self.count, None

    def received(self) -> int:
        with self.lock:
            return self.count - self.base

    def wait_for(self, n: int, timeout: float) -> float:
        """Wall-clock time when ``n`` messages had arrived since ``reset``."""
        deadline = time.monotonic() + timeout
        while self.received() < n:
            if time.monotonic() > deadline:
                raise RuntimeError(f"the sink got {self.received()} of {n} messages")
            time.sleep(0.002)
        return time.time()

    def stop(self) -> None:
        self.process.kill()
        self.process.wait()


# --- databases ---------------------------------------------------------------------------------

def _app(url: str, **config: Any) -> Flask:
    return create_app({"TESTING": True, "SECRET_KEY": KEY, "SQLALCHEMY_DATABASE_URI": url,
                       "BASE_URL": "https://status.example.com",
                       "MAIL_DEFAULT_SENDER": "status@example.com", **config})


def _fresh(url: str) -> None:
    from flask_migrate import downgrade, upgrade

    app = _app(url)
    with app.app_context():
        downgrade(revision="base")
        upgrade()
        db.engine.dispose()


def _subscribers(n: int) -> None:
    """Exactly ``n`` confirmed subscribers to every component, inserted in bulk."""
    db.session.execute(sa.delete(Delivery))
    db.session.execute(sa.delete(Notice))
    db.session.execute(sa.delete(Subscriber))
    now = datetime.now(UTC)
    rows = [{"email": f"reader{i:06}@example.org", "all_components": True, "confirmed_at": now,
             "token_version": 1000 + i, "created_at": now, "updated_at": now}
            for i in range(n)]
    for start in range(0, n, 20_000):
        db.session.execute(sa.insert(Subscriber), rows[start:start + 20_000])
    db.session.commit()
    if db.engine.dialect.name == "postgresql":
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            c.execute(sa.text("VACUUM ANALYZE subscriber"))


def _clear_queue() -> None:
    db.session.execute(sa.delete(Delivery))
    db.session.execute(sa.delete(Notice))
    db.session.commit()
    if db.engine.dialect.name == "postgresql":
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
            c.execute(sa.text("VACUUM ANALYZE delivery"))


def _queued() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(Delivery).where(
        Delivery.status == DeliveryStatus.QUEUED)) or 0


# --- expansion ---------------------------------------------------------------------------------

def expansion(url: str, repeat: int = 3) -> dict[int, float]:
    """Median seconds to expand one notice, per subscriber count."""
    app = _app(url)
    samples: dict[int, list[float]] = {n: [] for n in SIZES}
    with app.app_context():
        for n in SIZES:
            _subscribers(n)
            for _ in range(repeat):
                _clear_queue()
                open_incident("Payments are failing", body="We are investigating.")
                start = time.perf_counter()
                created = notify.expand_notices()
                samples[n].append(time.perf_counter() - start)
                assert created == n, (created, n)
        db.engine.dispose()
    return {n: statistics.median(s) for n, s in samples.items()}


# --- sending -----------------------------------------------------------------------------------

def _render_all() -> list[tuple[str, bytes]]:
    """Every queued delivery's message, rendered as the worker renders it."""
    claim = claims.claim(datetime.now(UTC), 10**9, "bench-render")
    assert claim is not None
    renderer = emails.Renderer()
    out = [(item.to_address, renderer.render(item)[0]) for item in claim.items]
    claims.settle(claim, sent=[], failures=[], release=[i.id for i in claim.items],
                  now=datetime.now(UTC), message_ids=("<", ">"), retry_limit=3)
    return out


def _plain_smtplib(messages: list[tuple[str, bytes]], port: int, connections: int) -> float:
    """Seconds for plain smtplib to send ``messages`` over ``connections`` connections."""
    shares = [messages[i::connections] for i in range(connections)]

    def send(share: list[tuple[str, bytes]]) -> None:
        client = smtplib.SMTP("127.0.0.1", port)
        for recipient, payload in share:
            client.sendmail("status@example.com", [recipient], payload)
        client.quit()

    threads = [threading.Thread(target=send, args=(share,)) for share in shares]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - start


def _requeue() -> None:
    db.session.execute(sa.update(Delivery).values(
        status=DeliveryStatus.QUEUED, attempts=0, sent_at=None, message_id=None,
        claimed_until=None, claimed_by=None, claim_token=None))
    db.session.commit()


def _our_loops(app: Flask, n: int, sink: Sink, connections: int,
               profile: cProfile.Profile | None = None) -> float:
    """Seconds for the worker's sending loops to get ``n`` queued emails into the sink."""
    stop = threading.Event()

    def loop() -> None:
        with app.app_context():
            if profile is not None:
                profile.enable()
            notify.run_connection(stop, worker_id="bench", progress=lambda error: None)
            if profile is not None:
                profile.disable()

    sink.reset()
    threads = [threading.Thread(target=loop) for _ in range(connections)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    sink.wait_for(n, timeout=600)
    elapsed = time.perf_counter() - start
    stop.set()
    for thread in threads:
        thread.join()
    return elapsed


def sending(url: str, sink: Sink, connections: int, *, pipelining: bool = True,
            repeat: int = 3) -> tuple[float, float]:
    """(plain smtplib msg/s, our msg/s), medians of alternated runs."""
    app = _app(url, MAIL_SERVER="127.0.0.1", MAIL_PORT=sink.port,
               MAIL_CONNECTIONS=connections)
    original = smtp_channel.SmtpConnection.__init__

    def without_pipelining(self: Any) -> None:
        original(self)
        self.pipelining = False

    if not pipelining:
        smtp_channel.SmtpConnection.__init__ = without_pipelining  # type: ignore[method-assign]
    try:
        with app.app_context():
            _subscribers(SEND)
            open_incident("Payments are failing", body="We are investigating.\n\n- one\n- two")
            notify.expand_notices()
            messages = _render_all()
            plain, ours = [], []
            for _ in range(repeat):
                plain.append(SEND / _plain_smtplib(messages, sink.port, connections))
                _requeue()
                ours.append(SEND / _our_loops(app, SEND, sink, connections))
                assert _queued() == 0
            db.engine.dispose()
    finally:
        smtp_channel.SmtpConnection.__init__ = original  # type: ignore[method-assign]
    return statistics.median(plain), statistics.median(ours)


def profile_sending(url: str, sink: Sink) -> str:
    """The top of a cProfile of one sending loop, by own time."""
    app = _app(url, MAIL_SERVER="127.0.0.1", MAIL_PORT=sink.port)
    profile = cProfile.Profile()
    with app.app_context():
        _requeue()
        _our_loops(app, SEND, sink, 1, profile)
        db.engine.dispose()
    out = io.StringIO()
    pstats.Stats(profile, stream=out).sort_stats("tottime").print_stats(12)
    return out.getvalue()


# --- worker processes --------------------------------------------------------------------------

def _start_workers(url: str, port: int, count: int, connections: int,
                   folder: Path) -> list[subprocess.Popen[bytes]]:
    env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": KEY, "MAIL_SERVER": "127.0.0.1",
           "MAIL_PORT": str(port), "MAIL_CONNECTIONS": str(connections),
           "MAIL_DEFAULT_SENDER": "status@example.com",
           "BASE_URL": "https://status.example.com"}
    workers = []
    for n in range(count):
        with (folder / f"worker-{n}.log").open("wb") as log:
            workers.append(subprocess.Popen(
                [sys.executable, "-m", "flask", "--app", "wsgi", "worker"], cwd=ROOT, env=env,
                stdout=log, stderr=subprocess.STDOUT))
    return workers


def _wait_until(condition: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError("timed out")
        time.sleep(0.1)


def _peak_rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1)) / 1024  # type: ignore[union-attr]


def outage(url: str, sink: Sink, folder: Path, repeat: int = 1) -> list[tuple[float, float, float]]:
    """(first message, last message, worker peak RSS MB) for OUTAGE subscribers."""
    app = _app(url)
    results = []
    with app.app_context():
        _subscribers(OUTAGE)
        for _ in range(repeat):
            _clear_queue()
            workers = _start_workers(url, sink.port, 1, 4, folder)
            try:
                _wait_until(lambda: db.session.scalar(sa.text(
                    "SELECT count(*) FROM worker_heartbeat WHERE last_progress_at IS NOT NULL"))
                    > 0 or db.session.rollback(), 60)
                time.sleep(1)
                sink.reset()
                open_incident("Payments are failing", body="We are investigating.")
                posted = time.time()
                last = sink.wait_for(OUTAGE, timeout=600)
                first = sink.first_at or last
                rss = _peak_rss_mb(workers[0].pid)
            finally:
                stop(*workers, timeout=30)
            db.session.execute(sa.text("DELETE FROM worker_heartbeat"))
            db.session.commit()
            results.append((first - posted, last - posted, rss))
        db.engine.dispose()
    return results


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def workers(url: str, sink: Sink, folder: Path) -> dict[int, tuple[float, float]]:
    """(msg/s, worker CPU µs per email) of 1, 2 and 4 worker processes (one connection
    each) on SEND queued emails."""
    app = _app(url, MAIL_SERVER="127.0.0.1", MAIL_PORT=sink.port)
    rates = {}
    with app.app_context():
        _subscribers(SEND)
        open_incident("Payments are failing", body="We are investigating.")
        notify.expand_notices()
        db.session.execute(sa.update(Delivery).values(next_attempt_at=datetime(2100, 1, 1,
                                                                               tzinfo=UTC)))
        db.session.commit()
        for count in (1, 2, 4):
            procs = _start_workers(url, sink.port, count, 1, folder)
            try:
                time.sleep(3)  # started and idle
                sink.reset()
                db.session.execute(sa.update(Delivery).values(
                    status=DeliveryStatus.QUEUED, next_attempt_at=datetime.now(UTC),
                    claimed_until=None, claimed_by=None, claim_token=None))
                db.session.commit()
                start = time.time()
                before = sum(_cpu_seconds(p.pid) for p in procs)
                rate = SEND / (sink.wait_for(SEND, timeout=600) - start)
                cpu = sum(_cpu_seconds(p.pid) for p in procs) - before
                rates[count] = (rate, cpu / SEND * 1e6)
            finally:
                stop(*procs, timeout=30)
            db.session.execute(sa.update(Delivery).values(
                next_attempt_at=datetime(2100, 1, 1, tzinfo=UTC)))
            db.session.commit()
        db.engine.dispose()
    return rates


def main() -> None:
    """Print every mail benchmark's figures and ratios, SQLite then PostgreSQL."""
    if not Path(SINK).exists():
        raise SystemExit(f"{SINK} is missing (Debian package postfix)")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        urls = [("SQLite", f"sqlite:///{folder / 'mail.db'}")]
        if os.environ.get("BENCH_PG_URL"):
            urls.append(("PostgreSQL", os.environ["BENCH_PG_URL"]))
        sink = Sink()
        try:
            for name, url in urls:
                _fresh(url)
                seconds = expansion(url)
                small, large = SIZES[0], SIZES[-1]
                print(f"[{name}] expansion: " + ", ".join(
                    f"{n:,} in {s:.2f} s" for n, s in seconds.items())
                      + f"; per-subscriber time at {large:,} / at {small:,}: "
                      f"{(seconds[large] / large) / (seconds[small] / small):.2f}", flush=True)
                for connections in (1, 4):
                    plain, ours = sending(url, sink, connections)
                    print(f"[{name}] sending over {connections} connection(s): plain smtplib "
                          f"{plain:,.0f} msg/s, worker {ours:,.0f} msg/s; ratio "
                          f"{ours / plain:.2f}", flush=True)
                plain, ours = sending(url, sink, 1, pipelining=False)
                print(f"[{name}] sending over 1 connection without PIPELINING: plain smtplib "
                      f"{plain:,.0f} msg/s, worker {ours:,.0f} msg/s; ratio {ours / plain:.2f}",
                      flush=True)
                print(f"[{name}] profile of one sending loop (own time):\n"
                      + profile_sending(url, sink), flush=True)
                for first, last, rss in outage(url, sink, folder):
                    print(f"[{name}] outage, {OUTAGE:,} subscribers, one worker (4 "
                          f"connections): first email {first:.2f} s after the commit, all "
                          f"accepted after {last:.1f} s; worker peak RSS {rss:.0f} MB",
                          flush=True)
                if name == "PostgreSQL":
                    rates = workers(url, sink, folder)
                    print(f"[{name}] worker processes (1 connection each), {SEND:,} emails: "
                          + ", ".join(f"{n}: {r:,.0f} msg/s ({c:.0f} µs CPU per email)"
                                      for n, (r, c) in rates.items())
                          + f"; 4 workers / 1 worker: {rates[4][0] / rates[1][0]:.2f}; load "
                          f"average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores",
                          flush=True)
        finally:
            sink.stop()
