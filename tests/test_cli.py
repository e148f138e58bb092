"""The flask commands, run as a shell would run them."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from statuspage import create_app, demo, staff
from statuspage import maintenance as maint
from statuspage.dbtypes import utcnow
from statuspage.vocabulary import ComponentStatus, MaintenanceStatus

PASSWORD = "a long enough password"
NO_PASSWORD_ENV = {"STATUSPAGE_PASSWORD": None, "STATUSPAGE_DEMO_PASSWORD": None}


def row_counts(db: Any) -> dict[str, int]:
    return {table.name: db.session.scalar(sa.select(sa.func.count()).select_from(table))
            for table in db.metadata.sorted_tables}


def test_create_user_reads_the_password_from_the_environment(runner: Any, db: Any) -> None:
    result = runner.invoke(args=["create-user", "Lead@Example.com", "--role", "admin"],
                           env={"STATUSPAGE_PASSWORD": PASSWORD})
    assert result.exit_code == 0, result.output
    assert "Created admin lead@example.com." in result.output
    assert "Password" not in result.output
    user = staff.authenticate("lead@example.com", PASSWORD)
    assert user is not None and user.is_admin


def test_create_user_asks_for_the_password_twice_when_none_is_given(runner: Any, db: Any
                                                                    ) -> None:
    result = runner.invoke(args=["create-user", "editor@example.com"], env=NO_PASSWORD_ENV,
                           input=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert "Password:" in result.output and "Repeat for confirmation:" in result.output
    assert PASSWORD not in result.output  # typed, not echoed
    user = staff.authenticate("editor@example.com", PASSWORD)
    assert user is not None and user.role is staff.Role.EDITOR


def test_create_user_asks_again_when_the_two_passwords_differ(runner: Any, db: Any) -> None:
    result = runner.invoke(args=["create-user", "editor@example.com"], env=NO_PASSWORD_ENV,
                           input=f"{PASSWORD}\nsomething else\n{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert "do not match" in result.output
    assert staff.authenticate("editor@example.com", PASSWORD) is not None


def test_create_user_refuses_an_address_that_exists_already(runner: Any, db: Any,
                                                            make_user: Any) -> None:
    make_user("ops@example.com")
    result = runner.invoke(args=["create-user", "OPS@example.com"],
                           env={"STATUSPAGE_PASSWORD": PASSWORD})
    assert result.exit_code == 1
    assert "Error: A user with this email address exists already." in result.output
    assert len(staff.all_users()) == 1


@pytest.mark.parametrize(("args", "password", "message"), [
    (["create-user", "ops@example.com"], "short", "Password must be at least 10 characters."),
    (["create-user", "not an address"], PASSWORD, "Enter a valid email address."),
    (["create-user", "ops@example.com", "--role", "owner"], PASSWORD, "'owner' is not one of"),
])
def test_create_user_refuses_bad_input_clearly_and_creates_nobody(
    runner: Any, db: Any, args: list[str], password: str, message: str,
) -> None:
    result = runner.invoke(args=args, env={"STATUSPAGE_PASSWORD": password})
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output
    assert staff.all_users() == []


def test_demo_data_loads_once_and_prints_a_login_that_works(runner: Any, db: Any) -> None:
    first = runner.invoke(args=["demo-data"], env=NO_PASSWORD_ENV)
    assert first.exit_code == 0, first.output
    match = re.search(r"Demo ops login: (\S+) / (\S+)", first.output)
    assert match, first.output
    email, password = match.groups()
    assert email == demo.DEMO_EMAIL and len(password) >= staff.PASSWORD_MIN
    assert staff.authenticate(email, password) is not None
    counts = row_counts(db)
    assert counts["component"] > 10 and counts["incident"] > 4

    second = runner.invoke(args=["demo-data"], env=NO_PASSWORD_ENV)
    assert second.exit_code == 0, second.output
    assert "already has data" in second.output
    assert "Demo ops login" not in second.output
    db.session.expire_all()
    assert row_counts(db) == counts


def test_demo_data_takes_its_password_from_the_environment(runner: Any, db: Any) -> None:
    result = runner.invoke(args=["demo-data"], env={"STATUSPAGE_DEMO_PASSWORD": PASSWORD})
    assert result.exit_code == 0, result.output
    assert f"{demo.DEMO_EMAIL} / {PASSWORD}" in result.output
    assert staff.authenticate(demo.DEMO_EMAIL, PASSWORD) is not None


def test_demo_data_refuses_a_short_password_and_writes_nothing(runner: Any, db: Any) -> None:
    result = runner.invoke(args=["demo-data", "--login-password", "short"])
    assert result.exit_code == 1
    assert "Error: Password must be at least 10 characters." in result.output
    assert demo.is_empty()


def test_worker_once_starts_and_completes_due_maintenance(
    runner: Any, db: Any, make_component: Any, make_maintenance: Any,
) -> None:
    now = utcnow()
    database = make_component("Database")
    archive = make_component("Archive")
    due = make_maintenance("Failover test", scheduled_for=now - timedelta(minutes=1),
                           scheduled_until=now + timedelta(hours=1), component_ids=[database.id])
    over = make_maintenance("Archive move", scheduled_for=now - timedelta(hours=3),
                            scheduled_until=now - timedelta(hours=1), component_ids=[archive.id])
    later = make_maintenance("Next week", scheduled_for=now + timedelta(days=7))

    result = runner.invoke(args=["worker", "--once"])

    assert result.exit_code == 0, result.output
    db.session.expire_all()
    assert (due.status, database.status) == ("in_progress", ComponentStatus.UNDER_MAINTENANCE)
    assert (over.status, archive.status) == ("completed", ComponentStatus.OPERATIONAL)
    assert later.status == "scheduled"
    assert {u.author for m in (due, over) for u in m.updates[:1]} == {"scheduler"}


def test_worker_once_with_nothing_due_leaves_incidents_and_components_alone(
    runner: Any, db: Any, make_component: Any, make_maintenance: Any,
) -> None:
    make_maintenance("Next week", scheduled_for=utcnow() + timedelta(days=7),
                     component_ids=[make_component("API").id])
    domain = ("incident", "incident_update", "component_status_change", "audit_entry")
    before = {name: row_counts(db)[name] for name in domain}
    result = runner.invoke(args=["worker", "--once"])
    assert result.exit_code == 0, result.output
    assert {name: row_counts(db)[name] for name in domain} == before
    assert maint.windows([MaintenanceStatus.SCHEDULED])[0].name == "Next week"


def test_check_settings_prints_every_setting_but_hides_secrets() -> None:
    app = create_app({
        "TESTING": True,
        "SECRET_KEY": "very-secret-key-6d2f8b0e4a9c1735",
        "SECRET_KEY_FALLBACKS": ["retired-key-3a7c1e9b5d0f2846aa"],
        "MAIL_PASSWORD": "smtp-secret",
        "MAIL_PORT": 2525,
        "SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://status:db-secret@db.internal/status",
    })
    result = app.test_cli_runner().invoke(args=["check-settings"])
    assert result.exit_code == 0, result.output
    for secret in ("very-secret-key-6d2f8b0e4a9c1735", "retired-key", "smtp-secret",
                   "db-secret"):
        assert secret not in result.output
    lines = result.output.splitlines()
    assert "SECRET_KEY = '(set)'" in lines
    assert "SECRET_KEY_FALLBACKS = '(set)'" in lines
    assert "MAIL_PASSWORD = '(set)'" in lines
    assert "MAIL_USERNAME = None" in lines
    assert "MAIL_PORT = 2525" in lines
    assert "DATABASE_URL = 'postgresql+psycopg://status:***@db.internal/status'" in lines


def test_flask_routes_lists_the_management_api_under_both_roots(runner: Any) -> None:
    from flask.cli import routes_command

    result = runner.invoke(routes_command)
    assert result.exit_code == 0, result.output
    rules = {line.split()[-1] for line in result.output.splitlines()[2:] if line.strip()}
    for root in ("/api/v1", "/v1"):
        assert any(r.startswith(f"{root}/pages/<page_id>/incidents") for r in rules), root
        assert any(r.startswith(f"{root}/pages/<page_id>/subscribers") for r in rules), root
    assert "/api/v2/summary.json" in rules
