"""The page path over HTTP and in process, on the large data set, as ratios measured in one run.

- serving: every cached public URL under wrk (32 connections, gunicorn with 2 sync workers)
  against the static twin (the same bytes from a trivial WSGI app under the same gunicorn),
  alternated round by round; medians of each side, then their ratio.
- write storm: GET / under wrk while an update is posted every second through the API, against
  the twin under the same load (without writes); p99 ratio.
- growth: the time to build /, /history, the Atom feed and summary.json for a new page version,
  and the queries each build makes, at 1,000, 10,000 and 100,000 incidents.

``python -m bench page --full`` runs it all on SQLite and PostgreSQL (about 25 minutes);
``--smoke`` runs every step with tiny sizes (the test suite does, so that it never rots).
"""

from __future__ import annotations

import gzip
import html.parser
import os
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests
import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

from statuspage import create_app
from statuspage.extensions import db
from statuspage.site import get_page_settings

from . import data, load

# Long and varied enough for the production check on SECRET_KEY.
KEY = "benchmark-key-0123456789abcdefghijkl"

PG_URL = os.environ.get("BENCH_DATABASE_URL",
                        "postgresql+psycopg://postgres@127.0.0.1:55432/statuspage_pagebench")
GROWTH_URLS = ["/", "/history", "/history.atom", "/api/v2/summary.json"]


@dataclass(frozen=True)
class Sizes:
    incidents: int
    subscribers: int
    seconds: float  # per wrk run
    rounds: int
    storm_seconds: float
    growth: tuple[int, ...]
    growth_repeat: int


FULL = Sizes(5000, 100_000, 5, 3, 60, (1000, 10_000, 100_000), 9)
SMOKE = Sizes(20, 50, 1, 1, 2, (10, 20, 40), 2)


def urls(incident_id: int = 3) -> list[str]:
    """Every kind of cached public answer."""
    return ["/", "/api/v2/summary.json", "/api/v2/status.json", "/api/v2/incidents.json",
            "/api/v2/scheduled-maintenances.json", "/history", "/history?page=2",
            f"/incidents/{incident_id}", "/history.atom", "/history.rss",
            "/components/1/history.atom", "/badge.svg", "/components/1/badge.svg",
            "/maintenance.ics", "/embed"]


def _app(url: str, **config: object):
    return create_app({"SECRET_KEY": KEY, "SQLALCHEMY_DATABASE_URI": url,
                       "BASE_URL": "http://127.0.0.1", "PAGE_VERSION_CHECK_MS": 0, **config})


def prepare(url: str, incidents: int, subscribers: int) -> tuple[str, str]:
    """An empty schema on ``url`` filled with the data set; the page id and a write key.

    On PostgreSQL the tables are then vacuumed and analysed, as autovacuum does soon after a
    bulk load: measured before that, the first reads set hint bits on every fresh row and the
    planner guesses without statistics, which is the load, not the history size.
    """
    app = _app(url)
    with app.app_context():
        if url.startswith("postgresql"):
            downgrade(revision="base")
        upgrade()
        key = data.fill(incidents, subscribers)
        page_id = get_page_settings().page_code
        db.session.remove()
        if url.startswith("postgresql"):
            with db.engine.connect() as connection:
                connection.execution_options(isolation_level="AUTOCOMMIT").execute(
                    sa.text("VACUUM ANALYZE"))
        db.engine.dispose()
    return page_id, key


@contextmanager
def databases(kind: str, folder: Path) -> Iterator[Callable[[str], str]]:
    """A function naming a fresh database for each name, on SQLite or PostgreSQL (one
    database per name beside ``PG_URL``'s, created here)."""
    if kind == "sqlite":
        yield lambda name: f"sqlite:///{folder / f'{name}.db'}"
        return
    base = sa.engine.make_url(PG_URL)
    admin = sa.create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")

    def make(name: str) -> str:
        database = base.database if name == "large" else f"{base.database}_{name}"
        with admin.connect() as connection:
            exists = connection.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"),
                                        {"n": database}).scalar()
            if not exists:
                connection.execute(sa.text(f'CREATE DATABASE "{database}"'))
        return base.set(database=database).render_as_string(hide_password=False)

    try:
        yield make
    finally:
        admin.dispose()


# --- the static twin, wrk, and the table ----------------------------------------------------

