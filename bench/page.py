"""How the public page and the history scale, as ratios measured in one run.

- history: GET /history (the last three months, 60 incidents) for a new page version, on a
  page that also has 5,000 older incidents from five years before, against the same request on
  a page with only the 60. The history reads one window of months through an index, so the
  ratio should stay near 1 however long the page has existed.
- snapshot: GET / served from the cached snapshot against GET / when every request follows a
  write (the snapshot is rebuilt). The ratio is what the cache saves per request.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from flask_migrate import upgrade

from statuspage import create_app
from statuspage.components import create_component, set_component_status
from statuspage.extensions import db
from statuspage.incidents import AffectedComponent, Incident, IncidentUpdate
from statuspage.markup import stored
from statuspage.vocabulary import ComponentStatus, Impact, IncidentKind

NOW = datetime.now(UTC)
RECENT = 60


def _app(path: Path):
    # Every request reads the page version, so each write is followed by a build.
    return create_app({"TESTING": True, "SECRET_KEY": "bench", "PAGE_VERSION_CHECK_MS": 0,
                       "SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}"})


def _fill(recent: int, older: int = 0, components: int = 12) -> list:
    """Components, ``recent`` incidents in the last 80 days and ``older`` ones over the five
    years before that, all resolved, inserted in bulk."""
    made = [create_component(f"Component {n}", now=NOW - timedelta(days=2200))
            for n in range(components)]
    recent_span = timedelta(days=80).total_seconds()
    older_span = timedelta(days=5 * 365).total_seconds()
    times = [NOW - timedelta(seconds=recent_span * (n + 1) / recent) for n in range(recent)]
    times += [NOW - timedelta(days=100, seconds=older_span * (n + 1) / older)
              for n in range(older)]
    rows = []
    for n, started in enumerate(times):
        incident = Incident(kind=IncidentKind.INCIDENT, name=f"Incident {n}", status="resolved",
                            impact=Impact.MINOR, created_at=started, updated_at=started,
                            started_at=started, resolved_at=started + timedelta(hours=1))
        component = made[n % components]
        for minutes, status in ((0, "investigating"), (30, "identified"), (60, "resolved")):
            update = IncidentUpdate(status=status,
                                    **stored(f"Update on incident {n}.").columns("body"),
                                    display_at=started + timedelta(minutes=minutes),
                                    created_at=started, updated_at=started)
            update.affected.append(AffectedComponent(
                component_id=component.id, component_name=component.name,
                old_status=ComponentStatus.OPERATIONAL,
                new_status=ComponentStatus.DEGRADED_PERFORMANCE))
            incident.updates.append(update)
        incident.components.append(component)
        rows.append(incident)
    db.session.add_all(rows)
    db.session.commit()
    return made


def _per_request(fn: Callable[[], object], repeat: int) -> float:
    fn()  # warm up
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def _history_app(older: int, folder: Path):
    app = _app(folder / f"history-{older}.db")
    with app.app_context():
        upgrade()
        _fill(RECENT, older)
        assert db.session.scalar(sa.select(sa.func.count(Incident.id))) == RECENT + older
    return app


def _new_version() -> None:
    # What a write does to the page, without the write: the next request builds.
    db.session.execute(sa.text("UPDATE page_settings SET version = version + 1"))
    db.session.commit()


def _history_seconds(folder: Path, older: int = 5000, repeat: int = 30) -> tuple[float, float]:
    """Median seconds per /history request for a new page version, without and with
    ``older`` incidents.

    The two pages are measured in alternation, so that a busy machine slows both alike.
    """
    apps = [_history_app(0, folder), _history_app(older, folder)]
    clients = [app.test_client() for app in apps]
    samples: list[list[float]] = [[], []]
    for index, client in enumerate(clients):
        with apps[index].app_context():
            _ok(client.get("/history"))  # warm up
    for _ in range(repeat):
        for index, client in enumerate(clients):
            with apps[index].app_context():
                _new_version()
                start = time.perf_counter()
                _ok(client.get("/history"))
                samples[index].append(time.perf_counter() - start)
    for app in apps:
        with app.app_context():
            db.engine.dispose()
    return statistics.median(samples[0]), statistics.median(samples[1])


def _ok(response) -> None:
    if response.status_code != 200:
        raise RuntimeError(f"{response.request.path} answered {response.status_code}")


def _snapshot_seconds(folder: Path, repeat: int = 20) -> tuple[float, float]:
    app = _app(folder / "snapshot.db")
    with app.app_context():
        upgrade()
        made = _fill(RECENT, 300)
        client = app.test_client()
        cached = _per_request(lambda: _ok(client.get("/")), repeat=repeat * 2)
        statuses = [ComponentStatus.DEGRADED_PERFORMANCE, ComponentStatus.OPERATIONAL]

        def after_write() -> None:
            statuses.reverse()
            set_component_status(made[0], statuses[0])
            _ok(client.get("/"))

        write_only = _per_request(
            lambda: (statuses.reverse(), set_component_status(made[0], statuses[0])),
            repeat=repeat)
        rebuilt = _per_request(after_write, repeat=repeat) - write_only
        db.engine.dispose()
    return cached, rebuilt


def main(older: int = 5000, repeat: int = 30) -> None:
    """Print each benchmark's figures and ratio (smaller ``older`` and ``repeat``: a smoke
    run)."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        small, large = _history_seconds(folder, older, repeat)
        print(f"history: {RECENT} incidents {small * 1000:.1f} ms, {RECENT} + {older} older "
              f"{large * 1000:.1f} ms per request; ratio {large / small:.2f}")
        cached, rebuilt = _snapshot_seconds(folder, max(2, repeat * 2 // 3))
        print(f"snapshot: cached {cached * 1000:.2f} ms, rebuilt {rebuilt * 1000:.2f} ms per "
              f"request; the cache serves / {rebuilt / cached:.1f}x faster")
