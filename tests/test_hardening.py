"""Edge cases found in review: reused ids, undeliverable addresses, out-of-range input."""

from __future__ import annotations

import io
from typing import Any

import pytest
import sqlalchemy as sa

from statuspage import notifications, subscriber_csv, subscriptions
from statuspage.components import Component
from statuspage.dbtypes import parse_id, utcnow
from statuspage.incidents import Incident, open_incident
from statuspage.outbox import Delivery
from statuspage.site import update_page_settings
from statuspage.staff import create_api_key
from statuspage.subscriptions import Subscriber
from statuspage.validation import ValidationError, normalise_email


def test_a_new_subscriber_never_inherits_the_links_of_a_deleted_one(db):
    first = subscriptions.add_subscriber("first@example.com", confirmed=True)
    old_link = subscriptions.make_token(first, subscriptions.TokenPurpose.MANAGE)
    subscriptions.unsubscribe(first)
    second = subscriptions.add_subscriber("second@example.com", confirmed=True)
    with pytest.raises(subscriptions.TokenRevoked):
        subscriptions.load_token(subscriptions.TokenPurpose.MANAGE, old_link)
    assert subscriptions.load_token(
        subscriptions.TokenPurpose.MANAGE,
        subscriptions.make_token(second, subscriptions.TokenPurpose.MANAGE)) == second


@pytest.mark.parametrize("address", [
    "user@exa mple.com", "x" * 250 + "@e.io",
    # No relay we can speak to delivers these (SMTPUTF8, or a local part over 64 octets):
    # they used to get "Check your inbox", then failed at send time.
    *(UNDELIVERABLE := ["\u00fcn\u00efcode@example.com", "\uff46\uff55\uff4c\uff4c@example.com",
                        "x" * 65 + "@example.com"]),
])
def test_addresses_the_transport_cannot_encode_are_refused(address):
    with pytest.raises(ValidationError):
        normalise_email(address)


@pytest.mark.parametrize(("address", "stored"), [
    ("Reader@B\u00fccher.de", "reader@xn--bcher-kva.de"),
    ("reader@xn--bcher-kva.de", "reader@xn--bcher-kva.de"),
    ("a@\u0620\u0628.com", "a@xn--fgbq.com"),
    ("ok@\uff45\uff58\uff41\uff4d\uff50\uff4c\uff45.com", "ok@example.com"),
])
def test_internationalised_domains_are_kept_in_the_form_the_transport_sends(address, stored):
    assert normalise_email(address) == stored


@pytest.mark.parametrize("address", UNDELIVERABLE)
def test_undeliverable_addresses_are_refused_on_the_subscribe_form_and_for_staff(
        actions, make_user, address):
    response = actions.post("/subscribe", {"email": address})
    assert response.status_code == 422
    assert "Check your inbox" not in response.get_data(as_text=True)
    assert subscriptions.find_subscriber(address) is None
    with pytest.raises(ValidationError):
        make_user(address)


def test_a_message_that_cannot_be_written_fails_alone_and_the_batch_goes_on(db, smtp: Any):
    for address in ("ok1@example.com", "ok2@example.com"):
        subscriptions.add_subscriber(address, confirmed=True)
    # Stored before addresses were checked for the transport (or written by hand).
    db.session.add(Subscriber(email="a@\u0620\u0628.com", all_components=True,
                              confirmed_at=utcnow()))
    db.session.commit()
    open_incident("Outage")
    notifications.deliver()
    statuses = dict(db.session.execute(sa.select(Delivery.to_address, Delivery.status)).all())
    assert statuses["ok1@example.com"] == "sent" and statuses["ok2@example.com"] == "sent"
    assert statuses["a@\u0620\u0628.com"] == "failed"
    assert {m["To"] for m in smtp.messages} == {"ok1@example.com", "ok2@example.com"}


@pytest.mark.parametrize("value", ["0", "-1", "2147483648", "99999999999999999999", "1.5",
                                   "\u00b2", "", None, True, 3.0])
def test_ids_out_of_range_or_malformed_are_no_id(value):
    assert parse_id(value) is None


@pytest.mark.parametrize("path", [
    "/incidents/99999999999999999999",
    "/components/99999999999999999999/badge.svg",
    "/components/99999999999999999999/history.rss",
    "/history?page=%C2%B2",
    "/history?page=100000",
    "/history?page=9999",
])
def test_public_pages_answer_404_for_ids_and_pages_that_cannot_exist(client, path):
    assert client.get(path).status_code == 404


@pytest.fixture
def api(client, db):
    _key, token = create_api_key("review", scope="write", subscribers=True)
    page_id = update_page_settings(name="Acme").page_code
    return client, {"Authorization": f"OAuth {token}"}, f"/api/v1/pages/{page_id}"