@dataclass(frozen=True)
class Row:
    url: str
    app: load.Run
    twin: load.Run

    @property
    def ratio(self) -> float:
        return self.app.rps / self.twin.rps

    @property
    def p99_ratio(self) -> float:
        return self.app.p99 / self.twin.p99


def _median_run(runs: list[load.Run]) -> load.Run:
    return load.Run(statistics.median(r.rps for r in runs), statistics.median(r.p50 for r in runs),
                    statistics.median(r.p99 for r in runs), sum(r.errors for r in runs))


def serving(app_base: str, twin_base: str, paths: list[str], sizes: Sizes) -> list[Row]:
    """Each path under wrk, the application and the twin alternated round by round."""
    rows = []
    for path in paths:
        runs: dict[str, list[load.Run]] = {"app": [], "twin": []}
        for _ in range(sizes.rounds):
            runs["app"].append(load.wrk(app_base + path, sizes.seconds))
            runs["twin"].append(load.wrk(twin_base + path, sizes.seconds))
        rows.append(Row(path, _median_run(runs["app"]), _median_run(runs["twin"])))
    return rows


class _Counter(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.elements = 0

    def handle_starttag(self, tag: str, attrs: object) -> None:
        self.elements += 1


def weight(app_base: str) -> tuple[int, int, int]:
    """The bytes of /, gzipped bytes, and its number of elements."""
    body = requests.get(app_base + "/", timeout=60, headers={"Accept-Encoding": "identity"}
                        ).content
    counter = _Counter()
    counter.feed(body.decode())
    return len(body), len(gzip.compress(body, 6)), counter.elements


def write_storm(app_base: str, twin_base: str, page_id: str, key: str, seconds: float,
                rounds: int = 1) -> tuple[load.Run, load.Run, int]:
    """GET / under wrk while an update is posted every second, and the twin under the same
    load, alternated ``rounds`` times; the medians, and the updates posted in all."""
    storms, calms, writes = [], [], 0
    for _ in range(rounds):
        storm, writes_now = _storm_round(app_base, page_id, key, seconds)
        storms.append(storm)
        calms.append(load.wrk(twin_base + "/", seconds))
        writes += writes_now
    return _median_run(storms), _median_run(calms), writes


def _storm_round(app_base: str, page_id: str, key: str, seconds: float
                 ) -> tuple[load.Run, int]:
    stop = threading.Event()
    posted = []

    def writer() -> None:
        statuses = ["identified", "monitoring"]
        start = time.monotonic()
        # One a second on a fixed schedule: a slow write does not push the next ones back.
        while not stop.wait(max(0.0, start + len(posted) + 1 - time.monotonic())):
            statuses.reverse()
            answer = requests.patch(
                f"{app_base}/api/v1/pages/{page_id}/incidents/1", timeout=30,
                headers={"Authorization": f"OAuth {key}"},
                json={"incident": {"status": statuses[0], "body": f"Update {len(posted)}.",
                                   "deliver_notifications": False}})
            posted.append(answer.status_code)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        storm = load.wrk(app_base + "/", seconds)
    finally:
        stop.set()
        thread.join()
    if any(code != 200 for code in posted):
        raise RuntimeError(f"writes failed during the storm: {posted}")
    return storm, len(posted)


def http_benchmarks(url: str, sizes: Sizes, folder: Path, report: Callable[[str], None],
                    parts: tuple[str, ...]) -> None:
    """The table and the page weight, and the write storm, on one database."""
    page_id, key = prepare(url, sizes.incidents, sizes.subscribers)
    env = {"DATABASE_URL": url, "SECRET_KEY": KEY, "BASE_URL": "http://127.0.0.1"}
    paths = urls()
    with load.gunicorn("wsgi:app", env) as app_base:
        for path in paths:  # every worker builds or reads every answer before measuring
            for _ in range(6):
                answer = requests.get(app_base + path, timeout=60)
                if answer.status_code != 200:
                    raise RuntimeError(f"{path} answered {answer.status_code}")
        twin_file = folder / "twin.json"
        load.record_twin(app_base, paths, twin_file)
        with load.gunicorn("bench.twin:app", {"BENCH_TWIN_FILE": str(twin_file)}) as twin_base:
            if "table" in parts:
                _table(serving(app_base, twin_base, paths, sizes), report)
                size, packed, elements = weight(app_base)
                report(f"page weight: / is {size / 1000:.1f} KB, {packed / 1000:.1f} KB "
                       f"gzipped, {elements} elements")
            if "storm" in parts:
                storm, calm, writes = write_storm(app_base, twin_base, page_id, key,
                                                  sizes.storm_seconds, sizes.rounds)
                report(f"write storm ({sizes.rounds} rounds alternated with the twin, medians):"
                       f" {writes} updates in {sizes.rounds} x {sizes.storm_seconds:.0f} s; / "
                       f"{storm.rps:.0f} req/s, p50/p99 {storm.p50:.2f} / {storm.p99:.2f} ms, "
                       f"{storm.errors} errors; twin {calm.rps:.0f} req/s, p99 "
                       f"{calm.p99:.2f} ms; p99 ratio {storm.p99 / calm.p99:.2f}")


def _table(rows: list[Row], report: Callable[[str], None]) -> None:
    report(f"{'URL':40} {'req/s':>8} {'twin':>8} {'ratio':>6}   {'p50/p99 ms':>16}"
           f"   {'twin p50/p99':>16} {'p99 x':>6} errors")
    for row in rows:
        report(f"{row.url:40} {row.app.rps:8.0f} {row.twin.rps:8.0f} {row.ratio:6.2f}   "
               f"{row.app.p50:7.2f} / {row.app.p99:6.2f}   {row.twin.p50:7.2f} / "
               f"{row.twin.p99:6.2f} {row.p99_ratio:6.2f} {row.app.errors}")


# --- growth ------------------------------------------------------------------------------------

def _build_sample(client, path: str) -> tuple[float, int]:
    """Seconds to answer ``path`` for a new page version, and the statements it ran."""
    db.session.execute(sa.text("UPDATE page_settings SET version = version + 1"))
    db.session.commit()
    seen: list[str] = []

    def count(*args: object) -> None:
        seen.append("x")

    sa.event.listen(db.engine, "before_cursor_execute", count)
    start = time.perf_counter()
    answer = client.get(path)
    elapsed = time.perf_counter() - start
    sa.event.remove(db.engine, "before_cursor_execute", count)
    if answer.status_code != 200:
        raise RuntimeError(f"{path} answered {answer.status_code}")
    return elapsed, len(seen)


def growth(make_url: Callable[[str], str], sizes: Sizes, report: Callable[[str], None]) -> None:
    """Build times and statements at each size, the sizes measured in alternation so that a
    busy machine slows them alike, and the ratio of the largest to the smallest."""
    apps = {}
    for count in sizes.growth:
        url = make_url(f"growth_{count}")
        prepare(url, count, 0)
        apps[count] = _app(url)
    samples: dict[tuple[int, str], list[tuple[float, int]]] = {}
    for app in apps.values():  # templates compiled, imports done
        with app.app_context():
            for path in GROWTH_URLS:
                _build_sample(app.test_client(), path)
    for _ in range(sizes.growth_repeat):
        for path in GROWTH_URLS:
            for count, app in apps.items():
                with app.app_context():
                    samples.setdefault((count, path), []).append(
                        _build_sample(app.test_client(), path))
    for app in apps.values():
        with app.app_context():
            db.engine.dispose()
    first, last = sizes.growth[0], sizes.growth[-1]
    median = {key: statistics.median(s for s, _ in found) for key, found in samples.items()}
    head = "".join(f"{n:>14,}" for n in sizes.growth)
    report(f"{'build of a new version':24}{head}   ratio   statements per build")
    for path in GROWTH_URLS:
        cells = "".join(f"{median[(n, path)] * 1000:11.1f} ms" for n in sizes.growth)
        statements = "/".join(str(max(c for _, c in samples[(n, path)])) for n in sizes.growth)
        report(f"{path:24}{cells}   {median[(last, path)] / median[(first, path)]:5.2f}"
               f"   {statements}")


PARTS = ("table", "storm", "growth")


def run(sizes: Sizes, kinds: tuple[str, ...], report: Callable[[str], None] = print,
        parts: tuple[str, ...] = PARTS) -> None:
    """The ``parts`` (the table and page weight, the write storm, growth), on each kind of
    database."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for kind in kinds:
            with databases(kind, folder) as make_url:
                report(f"== {kind}: {sizes.incidents:,} incidents, {sizes.subscribers:,} "
                       "subscribers, 60 components in 8 groups")
                if "table" in parts or "storm" in parts:
                    http_benchmarks(make_url("large"), sizes, folder, report, parts)
                if "growth" in parts:
                    growth(make_url, sizes, report)
