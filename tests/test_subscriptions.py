"""Subscribers: subscribing, confirming by choosing, signed links, leaving, purging, CSV."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from itsdangerous import URLSafeTimedSerializer

from statuspage import audience, subscriber_csv, subscriber_lists
from statuspage import subscriptions as subs
from statuspage.dbtypes import utcnow
from statuspage.extensions import db as _db
from statuspage.outbox import Delivery, DeliveryKind, DeliveryStatus
from statuspage.validation import ValidationError


def deliveries(kind: DeliveryKind | None = None) -> list[Delivery]:
    stmt = sa.select(Delivery).order_by(Delivery.id)
    if kind is not None:
        stmt = stmt.where(Delivery.kind == kind)
    return list(_db.session.scalars(stmt))


@pytest.fixture
def subscriber(db: Any) -> Any:
    """A confirmed subscriber to all components."""
    subs.subscribe("reader@example.com")
    subscriber = subs.find_subscriber("reader@example.com")
    return subs.choose(subscriber, all_components=True)


def test_subscribing_a_new_address_queues_one_confirmation_email(db: Any) -> None:
    answer = subs.subscribe("  Reader@Example.COM ")

    assert answer == "reader@example.com"
    subscriber = subs.find_subscriber("reader@example.com")
    assert subscriber is not None and not subscriber.confirmed
    queued = deliveries()
    assert [(d.kind, d.to_address, d.subscriber_id) for d in queued] == [
        (DeliveryKind.CONFIRM, "reader@example.com", subscriber.id)]


def test_subscribing_a_confirmed_address_answers_the_same_and_emails_a_manage_link(
        subscriber: Any) -> None:
    later = utcnow() + timedelta(minutes=10)

    answer = subs.subscribe("READER@example.com", now=later)

    assert answer == "reader@example.com"
    assert [d.kind for d in deliveries()] == [DeliveryKind.CONFIRM, DeliveryKind.MANAGE]
    assert subscriber_lists.subscriber_counts() == subscriber_lists.SubscriberCounts(
        confirmed=1, unconfirmed=0, quarantined=0)


def test_subscribing_twice_in_a_row_sends_only_one_email(db: Any) -> None:
    now = utcnow()
    subs.subscribe("reader@example.com", now=now)
    subs.subscribe("reader@example.com", now=now + timedelta(seconds=30))
    assert len(deliveries()) == 1

    subs.subscribe("reader@example.com", now=now + subs.LINK_RESEND_COOLDOWN)
    assert [d.kind for d in deliveries()] == [DeliveryKind.CONFIRM, DeliveryKind.CONFIRM]


@pytest.mark.parametrize("address", [
    "", "not-an-address", "a@b", "reader@example.com\r\nBcc: victim@example.com",
    "x" * 250 + "@example.com",
])
def test_subscribing_refuses_an_invalid_address(db: Any, address: str) -> None:
    with pytest.raises(ValidationError) as caught:
        subs.subscribe(address)
    assert caught.value.field == "email"
    assert deliveries() == []


def test_a_confirm_link_loads_its_subscriber_and_only_for_its_purpose(db: Any) -> None:
    subs.subscribe("reader@example.com")
    subscriber = subs.find_subscriber("reader@example.com")
    token = subs.make_token(subscriber, "confirm")

    assert subs.load_token("confirm", token) is subscriber
    with pytest.raises(subs.TokenInvalid):
        subs.load_token("unsubscribe", token)


@pytest.mark.parametrize("damage", [
    lambda t: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),
    lambda t: t[:20],
    lambda t: "x" + t,
    lambda t: "",
])
def test_a_tampered_link_is_refused(db: Any, damage: Any) -> None:
    subs.subscribe("reader@example.com")
    token = subs.make_token(subs.find_subscriber("reader@example.com"), "manage")

    with pytest.raises(subs.TokenInvalid):
        subs.load_token("manage", damage(token))


def test_a_confirm_link_expires_but_manage_links_do_not(db: Any) -> None:
    subs.subscribe("reader@example.com")
    subscriber = subs.find_subscriber("reader@example.com")
    confirm = subs.make_token(subscriber, "confirm")
    manage = subs.make_token(subscriber, "manage")
    eight_days_on = utcnow() + timedelta(days=8)

    assert subs.load_token("confirm", confirm, now=utcnow() + timedelta(days=6)) is subscriber
    with pytest.raises(subs.TokenExpired) as caught:
        subs.load_token("confirm", confirm, now=eight_days_on)
    assert caught.value.subscriber_id == subscriber.id
    assert subs.load_token("manage", manage, now=utcnow() + timedelta(days=400)) is subscriber


def test_an_expired_confirm_link_can_ask_for_a_fresh_one(db: Any) -> None:
    subs.subscribe("reader@example.com", now=utcnow() - timedelta(days=8))
    subscriber = subs.find_subscriber("reader@example.com")
    old = subs.make_token(subscriber, "confirm")

    subs.resend_link("forged-token")
    assert len(deliveries(DeliveryKind.CONFIRM)) == 1

    subs.resend_link(old)
    assert len(deliveries(DeliveryKind.CONFIRM)) == 2


def test_revoking_links_kills_every_old_link_but_not_new_ones(subscriber: Any) -> None:
    old = {p: subs.make_token(subscriber, p) for p in ("confirm", "manage", "unsubscribe")}

    subs.revoke_links(subscriber, actor="ops@example.com")

    for purpose, token in old.items():
        with pytest.raises(subs.TokenRevoked):
            subs.load_token(purpose, token)
    assert subs.load_token("manage", subs.make_token(subscriber, "manage")) is subscriber


def test_choosing_components_confirms_and_a_group_counts_as_its_members(
        db: Any, make_group: Any, make_component: Any) -> None:
    group = make_group("Platform")
    api = make_component("API", group_id=group.id)
    web = make_component("Web", group_id=group.id)
    billing = make_component("Billing")
    subs.subscribe("reader@example.com")
    subscriber = subs.find_subscriber("reader@example.com")
    assert not subscriber.confirmed

    subs.choose(subscriber, all_components=False, group_ids=[group.id],
                component_ids=[str(billing.id)])

    assert subscriber.confirmed and not subscriber.all_components
    assert {c.id for c in subscriber.components} == {api.id, web.id, billing.id}
    # A member added to the group later is not added to this choice silently.
    make_component("Search", group_id=group.id)
    assert audience.count_reach([api.id]) == 1
    search = [c for c in group.components if c.name == "Search"][0]
    assert audience.count_reach([search.id]) == 0


def test_an_all_components_subscriber_is_reached_by_components_added_later(
        subscriber: Any, make_component: Any) -> None:
    later = make_component("Added later")
    assert audience.count_reach([later.id]) == 1


@pytest.mark.parametrize("choice", [
    {"all_components": False},
    {"all_components": False, "component_ids": ["999"]},
    {"all_components": False, "component_ids": ["api"]},
    {"all_components": False, "group_ids": ["999"]},
])
def test_choosing_nothing_or_unknown_components_is_refused(db: Any, choice: Any) -> None:
    subs.subscribe("reader@example.com")
    subscriber = subs.find_subscriber("reader@example.com")

    with pytest.raises(ValidationError):
        subs.choose(subscriber, **choice)
    _db.session.rollback()
    assert not subs.find_subscriber("reader@example.com").confirmed


def test_unsubscribing_removes_the_subscriber_and_cancels_queued_mail(subscriber: Any) -> None:
    token = subs.make_token(subscriber, "unsubscribe")

    subs.unsubscribe(subs.load_token("unsubscribe", token))

    assert subs.find_subscriber("reader@example.com") is None
    assert [(d.status, d.to_address) for d in deliveries()] == [
        (DeliveryStatus.CANCELLED, "reader@example.com")]
    with pytest.raises(subs.TokenRevoked):
        subs.load_token("unsubscribe", token)


def test_unconfirmed_subscribers_are_purged_after_the_link_lifetime(subscriber: Any) -> None:
    now = utcnow()
    subs.subscribe("old@example.com", now=now - timedelta(days=8))
    subs.subscribe("recent@example.com", now=now - timedelta(days=6))

    assert subs.purge_unconfirmed(now=now) == 1

    assert subs.find_subscriber("old@example.com") is None
    assert subs.find_subscriber("recent@example.com") is not None
    assert subs.find_subscriber("reader@example.com") is not None  # confirmed: kept
    assert subs.purge_unconfirmed(now=now) == 0


def test_searching_and_counting_subscribers(subscriber: Any) -> None:
    subs.subscribe("other_one@example.org")

    assert [s.email for s in subscriber_lists.search_subscribers("EXAMPLE.ORG")] == [
        "other_one@example.org"]
    assert [s.email for s in subscriber_lists.search_subscribers("%")] == []
    assert subscriber_lists.subscriber_counts() == subscriber_lists.SubscriberCounts(1, 1, 0)


def test_importing_addresses_asks_each_to_confirm_unless_told_they_consented(
        subscriber: Any) -> None:
    text = "email\nnew@example.com\nreader@example.com\nnot an address\nNEW@example.com\n"

    result = subscriber_csv.import_subscribers(text, actor="ops@example.com")

    assert result.added == ["new@example.com"]
    assert result.existing == ["reader@example.com", "new@example.com"]
    assert result.invalid == [(4, "not an address")]
    assert not subs.find_subscriber("new@example.com").confirmed
    assert [d.to_address for d in deliveries(DeliveryKind.CONFIRM)][-1] == "new@example.com"

    subscriber_csv.import_subscribers("consented@example.com\n", confirmed=True, actor="ops")
    consented = subs.find_subscriber("consented@example.com")
    assert consented.confirmed and consented.all_components
    assert "consented@example.com" not in [d.to_address for d in deliveries()]


def test_the_export_lists_every_subscriber_without_spreadsheet_formulas(
        db: Any, make_component: Any) -> None:
    api = make_component("API")
    subs.subscribe("=cmd@example.com")
    subs.choose(subs.find_subscriber("=cmd@example.com"), all_components=False,
                component_ids=[api.id])

    lines = subscriber_csv.export_csv().splitlines()

    assert lines[0] == "email,confirmed_at,components,quarantined_at,created_at,language"
    assert lines[1].startswith("'=cmd@example.com,20")
    assert ",API,," in lines[1]


# --- rotating SECRET_KEY ------------------------------------------------------------------------

OLD_KEY, NEW_KEY = "old-" + "7" * 40, "new-" + "8" * 40


def test_links_signed_with_a_previous_secret_key_work_while_it_is_a_fallback(
        app: Any, subscriber: Any) -> None:
    app.config.update(SECRET_KEY=OLD_KEY)
    old_link = subs.make_token(subscriber, subs.TokenPurpose.MANAGE)

    app.config.update(SECRET_KEY=NEW_KEY, SECRET_KEY_FALLBACKS=[OLD_KEY])
    assert subs.load_token(subs.TokenPurpose.MANAGE, old_link) == subscriber
    new_link = subs.make_token(subscriber, subs.TokenPurpose.MANAGE)
    assert new_link != old_link

    app.config.update(SECRET_KEY_FALLBACKS=[])  # the old key retired: its links stop working
    with pytest.raises(subs.TokenInvalid):
        subs.load_token(subs.TokenPurpose.MANAGE, old_link)
    assert subs.load_token(subs.TokenPurpose.MANAGE, new_link) == subscriber


# --- opaque links -------------------------------------------------------------------------------

def _payload(token: str) -> Any:
    """What anyone can read in a link: itsdangerous signs its payload, it does not hide it."""
    data = token.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(data + "=" * (-len(data) % 4)))


def test_links_do_not_reveal_the_sequential_subscriber_id(db: Any) -> None:
    for n in range(3):
        subs.subscribe(f"reader{n}@example.com")
    subscribers = [subs.find_subscriber(f"reader{n}@example.com") for n in range(3)]

    payloads = [_payload(subs.make_token(s, "manage")) for s in subscribers]

    assert [set(p) for p in payloads] == [{"p", "v"}] * 3
    assert [p["p"] for p in payloads] == [s.public_id for s in subscribers]
    assert all(len(p["p"]) >= 16 and not p["p"].isdigit() for p in payloads)
    assert len({p["p"] for p in payloads}) == 3
    assert not {s.id for s in subscribers} & {v for p in payloads for v in p.values()}


def test_links_sent_before_public_ids_still_act_for_their_subscriber(subscriber: Any) -> None:
    # Manage and unsubscribe links sat in emails signed over the row id; they keep working.
    legacy = URLSafeTimedSerializer(subs.signing_keys(), salt="statuspage.subscriber.manage")
    old_link = legacy.dumps({"s": subscriber.id, "v": subscriber.token_version})
    assert subs.load_token("manage", old_link) is subscriber
    subs.revoke_links(subscriber)
    with pytest.raises(subs.TokenRevoked):
        subs.load_token("manage", old_link)