@pytest.mark.parametrize("path", ["/incidents/99999999999999999999",
                                  "/subscribers/99999999999999999999",
                                  "/components/99999999999999999999",
                                  "/component-groups/g99999999999999999999"])
def test_the_api_answers_404_for_ids_out_of_range(api, path):
    client, auth, root = api
    response = client.get(root + path, headers=auth)
    assert response.status_code == 404 and response.is_json


def test_the_api_clamps_a_huge_page_number(api):
    client, auth, root = api
    response = client.get(root + "/incidents?page=99999999999999999999", headers=auth)
    assert response.status_code == 200 and response.get_json() == []


@pytest.mark.parametrize("when", ["0001-01-01T00:00:00+05:00", "9999-12-31T23:00:00-05:00"])
def test_the_api_refuses_times_out_of_range(api, when):
    client, auth, root = api
    response = client.post(root + "/incidents", headers=auth, json={"incident": {
        "name": "Upgrade", "status": "scheduled", "scheduled_for": when,
        "scheduled_until": "2030-01-01T00:00:00Z"}})
    assert response.status_code == 422
    assert response.get_json()["field"] == "scheduled_for"


@pytest.mark.parametrize(("start", "message"), [
    ("2030-03-31T02:30", "does not exist in Europe/Stockholm"),
    ("0001-01-01T00:00", "between 1970 and 9000"),
])
def test_the_console_refuses_local_times_that_do_not_exist(logged_in, db, start, message):
    update_page_settings(time_zone="Europe/Stockholm")
    response = logged_in.post("/admin/maintenance/new", {
        "name": "Upgrade", "body": "Work.", "scheduled_for": start,
        "scheduled_until": "2030-04-01T05:00", "auto_start": "y", "auto_complete": "y"})
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(Incident.id))) == 0


# --- hostile input: an answer in the one error shape, and nothing written -----------------------

@pytest.mark.parametrize("body", [
    '{"component": {"name": "\\ud800"}}',  # a lone surrogate: not text any database stores
    '{"component": {"name": "API", "description": "x\\udfffy"}}',
    '{"component": {"name": "API"}, "\\ud83d": 1}',
])
def test_the_api_refuses_json_text_that_is_not_unicode(api, db, body):
    client, auth, root = api
    response = client.post(root + "/components", headers=auth, data=body,
                           content_type="application/json")
    assert response.status_code == 400 and response.is_json
    assert response.get_json()["message"] == "The body contains text that is not valid Unicode."
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Component)) == 0


@pytest.mark.parametrize("depth", [100_000, 33])
def test_the_api_refuses_deeply_nested_json(api, db, depth):
    client, auth, root = api
    body = '{"component": ' + "[" * depth + "]" * depth + "}"
    response = client.post(root + "/components", headers=auth, data=body,
                           content_type="application/json")
    assert response.status_code == 400 and response.is_json
    assert response.get_json()["message"] == "The body is nested too deeply."


@pytest.mark.parametrize("path", ["/admin/incidents", "/admin/maintenance",
                                  "/admin/subscribers", "/admin/audit"])
@pytest.mark.parametrize("page", [10**30, 2**63, 10**6])
def test_console_lists_clamp_page_numbers_out_of_range(logged_in, path, page):
    response = logged_in.client.get(f"{path}?page={page}")
    assert response.status_code == 200


def test_a_large_import_takes_a_fixed_number_of_statements(logged_in, db):
    lines = "\n".join(f"person{n}@example.com" for n in range(3000))
    statements = []

    def record(*args: Any) -> None:
        statements.append(args[2])

    sa.event.listen(db.engine, "before_cursor_execute", record)
    try:
        result = subscriber_csv.import_subscribers(lines, actor="ops@example.com")
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", record)
    assert len(result.added) == 3000
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Delivery)) == 3000
    # Reading what exists and writing what is new, in chunks, not one round trip per row.
    assert len(statements) < 60, len(statements)


def test_an_import_over_the_row_limit_is_refused_whole(logged_in, db):
    rows = subscriber_csv.IMPORT_MAX_ROWS + 1
    content = "\n".join(f"person{n}@example.com" for n in range(rows)).encode()
    response = logged_in.post("/admin/subscribers/import",
                              {"file": (io.BytesIO(content), "people.csv")},
                              content_type="multipart/form-data")
    assert response.status_code == 422
    assert (f"at most {subscriber_csv.IMPORT_MAX_ROWS:,} rows" in
            response.get_data(as_text=True))
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Subscriber)) == 0
