"""Signing in to the ops console safely: throttled guesses, sessions that end when they
should, and the second factor."""

from __future__ import annotations

import time
from typing import Any

import pytest
import sqlalchemy as sa
from werkzeug import security

from statuspage import staff
from statuspage.audit import AuditEntry
from statuspage.extensions import limiter
from tests.conftest import TEST_PASSWORD, Actions

WRONG = "not the password at all"


def text(response: Any) -> str:
    return response.get_data(as_text=True)


@pytest.fixture
def hashes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every password check the application makes (each costs ~0.4 s in production)."""
    checked: list[str] = []
    real = security.check_password_hash

    def counting(stored: str, password: str) -> bool:
        checked.append(password)
        return real(stored, password)

    monkeypatch.setattr(staff, "check_password_hash", counting)
    return checked


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The wall clock as the rate limits read it, moved on by adding seconds to ``[0]``."""
    offset = [0.0]
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + offset[0])
    return offset


# --- guessing passwords -------------------------------------------------------------------------

def test_an_account_is_locked_after_five_wrong_passwords_before_any_hashing(
        actions: Actions, admin_user: Any, hashes: list[str]) -> None:
    for _ in range(5):
        response = actions.login(admin_user.email, WRONG)
        assert response.status_code == 200
        assert "Wrong email or password." in text(response)

    locked = actions.login(admin_user.email, WRONG)
    right = actions.login(admin_user.email, TEST_PASSWORD)

    assert locked.status_code == right.status_code == 429
    assert 1 <= int(locked.headers["Retry-After"]) <= 60
    assert len(hashes) == 5  # the refused attempts cost no hashing at all
    assert actions.client.get("/admin/").status_code == 302  # the right password waits too
    limiter.reset()  # the lockout has run out
    assert actions.login(admin_user.email, TEST_PASSWORD).status_code == 302


def test_the_back_off_grows_with_more_failures(actions: Actions, admin_user: Any,
                                             clock: list[float]) -> None:
    waits = []
    for _ in range(3):
        for _ in range(5):
            assert actions.login(admin_user.email, WRONG).status_code == 200
        locked = actions.login(admin_user.email, WRONG)
        assert locked.status_code == 429
        waits.append(int(locked.headers["Retry-After"]))
        clock[0] += waits[-1] + 1  # wait out this lockout
    # A minute after five failures, a quarter of an hour after ten, an hour after fifteen.
    assert waits[0] <= 60 < waits[1] <= 15 * 60 < waits[2] <= 3600


def test_an_unknown_account_is_locked_the_same_way(actions: Actions, db: Any,
                                                  hashes: list[str]) -> None:
    answers = [actions.login("nobody@example.com", WRONG).status_code for _ in range(6)]
    assert answers == [200] * 5 + [429]
    assert len(hashes) == 5


def test_one_client_guessing_many_accounts_is_cut_off(actions: Actions, db: Any,
                                                     hashes: list[str]) -> None:
    answers = [actions.login(f"user{n}@example.com", WRONG).status_code for n in range(21)]
    assert answers == [200] * 20 + [429]
    assert len(hashes) == 20


def test_every_failed_sign_in_is_audited_with_the_client_address(actions: Actions,
                                                                admin_user: Any, db: Any
                                                                ) -> None:
    actions.login(admin_user.email, WRONG)
    actions.login("Nobody@Example.com", WRONG)
    actions.login(admin_user.email, TEST_PASSWORD)

    rows = db.session.execute(sa.select(AuditEntry.actor, AuditEntry.action,
                                        AuditEntry.summary).order_by(AuditEntry.id)).all()
    assert [tuple(r) for r in rows[-3:]] == [
        ("ops@example.com", "user.login_failed", "wrong password, from 127.0.0.1"),
        ("nobody@example.com", "user.login_failed", "no such active user, from 127.0.0.1"),
        ("ops@example.com", "user.login", "from 127.0.0.1"),
    ]


def test_the_lockout_page_is_friendly_and_needs_no_database(actions: Actions, admin_user: Any,
                                                            db: Any) -> None:
    email = admin_user.email
    for _ in range(5):
        actions.login(email, WRONG)
    db.session.remove()

    def down(*args: Any) -> None:
        raise RuntimeError("no statement may run while someone floods the sign-in")

    sa.event.listen(db.engine, "before_cursor_execute", down)
    try:
        response = actions.login(email, WRONG)
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", down)

    assert response.status_code == 429 and response.mimetype == "text/html"
    html = text(response)
    assert "<h1>Too many attempts</h1>" in html
    assert "Wait about 1 minute and try again." in html
    assert response.headers["Content-Security-Policy"].startswith("default-src 'self'")


def test_an_api_client_gets_the_lockout_as_json(actions: Actions, admin_user: Any) -> None:
    for _ in range(5):
        actions.login(admin_user.email, WRONG)
    response = actions.post("/admin/login", {"email": admin_user.email, "password": WRONG},
                            headers={"Accept": "application/json"})
    assert response.status_code == 429 and response.is_json
    assert response.get_json()["error"] == "Too Many Requests"
    assert int(response.headers["Retry-After"]) >= 1


# --- sessions end when they should --------------------------------------------------------------

def copied_session(app: Any, actions: Actions) -> Any:
    """A second browser holding a copy of ``actions``' session cookie, as a thief would."""
    thief = app.test_client()
    thief.set_cookie("session", actions.client.get_cookie("session").value)
    return thief


def test_a_session_cookie_copied_before_sign_out_is_refused_after(app: Any, logged_in: Actions
                                                                  ) -> None:
    thief = copied_session(app, logged_in)
    assert thief.get("/admin/settings").status_code == 200

    logged_in.logout()

    refused = thief.get("/admin/settings")
    assert refused.status_code == 302 and refused.headers["Location"].startswith("/admin/login")


@pytest.mark.parametrize("change", [{"password": "a brand new password"}, {"role": "editor"},
                                    {"active": False}])
def test_a_change_of_password_role_or_active_ends_every_session_of_that_user(
        app: Any, logged_in: Actions, make_user: Any, change: dict[str, Any]) -> None:
    other = make_user("second@example.com", role="admin")
    browser = Actions(app, app.test_client())
    assert browser.login("second@example.com").status_code == 302
    thief = copied_session(app, browser)

    staff.update_user(other, actor="ops@example.com", **change)

    for client in (browser.client, thief):
        assert client.get("/admin/").status_code == 302
    assert logged_in.client.get("/admin/").status_code == 200  # other users stay signed in


def test_an_unchanged_role_keeps_the_session(app: Any, logged_in: Actions, admin_user: Any
                                             ) -> None:
    staff.update_user(admin_user, actor="ops@example.com", role="admin")
    assert logged_in.client.get("/admin/").status_code == 200


def test_a_session_from_before_session_generations_is_refused(app: Any, admin_user: Any
                                                              ) -> None:
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = str(admin_user.id)  # the bare id sessions used to carry
        session["_fresh"] = True
    assert client.get("/admin/").status_code == 302
