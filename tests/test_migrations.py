"""The migrations build the schema the models describe, from nothing and back."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask_migrate import downgrade, upgrade
from sqlalchemy.engine import make_url

from statuspage import ROOT, create_app
from statuspage.extensions import db


@pytest.fixture
def empty_database_url(tmp_path) -> Iterator[str]:
    """A database of its own, so the shared test schema is left alone."""
    base = os.environ.get("STATUSPAGE_TEST_DATABASE_URL")
    if not base:
        yield f"sqlite:///{tmp_path / 'migrations.db'}"
        return
    url = make_url(base)
    name = f"{url.database}_migrations"
    admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_migrations_have_a_single_head():
    script = ScriptDirectory(str(ROOT / "migrations"))
    assert len(script.get_heads()) == 1


def test_upgrade_matches_the_models_and_downgrades_to_base(empty_database_url):
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": empty_database_url})
    with app.app_context():
        upgrade()
        with db.engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"compare_type": True, "render_as_batch": True})
            diff = compare_metadata(context, db.metadata)
            page_rows = connection.execute(sa.text("SELECT count(*) FROM page_settings")).scalar()
        assert diff == [], f"models and migrations disagree: {diff}"
        assert page_rows == 1
        downgrade(revision="base")
        with db.engine.connect() as connection:
            left = set(sa.inspect(connection).get_table_names()) - {"alembic_version"}
        assert left == set()
        db.engine.dispose()


def test_upgrade_renders_the_markdown_of_updates_and_postmortems_already_stored(
        empty_database_url):
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": empty_database_url})
    when = datetime(2026, 1, 1, tzinfo=UTC)
    flags = dict.fromkeys(("auto_start", "auto_complete", "to_maintenance_state",
                           "to_operational_state", "remind_prior"), False)
    with app.app_context():
        upgrade(revision="0003")
        with db.engine.begin() as connection:
            connection.execute(sa.text(
                "INSERT INTO incident (id, kind, name, status, impact, created_at, updated_at, "
                "started_at, postmortem_body, auto_start, auto_complete, to_maintenance_state, "
                "to_operational_state, remind_prior) VALUES (1, 'incident', 'Old', 'resolved', "
                "'none', :t, :t, :t, 'A *full* disk.', :auto_start, :auto_complete, "
                ":to_maintenance_state, :to_operational_state, :remind_prior)"),
                {"t": when, **flags})
            for update_id, body in ((1, "**Fixed** & done."), (2, "")):
                connection.execute(sa.text(
                    "INSERT INTO incident_update (id, incident_id, status, body, display_at, "
                    "created_at, updated_at, deliver_notifications) VALUES (:id, 1, 'resolved', "
                    ":body, :t, :t, :t, :no)"), {"id": update_id, "body": body, "t": when,
                                                 "no": False})
        upgrade()
        with db.engine.connect() as connection:
            updates = connection.execute(sa.text(
                "SELECT body_html, body_text FROM incident_update ORDER BY id")).all()
            postmortem = connection.execute(sa.text(
                "SELECT postmortem_html FROM incident")).scalar()
        downgrade(revision="base")
        db.engine.dispose()
    assert [tuple(row) for row in updates] == [
        ("<p><strong>Fixed</strong> &amp; done.</p>", "Fixed & done."), ("", "")]
    assert postmortem == "<p>A <em>full</em> disk.</p>"
def test_existing_subscribers_get_public_ids_of_their_own(empty_database_url):
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": empty_database_url})
    with app.app_context():
        upgrade(revision="0003")
        with db.engine.begin() as connection:
            for n in range(3):
                connection.execute(sa.text(
                    "INSERT INTO subscriber (email, all_components, token_version, created_at, "
                    "updated_at) VALUES (:email, true, 7, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"),
                    {"email": f"reader{n}@example.com"})
        upgrade()
        with db.engine.connect() as connection:
            ids = list(connection.execute(sa.text("SELECT public_id FROM subscriber")).scalars())
        assert len(ids) == len(set(ids)) == 3 and all(len(i) == 16 for i in ids)
        downgrade(revision="base")
        db.engine.dispose()


def test_duplicate_follows_of_one_address_are_ended_but_the_oldest(empty_database_url):
    from statuspage import incidents
    from statuspage.subscriptions import Subscriber

    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": empty_database_url})
    with app.app_context():
        upgrade(revision="0009")  # the models are 0010's schema without its index
        incident = incidents.open_incident("Outage", body="Down.")
        for email, incident_id in [("a@example.com", incident.id), ("a@example.com", incident.id),
                                   ("a@example.com", incident.id), ("b@example.com", incident.id),
                                   ("a@example.com", None)]:
            db.session.add(Subscriber(email=email, incident_id=incident_id))
        db.session.commit()
        db.session.remove()
        upgrade()
        with db.engine.connect() as connection:
            still_open = list(connection.execute(sa.text(
                "SELECT ended_at IS NULL FROM subscriber ORDER BY id")).scalars())
        assert still_open == [True, False, False, True, True]
        downgrade(revision="base")
        db.engine.dispose()
