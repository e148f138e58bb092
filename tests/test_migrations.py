"""The migrations build the schema the models describe, from nothing and back."""

from __future__ import annotations

import os
from collections.abc import Iterator

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
