"""API keys: stored hashed, shown once, revocable, scoped; the command and the console pages."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from statuspage import staff
from statuspage.audit import AuditEntry
from statuspage.dbtypes import utcnow
from statuspage.site import get_page_settings
from statuspage.validation import ValidationError
from tests.conftest import form_errors


def stored_row(db: Any, key_id: int) -> dict[str, Any]:
    return dict(db.session.execute(sa.text("SELECT * FROM api_key WHERE id = :id"),
                                   {"id": key_id}).mappings().one())


def test_only_a_hash_and_a_short_prefix_of_a_key_are_stored(db: Any) -> None:
    key, token = staff.create_api_key("deploy bot", scope="write", actor="ops@example.com")
    assert token.startswith("sp_") and len(token) > 40
    row = stored_row(db, key.id)
    assert token not in {str(v) for v in row.values()}
    assert row["key_hash"] == hashlib.sha256(token.encode()).hexdigest()
    assert row["prefix"] == token[:11] and len(row["prefix"]) < len(token) // 3
    assert (row["scope"], row["name"], row["created_by"]) == ("write", "deploy bot",
                                                              "ops@example.com")
    audit = db.session.scalars(sa.select(AuditEntry.summary)).all()
    assert not any(token in line for line in audit)


def test_two_keys_never_share_a_token(db: Any) -> None:
    tokens = {staff.create_api_key(f"key {n}")[1] for n in range(5)}
    assert len(tokens) == 5


def test_a_key_authenticates_only_exactly_as_issued(db: Any) -> None:
    key, token = staff.create_api_key("bot")
    assert staff.authenticate_api_key(token) == key
    assert staff.authenticate_api_key(token[:-1]) is None
    assert staff.authenticate_api_key(token + "x") is None
    assert staff.authenticate_api_key(token[:11] + "A" * 43) is None
    assert staff.authenticate_api_key("") is None
    assert staff.authenticate_api_key(None) is None


def test_a_revoked_key_no_longer_authenticates_but_stays_listed(db: Any) -> None:
    key, token = staff.create_api_key("bot")
    other, _ = staff.create_api_key("other")
    staff.revoke_api_key(key, actor="ops@example.com")
    assert staff.authenticate_api_key(token) is None
    assert key.revoked_at is not None and not key.active
    assert staff.all_api_keys() == [other, key]  # active first


def test_using_a_key_records_when_it_was_last_used_at_most_once_a_minute(db: Any) -> None:
    key, token = staff.create_api_key("bot")
    assert key.last_used_at is None
    first = utcnow()
    staff.authenticate_api_key(token, now=first)
    assert key.last_used_at == first
    staff.authenticate_api_key(token, now=first + timedelta(seconds=10))
    assert key.last_used_at == first
    later = first + timedelta(minutes=2)
    staff.authenticate_api_key(token, now=later)
    assert stored_row(db, key.id)["last_used_at"] is not None
    db.session.expire_all()
    assert staff.get_api_key(key.id).last_used_at == later


@pytest.mark.parametrize(("name", "scope", "field"), [
    ("", "read", "name"), ("x" * 101, "read", "name"), ("bot", "admin", "scope"),
    ("bot\nline", "write", "name"),
])
def test_a_key_needs_a_name_and_a_known_scope(db: Any, name: str, scope: str,
                                              field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        staff.create_api_key(name, scope=scope)
    assert caught.value.field == field
    assert staff.all_api_keys() == []


def test_an_api_request_records_the_last_use(client: Any, db: Any) -> None:
    key, token = staff.create_api_key("bot")
    response = client.get("/v1/pages", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    db.session.expire_all()
    assert staff.get_api_key(key.id).last_used_at is not None


# --- the command ----------------------------------------------------------------------------------

def test_the_command_prints_a_working_key_once(runner: Any, client: Any, db: Any) -> None:
    result = runner.invoke(args=["create-api-key", "on-call bot", "--scope", "write"])
    assert result.exit_code == 0, result.output
    [token] = re.findall(r"^sp_\S+$", result.output, re.M)
    assert "not shown again" in result.output
    [key] = staff.all_api_keys()
    assert (key.name, key.scope, key.created_by) == ("on-call bot", staff.ApiKeyScope.WRITE,
                                                     "cli")
    page_id = get_page_settings().page_code
    created = client.post(f"/api/v1/pages/{page_id}/components",
                          headers={"Authorization": f"OAuth {token}"},
                          json={"component": {"name": "API"}})
    assert created.status_code == 201


def test_the_command_makes_read_keys_unless_told_otherwise(runner: Any, db: Any) -> None:
    result = runner.invoke(args=["create-api-key", "dashboard"])
    assert result.exit_code == 0, result.output
    assert staff.all_api_keys()[0].scope is staff.ApiKeyScope.READ


def test_the_command_refuses_an_unknown_scope_or_an_empty_name(runner: Any, db: Any) -> None:
    assert runner.invoke(args=["create-api-key", "bot", "--scope", "root"]).exit_code != 0
    result = runner.invoke(args=["create-api-key", "  "])
    assert result.exit_code != 0 and "Name must not be empty." in result.output
    assert staff.all_api_keys() == []


# --- the console ----------------------------------------------------------------------------------

def test_an_admin_creates_a_key_and_sees_it_once(logged_in: Any, db: Any) -> None:
    response = logged_in.post("/admin/api-keys", {"name": "deploy bot", "scope": "write"})
    assert response.status_code == 201
    assert response.headers["Cache-Control"] == "no-store"
    html = response.get_data(as_text=True)
    [token] = re.findall(r'id="new-api-key">(sp_[^<]+)<', html)
    [key] = staff.all_api_keys()
    assert staff.authenticate_api_key(token) == key
    assert key.created_by == "ops@example.com" and key.scope is staff.ApiKeyScope.WRITE

    listing = logged_in.client.get("/admin/api-keys").get_data(as_text=True)
    assert token not in listing
    assert key.prefix in listing and "deploy bot" in listing and "ops@example.com" in listing
    assert "write" in listing
    assert 'href="/admin/api-keys"' in listing  # in the navigation


def test_the_console_lists_when_a_key_was_last_used(logged_in: Any, db: Any) -> None:
    key, token = staff.create_api_key("bot")
    assert "never" in logged_in.client.get("/admin/api-keys").get_data(as_text=True)
    staff.authenticate_api_key(token)
    html = logged_in.client.get("/admin/api-keys").get_data(as_text=True)
    assert "never" not in html and "<time" in html


def test_creating_a_key_without_a_name_shows_the_error_and_creates_nothing(logged_in: Any,
                                                                           db: Any) -> None:
    response = logged_in.post("/admin/api-keys", {"name": "", "scope": "read"})
    assert response.status_code == 422
    assert "Name must not be empty." in form_errors(response.get_data(as_text=True))
    response = logged_in.post("/admin/api-keys", {"name": "bot", "scope": "root"})
    assert response.status_code == 422
    assert staff.all_api_keys() == []


def test_an_admin_revokes_a_key_after_confirming(logged_in: Any, client: Any, db: Any) -> None:
    key, token = staff.create_api_key("bot")
    question = logged_in.client.get(f"/admin/api-keys/{key.id}/revoke")
    assert question.status_code == 200 and "Revoke API key" in question.get_data(as_text=True)
    assert staff.authenticate_api_key(token) is not None
    response = logged_in.post(f"/admin/api-keys/{key.id}/revoke")
    assert response.status_code == 302
    assert staff.authenticate_api_key(token) is None
    assert client.get("/v1/pages", headers={"Authorization": f"OAuth {token}"}
                      ).status_code == 401
    assert "revoked" in logged_in.client.get("/admin/api-keys").get_data(as_text=True)


def test_revoking_needs_the_csrf_token(logged_in: Any, db: Any) -> None:
    key, token = staff.create_api_key("bot")
    assert logged_in.client.post(f"/admin/api-keys/{key.id}/revoke").status_code == 400
    assert staff.authenticate_api_key(token) is not None


def test_editors_may_not_see_create_or_revoke_keys(actions: Any, make_user: Any,
                                                   db: Any) -> None:
    make_user("editor@example.com", role="editor")
    key, token = staff.create_api_key("bot")
    actions.login("editor@example.com")
    assert actions.client.get("/admin/api-keys").status_code == 403
    assert actions.post("/admin/api-keys", {"name": "x", "scope": "write"}).status_code == 403
    assert actions.post(f"/admin/api-keys/{key.id}/revoke").status_code == 403
    assert [k.name for k in staff.all_api_keys()] == ["bot"]
    assert staff.authenticate_api_key(token) is not None
    assert 'href="/admin/api-keys"' not in actions.client.get("/admin/").get_data(as_text=True)


def test_signed_out_visitors_are_sent_to_sign_in(client: Any, db: Any) -> None:
    response = client.get("/admin/api-keys")
    assert response.status_code == 302 and "/admin/login" in response.headers["Location"]


# --- subscriber addresses: a scope of their own, every listing audited ---------------------------

@pytest.fixture
def subscribers_api(client: Any, db: Any) -> Any:
    """Call the management API with a key of one scope: ``call(scope, method, path)``."""
    from statuspage import subscriptions

    subscriptions.add_subscriber("reader@example.com", confirmed=True)
    page = get_page_settings().page_code
    tokens = {"read": staff.create_api_key("dash", scope="read")[1],
              "write": staff.create_api_key("bot", scope="write")[1],
              "read+subscribers": staff.create_api_key("crm", scope="read",
                                                       subscribers=True)[1],
              "write+subscribers": staff.create_api_key("sync", scope="write",
                                                        subscribers=True)[1]}

    def call(scope: str, method: str, path: str, **kwargs: Any) -> Any:
        return client.open(f"/api/v1/pages/{page}{path}", method=method,
                           headers={"Authorization": f"OAuth {tokens[scope]}"}, **kwargs)

    return call


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/subscribers"), ("GET", "/subscribers/1"), ("GET", "/subscribers?q=reader"),
    ("POST", "/subscribers"), ("DELETE", "/subscribers/1"),
    ("POST", "/subscribers/1/resend_confirmation"),
])
@pytest.mark.parametrize("scope", ["read", "write"])
def test_keys_without_the_subscribers_scope_never_see_an_address(
        subscribers_api: Any, db: Any, scope: str, method: str, path: str) -> None:
    response = subscribers_api(scope, method, path, json={"subscriber": {"email": "x@y.io"}})
    assert response.status_code == 403 and response.is_json
    # A read key trying to write is told about the write scope first.
    message = response.get_json()["message"]
    assert "subscribers scope" in message or (scope == "read" and "write scope" in message)
    assert b"reader@example.com" not in response.data


def test_a_key_with_the_subscribers_scope_lists_them_and_the_listing_is_audited(
        subscribers_api: Any, db: Any) -> None:
    listed = subscribers_api("read+subscribers", "GET", "/subscribers?q=reader")
    one = subscribers_api("read+subscribers", "GET", "/subscribers/1")

    assert [s["email"] for s in listed.get_json()] == ["reader@example.com"]
    assert one.get_json()["email"] == "reader@example.com"
    rows = db.session.execute(sa.select(AuditEntry.actor, AuditEntry.action, AuditEntry.summary)
                              .order_by(AuditEntry.id.desc()).limit(2)).all()
    assert [tuple(r)[1:] for r in reversed(rows)] == [
        ("subscriber.list", "1 address (search “reader”, page 1)"),
        ("subscriber.view", "reader@example.com")]
    assert rows[0][0].startswith("API key crm (sp_")


def test_writing_subscribers_needs_both_scopes(subscribers_api: Any, db: Any) -> None:
    body = {"subscriber": {"email": "new@example.com"}}
    assert subscribers_api("read+subscribers", "POST", "/subscribers", json=body
                           ).status_code == 403
    assert subscribers_api("write+subscribers", "POST", "/subscribers", json=body
                           ).status_code == 201


def test_the_console_listing_of_addresses_is_audited(logged_in: Any, db: Any) -> None:
    from statuspage import subscriptions

    subscriptions.add_subscriber("reader@example.com", confirmed=True)
    logged_in.client.get("/admin/subscribers?q=reader&page=1")
    entry = db.session.scalars(sa.select(AuditEntry).order_by(AuditEntry.id.desc())).first()
    assert (entry.actor, entry.action, entry.summary) == (
        "ops@example.com", "subscriber.list", "1 address (search “reader”, page 1)")


def test_the_console_creates_a_key_with_the_subscribers_scope(logged_in: Any, db: Any) -> None:
    response = logged_in.post("/admin/api-keys", {"name": "crm", "scope": "read",
                                                 "subscribers": "y"})
    assert response.status_code == 201
    assert "read + subscribers" in response.get_data(as_text=True)
    [key] = staff.all_api_keys()
    assert key.subscribers and key.scope == "read"
