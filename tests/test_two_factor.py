"""Two-factor sign-in for ops staff: TOTP from an authenticator app, recovery codes, and the
admins' rule that everyone must use it."""

from __future__ import annotations

import re
import time
from datetime import timedelta
from html import unescape
from typing import Any

import pyotp
import pytest
import sqlalchemy as sa

from statuspage import staff, two_factor
from statuspage.audit import AuditEntry
from statuspage.dbtypes import utcnow
from tests.conftest import Actions


def text(response: Any) -> str:
    return unescape(response.get_data(as_text=True))


def enrol(actions: Actions) -> tuple[str, list[str]]:
    """Set up two-factor sign-in through the console; the secret and the recovery codes."""
    page = text(actions.post("/admin/account/two-factor/start", follow_redirects=True))
    secret = re.search(r'<code class="totp-secret">([A-Z2-7 ]+)</code>', page).group(1)
    secret = secret.replace(" ", "")
    done = actions.post("/admin/account/two-factor/confirm",
                        {"code": pyotp.TOTP(secret).now()})
    assert done.status_code == 200, text(done)
    codes = re.findall(r'<li><code class="recovery-code">([a-z0-9-]+)</code></li>', text(done))
    return secret, codes


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The wall clock, moved on by adding seconds to ``[0]``."""
    offset = [0.0]
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + offset[0])
    return offset


def code_after(secret: str, seconds: float) -> str:
    """The code the app shows ``seconds`` from now."""
    return pyotp.TOTP(secret).at(time.time() + seconds)


# --- enrolment ----------------------------------------------------------------------------------

def test_enrolment_shows_a_qr_code_and_the_recovery_codes_once(logged_in: Actions, db: Any
                                                                ) -> None:
    page = text(logged_in.post("/admin/account/two-factor/start", follow_redirects=True))
    assert re.search(r"<svg [^>]*class=\"totp-qr\"", page)  # drawn here, no other site
    assert "style=" not in page

    secret, codes = enrol(logged_in)

    assert len(codes) == 10 and len(set(codes)) == 10
    assert all(re.fullmatch(r"[a-z0-9]{4}(-[a-z0-9]{4}){3}", c) for c in codes)
    user = staff.find_user_by_email("ops@example.com")
    assert user.two_factor_enabled
    stored = db.session.scalars(sa.select(two_factor.RecoveryCode.code_hash)).all()
    assert not {c.replace("-", "") for c in codes} & set(stored)  # only hashes are kept
    again = text(logged_in.client.get("/admin/account"))
    assert codes[0] not in again and "10 recovery codes left" in again


def test_a_wrong_code_does_not_turn_it_on(logged_in: Actions, db: Any) -> None:
    logged_in.post("/admin/account/two-factor/start")
    response = logged_in.post("/admin/account/two-factor/confirm", {"code": "000000"})
    assert response.status_code == 422
    assert "That code is not right" in text(response)
    assert not staff.find_user_by_email("ops@example.com").two_factor_enabled


def test_turning_it_on_ends_the_users_other_sessions(app: Any, logged_in: Actions) -> None:
    other = app.test_client()
    other.set_cookie("session", logged_in.client.get_cookie("session").value)
    enrol(logged_in)
    assert other.get("/admin/").status_code == 302
    assert logged_in.client.get("/admin/").status_code == 200  # this one is signed in again


# --- signing in with it -------------------------------------------------------------------------

@pytest.fixture
def enrolled(app: Any, logged_in: Actions) -> tuple[str, list[str]]:
    """The admin has two-factor sign-in and is signed out."""
    found = enrol(logged_in)
    logged_in.logout()
    return found


def test_sign_in_asks_for_the_code_after_the_password(actions: Actions,
                                                     enrolled: tuple[str, list[str]]) -> None:
    secret, _codes = enrolled
    first = actions.login()
    assert first.status_code == 302 and first.headers["Location"] == "/admin/login/code"
    assert actions.client.get("/admin/").status_code == 302  # not signed in yet

    done = actions.post("/admin/login/code", {"code": code_after(secret, 30)})

    assert done.status_code == 302 and done.headers["Location"] == "/admin/"
    assert actions.client.get("/admin/").status_code == 200


def test_a_code_is_accepted_once(actions: Actions, enrolled: tuple[str, list[str]]) -> None:
    secret, _codes = enrolled
    code = code_after(secret, 30)
    actions.login()
    assert actions.post("/admin/login/code", {"code": code}).status_code == 302
    actions.logout()
    actions.login()
    replay = actions.post("/admin/login/code", {"code": code})
    assert replay.status_code == 422 and "That code is not right" in text(replay)


def test_a_recovery_code_signs_in_once(actions: Actions, enrolled: tuple[str, list[str]]
                                       ) -> None:
    _secret, codes = enrolled
    actions.login()
    assert actions.post("/admin/login/code", {"code": codes[3].upper()}).status_code == 302
    actions.logout()
    actions.login()
    assert actions.post("/admin/login/code", {"code": codes[3]}).status_code == 422
    assert actions.post("/admin/login/code", {"code": codes[4]}).status_code == 302
    assert "8 recovery codes left" in text(actions.client.get("/admin/account"))


def test_guessing_codes_is_throttled_and_audited(actions: Actions, db: Any,
                                                 enrolled: tuple[str, list[str]]) -> None:
    actions.login()
    answers = [actions.post("/admin/login/code", {"code": "123456"}).status_code
               for _ in range(6)]
    assert answers == [422] * 5 + [429]
    failures = db.session.scalars(sa.select(AuditEntry.summary).where(
        AuditEntry.action == "user.login_failed")).all()
    assert failures == ["wrong code, from 127.0.0.1"] * 5


def test_the_second_step_expires(actions: Actions, enrolled: tuple[str, list[str]],
                                 clock: list[float]) -> None:
    secret, _codes = enrolled
    actions.login()
    clock[0] += 6 * 60
    response = actions.post("/admin/login/code", {"code": code_after(secret, 0)})
    assert response.status_code == 302 and response.headers["Location"] == "/admin/login"


def test_the_code_page_without_a_password_first_goes_back_to_sign_in(client: Any, db: Any
                                                                      ) -> None:
    response = client.get("/admin/login/code")
    assert response.status_code == 302 and response.headers["Location"] == "/admin/login"


# --- the rule for everyone ----------------------------------------------------------------------

def test_an_admin_can_require_it_and_staff_without_it_must_enrol(app: Any, logged_in: Actions,
                                                                 make_user: Any) -> None:
    make_user("editor@example.com", role="editor")
    response = logged_in.post("/admin/staff/two-factor", {"required": "1"})
    assert response.status_code == 302
    assert two_factor.two_factor_required()

    editor = Actions(app, app.test_client())
    assert editor.login("editor@example.com").status_code == 302
    for path in ("/admin/", "/admin/incidents", "/admin/components"):
        sent = editor.client.get(path)
        assert sent.status_code == 302 and sent.headers["Location"] == "/admin/account"
    assert "Two-factor sign-in is required" in text(editor.client.get("/admin/account"))

    enrol(editor)
    assert editor.client.get("/admin/incidents").status_code == 200


def test_it_cannot_be_turned_off_while_required(logged_in: Actions,
                                                db: Any) -> None:
    secret, _codes = enrol(logged_in)
    two_factor.set_two_factor_required(True, actor="ops@example.com")
    response = logged_in.post("/admin/account/two-factor/disable",
                              {"code": code_after(secret, 30)})
    assert "required for everyone" in text(response)
    assert staff.find_user_by_email("ops@example.com").two_factor_enabled


def test_an_admin_resets_a_lost_phone_and_the_users_sessions_end(
        app: Any, logged_in: Actions, make_user: Any) -> None:
    editor_user = make_user("editor@example.com", role="editor")
    editor = Actions(app, app.test_client())
    editor.login("editor@example.com")
    enrol(editor)

    response = logged_in.post(f"/admin/staff/{editor_user.id}/two-factor/reset")

    assert response.status_code == 302
    assert not staff.find_user_by_email("editor@example.com").two_factor_enabled
    assert editor.client.get("/admin/").status_code == 302
    assert editor.login("editor@example.com").headers["Location"] == "/admin/"


def test_only_admins_require_it_or_reset_it(app: Any, admin_user: Any, make_user: Any) -> None:
    make_user("editor@example.com", role="editor")
    editor = Actions(app, app.test_client())
    editor.login("editor@example.com")
    assert editor.post("/admin/staff/two-factor", {"required": "1"}).status_code == 403
    assert editor.post(f"/admin/staff/{admin_user.id}/two-factor/reset").status_code == 403


def test_codes_are_checked_against_the_time_they_are_given_at(db: Any, make_user: Any) -> None:
    user = make_user()
    secret = two_factor.begin_two_factor(user)
    now = utcnow()
    two_factor.enable_two_factor(user, pyotp.TOTP(secret).at(now), now=now)
    later = now + timedelta(minutes=5)
    assert two_factor.check_second_factor(user, pyotp.TOTP(secret).at(later), now=later)
    assert not two_factor.check_second_factor(user, pyotp.TOTP(secret).at(now),
                                              now=later + timedelta(minutes=5))


def test_the_command_line_resets_a_lost_second_factor(runner: Any, logged_in: Actions) -> None:
    enrol(logged_in)
    result = runner.invoke(args=["reset-two-factor", "OPS@example.com"])
    assert result.exit_code == 0, result.output
    assert "ops@example.com now signs in with the password alone." in result.output
    assert not staff.find_user_by_email("ops@example.com").two_factor_enabled
    assert runner.invoke(args=["reset-two-factor", "nobody@example.com"]).exit_code == 1
