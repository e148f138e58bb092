"""Ops users: creation, authentication, roles, and the last-admin rule."""

from __future__ import annotations

import pytest

from statuspage import staff
from statuspage.validation import Conflict, ValidationError
from tests.conftest import TEST_PASSWORD


@pytest.mark.real_password_hashes
def test_passwords_are_stored_with_scrypt(db, make_user):
    user = make_user("Ops@Example.com")
    assert user.email == "ops@example.com"
    assert user.password_hash.startswith("scrypt:")
    assert TEST_PASSWORD not in user.password_hash
    assert staff.authenticate("ops@example.com", TEST_PASSWORD) == user


def test_authenticate_accepts_only_the_right_password(db, make_user):
    user = make_user()
    assert staff.authenticate("OPS@example.com", TEST_PASSWORD) == user
    assert user.last_login_at is not None
    assert staff.authenticate("ops@example.com", "wrong password") is None
    assert staff.authenticate("nobody@example.com", TEST_PASSWORD) is None


def test_an_inactive_user_cannot_sign_in(db, make_user):
    make_user("boss@example.com", role="admin")
    user = make_user("temp@example.com", role="editor")
    staff.update_user(user, active=False)
    assert staff.authenticate("temp@example.com", TEST_PASSWORD) is None


@pytest.mark.parametrize(
    ("email", "password", "role", "field"),
    [
        ("not-an-address", TEST_PASSWORD, "editor", "email"),
        ("", TEST_PASSWORD, "editor", "email"),
        ("a@example.com", "short", "editor", "password"),
        ("a@example.com", TEST_PASSWORD, "owner", "role"),
    ],
)
def test_bad_user_input_is_refused(db, email, password, role, field):
    with pytest.raises(ValidationError) as caught:
        staff.create_user(email, password, role=role)
    assert caught.value.field == field
    db.session.rollback()
    assert staff.all_users() == []


def test_a_second_account_for_one_address_is_refused(db, make_user):
    make_user("ops@example.com")
    with pytest.raises(Conflict):
        make_user("OPS@example.com")


def test_the_last_admin_cannot_be_demoted_deactivated_or_deleted(db, make_user):
    admin = make_user("ops@example.com", role="admin")
    editor = make_user("ed@example.com", role="editor")
    for change in ({"role": "editor"}, {"active": False}):
        with pytest.raises(Conflict):
            staff.update_user(admin, **change)
    with pytest.raises(Conflict):
        staff.delete_user(admin)
    assert staff.get_user(admin.id).is_admin and staff.get_user(admin.id).active
    staff.update_user(editor, role="admin")
    staff.update_user(admin, role="editor")
    assert not staff.get_user(admin.id).is_admin


def test_the_audit_log_pages_newest_first(db, make_user):
    make_user("ops@example.com")
    for n in range(3):
        make_user(f"user{n}@example.com", role="editor")
    entries, more = staff.audit_log(per_page=2)
    assert [e.summary for e in entries] == ["user2@example.com (editor)",
                                            "user1@example.com (editor)"]
    assert more
    entries, more = staff.audit_log(page=2, per_page=2)
    assert len(entries) == 2 and not more
