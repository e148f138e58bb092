"""The large data set of the page benchmarks, inserted in bulk.

60 components in 8 groups with 90 days of status history, ``incidents`` incidents with 4
updates each, 100,000 subscribers. The last 100 days always hold the same 300 incidents (3 a
day, two still open) and the same maintenance; the rest are spread over the five years before.
So the pages a visitor reads hold the same things at every size, and only the history behind
them grows: that is what "flat growth" is measured against.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from statuspage import staff
from statuspage.components import Component, ComponentGroup, ComponentStatusChange
from statuspage.extensions import db
from statuspage.incidents import AffectedComponent, Incident, IncidentUpdate, incident_component
from statuspage.markup import stored
from statuspage.site import PageSettings
from statuspage.subscriptions import Subscriber
from statuspage.vocabulary import ComponentStatus

NOW = datetime.now(UTC).replace(microsecond=0)
GROUPS, PER_GROUP, LOOSE = 8, 7, 4  # 60 components
RECENT, RECENT_DAYS, OLDER_DAYS = 300, 100, 5 * 365
CHUNK = 5000
STEPS = (("investigating", 0), ("identified", 25), ("monitoring", 70), ("resolved", 130))
BODIES = {
    "investigating": "We are investigating **elevated error rates** for {name}. Some requests "
                     "fail or time out; we will post an update within 30 minutes.",
    "identified": "The cause is a *faulty configuration change* in the {name} cluster. We are "
                  "rolling it back now.\n\n- Requests may still fail\n- No data was lost",
    "monitoring": "The rollback is complete and error rates for {name} are back to normal. "
                  "We are monitoring the results.",
    "resolved": "This incident has been resolved. Requests to {name} that failed during the "
                "incident can be retried. See the [status page](https://example.com) for more.",
}


def _insert(table: sa.Table, rows: list[dict]) -> None:
    for start in range(0, len(rows), CHUNK):
        db.session.execute(table.insert(), rows[start:start + CHUNK])


def _components() -> list[dict]:
    groups = [{"id": g + 1, "name": f"Region {g + 1}", "description": f"Services in region "
               f"{g + 1}.", "position": g + 1, "collapsed": g % 2 == 0,
               "created_at": NOW - timedelta(days=2000), "updated_at": NOW}
              for g in range(GROUPS)]
    _insert(ComponentGroup.__table__, groups)
    components = []
    for n in range(GROUPS * PER_GROUP + LOOSE):
        group = n // PER_GROUP + 1 if n < GROUPS * PER_GROUP else None
        components.append({
            "id": n + 1, "name": f"Service {n + 1}", "description": f"Service number {n + 1}.",
            "position": (n % PER_GROUP) + 1 if group else GROUPS + n, "group_id": group,
            "status": ComponentStatus.OPERATIONAL, "showcase": True,
            "only_show_if_degraded": False, "created_at": NOW - timedelta(days=2000),
            "updated_at": NOW})
    _insert(Component.__table__, components)
    return components


def _status_history(components: list[dict], rng: random.Random) -> None:
    changes = []
    for component in components:
        changes.append({"component_id": component["id"], "from_status": None,
                        "to_status": ComponentStatus.OPERATIONAL,
                        "changed_at": NOW - timedelta(days=2000), "cause": "created"})
        for day in sorted(rng.sample(range(1, 89), 6)):
            start = NOW - timedelta(days=day, hours=rng.randrange(24))
            status = rng.choice([ComponentStatus.DEGRADED_PERFORMANCE,
                                 ComponentStatus.PARTIAL_OUTAGE, ComponentStatus.MAJOR_OUTAGE])
            changes.append({"component_id": component["id"],
                            "from_status": ComponentStatus.OPERATIONAL, "to_status": status,
                            "changed_at": start, "cause": "incident"})
            changes.append({"component_id": component["id"], "from_status": status,
                            "to_status": ComponentStatus.OPERATIONAL,
                            "changed_at": start + timedelta(hours=rng.randrange(1, 5)),
                            "cause": "incident"})
    _insert(ComponentStatusChange.__table__, changes)


def _incident_times(count: int) -> list[datetime]:
    recent = min(count, RECENT)
    times = [NOW - timedelta(days=RECENT_DAYS) * (n + 0.5) / recent for n in range(recent)]
    older = count - recent
    times += [NOW - timedelta(days=RECENT_DAYS) - timedelta(days=OLDER_DAYS) * (n + 0.5) / older
              for n in range(older)]
    return times


def _incidents(count: int, components: list[dict], rng: random.Random) -> None:
    incidents, updates, affected, links = [], [], [], []
    bodies = {status: stored(text.format(name="the API")) for status, text in BODIES.items()}
    update_id = 0
    for index, started in enumerate(_incident_times(count)):
        incident_id = index + 1
        still_open = index < 2
        steps = STEPS[:2] if still_open else STEPS
        component = components[rng.randrange(len(components))]
        impact = rng.choice(["minor", "major", "critical"])
        last = started + timedelta(minutes=steps[-1][1])
        incidents.append({
            "id": incident_id, "kind": "incident", "name": f"Elevated errors on "
            f"{component['name']} ({incident_id})", "status": steps[-1][0], "impact": impact,
            "created_at": started, "updated_at": last, "started_at": started,
            "resolved_at": None if still_open else last, "auto_start": False,
            "auto_complete": False, "to_maintenance_state": False,
            "to_operational_state": False, "remind_prior": False})
        links.append({"incident_id": incident_id, "component_id": component["id"]})
        for step, (status, minutes) in enumerate(steps):
            update_id += 1
            at = started + timedelta(minutes=minutes)
            updates.append({"id": update_id, "incident_id": incident_id, "status": status,
                            **bodies[status].columns("body"), "display_at": at,
                            "created_at": at, "updated_at": at,
                            "deliver_notifications": True, "author": "ops@example.com"})
            if step in (0, len(STEPS) - 1):
                affected.append({
                    "update_id": update_id, "component_id": component["id"],
                    "component_name": component["name"],
                    "old_status": "operational" if step == 0 else "partial_outage",
                    "new_status": "partial_outage" if step == 0 else "operational"})
    _insert(Incident.__table__, incidents)
    _insert(incident_component, links)
    _insert(IncidentUpdate.__table__, updates)
    _insert(AffectedComponent.__table__, affected)


def _maintenance(first_id: int, components: list[dict]) -> None:
    rows = []
    for offset, (name, status, start) in enumerate([
            ("Database upgrade", "scheduled", NOW + timedelta(days=3)),
            ("Network maintenance", "scheduled", NOW + timedelta(days=9)),
            ("Storage move", "completed", NOW - timedelta(days=4))]):
        rows.append({"id": first_id + offset, "kind": "maintenance", "name": name,
                     "status": status, "impact": "maintenance",
                     "created_at": NOW - timedelta(days=10), "updated_at": NOW - timedelta(days=1),
                     "started_at": start, "scheduled_for": start,
                     "scheduled_until": start + timedelta(hours=2),
                     "resolved_at": start + timedelta(hours=2) if status == "completed" else None,
                     "auto_start": True, "auto_complete": True, "to_maintenance_state": True,
                     "to_operational_state": True, "remind_prior": True})
    _insert(Incident.__table__, rows)
    body = stored("We will upgrade the **database** behind the API. Expect short pauses.")
    _insert(IncidentUpdate.__table__, [
        {"incident_id": row["id"], "status": row["status"], **body.columns("body"),
         "display_at": row["created_at"], "created_at": row["created_at"],
         "updated_at": row["created_at"], "deliver_notifications": True} for row in rows])
    _insert(incident_component, [{"incident_id": row["id"], "component_id": components[0]["id"]}
                                 for row in rows])


def _subscribers(count: int) -> None:
    _insert(Subscriber.__table__, [
        {"email": f"subscriber{n}@example.com", "all_components": True,
         "confirmed_at": NOW - timedelta(days=30), "token_version": n + 1,
         "created_at": NOW - timedelta(days=31), "updated_at": NOW - timedelta(days=30)}
        for n in range(count)])


def _advance_sequences() -> None:
    """PostgreSQL's id sequences must follow the ids given here, for the writes that follow."""
    if db.session.get_bind().dialect.name != "postgresql":
        return
    for table in ("component_group", "component", "component_status_change", "incident",
                  "incident_update", "incident_update_component", "subscriber"):
        db.session.execute(sa.text(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
            f"(SELECT coalesce(max(id), 1) FROM {table}))"))


def fill(incidents: int = 5000, subscribers: int = 100_000, seed: int = 9) -> str:
    """Fill an empty, migrated database; returns a write API key for the benchmarks."""
    rng = random.Random(seed)
    components = _components()
    _status_history(components, rng)
    _incidents(incidents, components, rng)
    _advance_sequences()  # the maintenance's updates take ids from the sequence
    _maintenance(incidents + 1, components)
    _subscribers(subscribers)
    _advance_sequences()
    db.session.execute(PageSettings.__table__.update().values(name="Acme", version=1,
                                                              changed_at=NOW))
    db.session.commit()
    _key, token = staff.create_api_key("bench writer", scope="write", actor="bench")
    return token
