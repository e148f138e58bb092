"""Webhook subscribers end to end, over a real HTTP receiver on loopback: what arrives, how it
is signed, how failures are retried, and which addresses are refused."""

from __future__ import annotations

import email
import email.policy
import hashlib
import hmac
import json
import re
import time
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from statuspage import components as comp
from statuspage import followers, incidents, preferences, staff
from statuspage import notifications as notify
from statuspage import subscriptions as subs
from statuspage.dbtypes import utcnow
from statuspage.extensions import db as _db
from statuspage.outbox import Channel, Delivery, DeliveryKind, DeliveryStatus
from statuspage.site import get_page_settings
from tests.test_api_v1 import Api

# The key sets of Statuspage's own deliveries (see the API reference's "Webhook payloads").
META = {"unsubscribe", "documentation", "generated_at"}
PAGE = {"id", "status_indicator", "status_description"}
INCIDENT = {"name", "status", "created_at", "updated_at", "monitoring_at", "resolved_at",
            "impact", "shortlink", "postmortem_ignored", "postmortem_body",
            "postmortem_body_last_updated_at", "postmortem_published_at",
            "postmortem_notified_subscribers", "postmortem_notified_twitter", "backfilled",
            "scheduled_for", "scheduled_until", "scheduled_remind_prior",
            "scheduled_reminded_at", "impact_override", "scheduled_auto_in_progress",
            "scheduled_auto_completed", "id", "page_id", "incident_updates", "components"}
UPDATE = {"status", "body", "created_at", "wants_twitter_update", "twitter_updated_at",
          "updated_at", "display_at", "affected_components", "custom_tweet",
          "deliver_notifications", "id", "incident_id"}
COMPONENT = {"status", "name", "created_at", "updated_at", "position", "description",
             "showcase", "id", "page_id", "group_id"}
COMPONENT_UPDATE = {"old_status", "new_status", "created_at", "component_type", "id",
                    "component_id"}


@pytest.fixture
def api(client: Any, db: Any) -> Api:
    token = staff.create_api_key("deploy bot", scope="write", subscribers=True,
                                 actor="ops@example.com")[1]
    return Api(client, token, get_page_settings().page_code)


def webhook(receiver: Any, path: str = "/hook", **overrides: Any) -> subs.Subscriber:
    """A confirmed webhook subscriber of every component, pointed at the receiver."""
    overrides.setdefault("email", "oncall@example.com")
    return followers.add_endpoint("webhook", receiver.url(path), confirmed=True, **overrides)


def verify(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """What a receiver does with the documented headers (the README's snippet)."""
    timestamp = headers["x-statuspage-timestamp"]
    expected = hmac.new(secret.encode(), timestamp.encode() + b"." + body,
                        hashlib.sha256).hexdigest()
    scheme, _, given = headers["x-statuspage-signature"].partition("=")
    return scheme == "v1" and hmac.compare_digest(expected, given)


def test_a_webhook_made_through_v1_gets_one_post_in_statuspage_shape_for_a_v1_incident(
        api: Api, receiver: Any, make_component: Any, smtp: Any) -> None:
    web = make_component("Web")
    made = api.post("/subscribers", {"subscriber": {
        "endpoint": receiver.url("/statuspage?team=web"), "email": "oncall@example.com",
        "component_ids": [str(web.id)], "skip_confirmation_notification": True}})
    assert made.status_code == 201, made.get_json()
    answer = made.get_json()
    assert answer["mode"] == "webhook" and answer["email"] == "oncall@example.com"
    assert answer["endpoint"] == receiver.url("/statuspage?team=web")
    secret = answer["signing_secret"]
    assert len(secret) == 64

    opened = api.post("/incidents", {"incident": {
        "name": "Checkout errors", "status": "investigating", "body": "We are **looking**.",
        "components": {str(web.id): "partial_outage"}}})
    assert opened.status_code == 201
    notify.deliver()

    [request] = receiver.requests
    assert request.method == "POST" and request.path == "/statuspage?team=web"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["user-agent"].startswith("statuspage-webhooks/")
    assert verify(secret, request.headers, request.body)
    assert abs(int(request.headers["x-statuspage-timestamp"]) - time.time()) < 60
    page_code = get_page_settings().page_code
    [delivery] = _db.session.scalars(sa.select(Delivery)).all()
    assert request.headers["idempotency-key"] == f"{page_code}-{delivery.id}"
    assert delivery.status is DeliveryStatus.SENT and delivery.channel is Channel.WEBHOOK
    assert delivery.last_response.startswith("HTTP 200 OK in ")

    body = request.json()
    assert set(body) == {"meta", "page", "incident"}
    assert set(body["meta"]) == META and set(body["page"]) == PAGE
    assert body["meta"]["unsubscribe"].startswith("http://status.test/subscriptions/unsubscribe/")
    assert body["page"] == {"id": page_code, "status_indicator": "major",
                            "status_description": "Partial System Outage"}
    incident = body["incident"]
    assert set(incident) == INCIDENT | {"started_at"}  # v2's newer field, as newer pages send
    assert incident["name"] == "Checkout errors" and incident["impact"] == "major"
    [update] = incident["incident_updates"]
    assert UPDATE <= set(update) and update["body"] == "We are **looking**."
    assert update["affected_components"] == [{"code": str(web.id), "name": "Web",
                                              "old_status": "operational",
                                              "new_status": "partial_outage"}]
    [component] = incident["components"]
    assert COMPONENT <= set(component) and component["status"] == "partial_outage"
    # The whole incident as v2 serialises it.
    v2 = api.client.get("/api/v2/incidents.json").get_json()["incidents"][0]
    assert {k: incident[k] for k in v2 if k != "incident_updates"} == {
        k: v for k, v in v2.items() if k != "incident_updates"}
    assert smtp.messages == []  # the contact gets no incident email


def test_a_status_set_by_hand_posts_a_component_update(receiver: Any, make_component: Any
                                                       ) -> None:
    api_component = make_component("API")
    webhook(receiver)
    quiet = webhook(receiver, "/quiet", email="quiet@example.com")
    subs.choose(quiet, all_components=True,
                preferences=preferences.Preferences(component_events=False))

    comp.set_component_status(api_component, "degraded_performance", actor="ops")
    notify.deliver()

    [request] = receiver.requests
    assert request.path == "/hook"
    body = request.json()
    assert set(body) == {"meta", "page", "component_update", "component"}
    assert set(body["component_update"]) == COMPONENT_UPDATE
    assert body["component_update"]["old_status"] == "operational"
    assert body["component_update"]["new_status"] == "degraded_performance"
    assert body["component_update"]["component_id"] == str(api_component.id)
    assert COMPONENT <= set(body["component"]) and body["component"]["name"] == "API"


def test_a_receiver_that_answers_500_three_times_gets_the_fourth_attempt(
        app: Any, receiver: Any) -> None:
    subscriber = webhook(receiver)
    receiver.answer(500, 500, 500)
    incidents.open_incident("Outage", body="Down.")
    now = utcnow()
    for attempt in range(4):
        notify.deliver(now=now)
        assert len(receiver.requests) == attempt + 1
        notify.deliver(now=now)  # not due again before its back-off
        assert len(receiver.requests) == attempt + 1
        delivery = _db.session.scalars(sa.select(Delivery)).one()
        _db.session.refresh(delivery)
        now = delivery.next_attempt_at + timedelta(seconds=1)
    assert delivery.status is DeliveryStatus.SENT and delivery.attempts == 4
    keys = {r.headers["idempotency-key"] for r in receiver.requests}
    assert len(keys) == 1  # the same key on every retry
    bodies = {r.json()["incident"]["id"] for r in receiver.requests}
    assert bodies == {_db.session.scalars(sa.select(incidents.Incident.id)).one().__str__()}
    _db.session.refresh(subscriber)
    assert subscriber.failures_in_a_row == 0 and subscriber.last_failure.startswith("HTTP 500")


def test_a_hanging_or_dropping_receiver_is_a_failure_retried_later(app: Any, receiver: Any
                                                                  ) -> None:
    app.config["WEBHOOK_TIMEOUT_SECONDS"] = 1
    webhook(receiver)
    receiver.answer("hang", "drop")
    incidents.open_incident("Outage", body="Down.")
    started = time.monotonic()
    notify.deliver()
    assert time.monotonic() - started < 5
    delivery = _db.session.scalars(sa.select(Delivery)).one()
    assert delivery.status is DeliveryStatus.QUEUED and delivery.attempts == 1
    assert delivery.last_error == "No answer within 1 s."
    notify.deliver(now=delivery.next_attempt_at + timedelta(seconds=1))
    _db.session.refresh(delivery)
    assert delivery.attempts == 2 and delivery.status is DeliveryStatus.QUEUED
    assert len(receiver.requests) == 2


def test_the_poster_moves_with_every_answer_even_in_a_batch_of_failing_endpoints(
        app: Any, receiver: Any) -> None:
    # A batch of slow endpoints takes minutes; the worker must not look stuck meanwhile.
    for n in range(3):
        webhook(receiver, f"/hook-{n}")
    receiver.answer(500, 500)
    incidents.open_incident("Outage", body="Down.")
    notify.expand_notices()
    calls: list[tuple[int, str | None]] = []
    notify.post_all_due(progress=lambda error: calls.append((len(receiver.requests), error)))
    assert calls == [(1, None), (2, None), (3, None)]


def test_an_endpoint_that_keeps_failing_is_disabled_and_its_contact_emailed(
        app: Any, receiver: Any, smtp: Any) -> None:
    app.config["WEBHOOK_DISABLE_AFTER_FAILURES"] = 2
    subscriber = webhook(receiver)
    receiver.answer(503, 503, 503)
    incidents.open_incident("Outage", body="Down.")
    incidents.open_incident("Second outage", body="Down too.")
    notify.deliver()
    _db.session.refresh(subscriber)
    assert subscriber.quarantined and subscriber.failures_in_a_row == 2
    notify.deliver()  # the email to the contact was queued as the endpoint was disabled
    [message] = smtp.to("oncall@example.com")
    assert message["Subject"] == "[Acme] Your webhook is disabled"
    assert "/subscriptions/manage/" in message.get_body(("plain",)).get_content()
    kinds = _db.session.scalars(sa.select(Delivery.kind).order_by(Delivery.id)).all()
    assert kinds.count(DeliveryKind.ENDPOINT_DISABLED) == 1
    # Disabled: the queued retries fail without a request.
    for delivery in _db.session.scalars(sa.select(Delivery).where(
            Delivery.channel == Channel.WEBHOOK)):
        notify.deliver(now=delivery.next_attempt_at + timedelta(seconds=1))
    assert len(receiver.requests) == 2


def test_the_contact_of_a_webhook_added_in_polish_is_told_in_polish_that_it_is_disabled(
        app: Any, actions: Any, receiver: Any, smtp: Any) -> None:
    app.config["WEBHOOK_DISABLE_AFTER_FAILURES"] = 2
    added = actions.post("/subscribe/channel?lang=pl", {
        "channel": "webhook", "endpoint": receiver.url(), "email": "dyzurny@example.com"})
    assert added.status_code == 200
    [subscriber] = _db.session.scalars(sa.select(subs.Subscriber)).all()
    assert subscriber.channel == "webhook" and subscriber.language == "pl"
    subscriber.confirmed_at = subscriber.created_at
    _db.session.commit()
    receiver.answer(503, 503, 503)
    incidents.open_incident("Outage", body="Down.")
    incidents.open_incident("Second outage", body="Down too.")
    notify.deliver()
    smtp.clear()
    notify.deliver()

    [raw] = smtp.raw_to("dyzurny@example.com")
    head, _, _body = raw.partition(b"\r\n\r\n")
    [subject] = [line for line in head.split(b"\r\n") if line.startswith(b"Subject:")]
    assert subject.isascii() and b"=?utf-8?" in subject  # RFC 2047, as mail clients read it
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert message["Subject"] == "[Acme] Twój webhook został wyłączony"
    for kind in ("plain", "html"):
        part = message.get_body((kind,))
        text = part.get_payload(decode=True).decode(part.get_content_charset())
        assert ("nie odpowiedział poprawnie 2 razy z rzędu (brak odpowiedzi 2xx w ciągu "
                f"{app.config['WEBHOOK_TIMEOUT_SECONDS']} s), dlatego Acme nie wysyła już do "
                "niego powiadomień.") in text, kind
        assert "/subscriptions/manage/" in text
        prose = re.sub(r"https?://\S+|<[^>]+>", " ", text)
        assert not re.search(r"\b(webhook is|endpoint that|To remove|open:|Unsubscribe)\b",
                             prose), kind
    assert "Twój webhook dla Acme został wyłączony" in message.get_body(("plain",)
                                                                       ).get_content()


def test_a_receiver_on_a_private_address_is_refused_without_the_setting(
        app: Any, api: Api, receiver: Any) -> None:
    app.config["WEBHOOK_ALLOW_PRIVATE_ADDRESSES"] = False
    for url in (receiver.url(), "http://10.0.0.8/hook", "http://169.254.169.254/latest",
                "http://[::1]/hook", "http://localhost/hook", "http://0.0.0.0/x"):
        refused = api.post("/subscribers", {"subscriber": {
            "endpoint": url, "email": "oncall@example.com"}})
        assert refused.status_code == 422, url
        assert refused.get_json()["field"] == "endpoint"
    for url in ("ftp://example.com/x", "http://user:pw@example.com/x", "not a url"):
        assert api.post("/subscribers", {"subscriber": {
            "endpoint": url, "email": "oncall@example.com"}}).status_code == 422

    # Allowed when it was given, refused at send time once the setting is off again.
    app.config["WEBHOOK_ALLOW_PRIVATE_ADDRESSES"] = True
    webhook(receiver)
    app.config["WEBHOOK_ALLOW_PRIVATE_ADDRESSES"] = False
    incidents.open_incident("Outage", body="Down.")
    notify.deliver()
    assert receiver.requests == []
    delivery = _db.session.scalars(sa.select(Delivery)).one()
    assert delivery.status is DeliveryStatus.FAILED
    assert "127.0.0.1" in delivery.last_error and "public addresses" in delivery.last_error


def test_redirects_are_not_followed(receiver: Any) -> None:
    webhook(receiver)
    receiver.answer(302)
    incidents.open_incident("Outage", body="Down.")
    notify.deliver()
    delivery = _db.session.scalars(sa.select(Delivery)).one()
    assert delivery.status is DeliveryStatus.QUEUED
    assert "redirects are not followed" in delivery.last_error


def test_the_body_is_rendered_once_and_each_subscriber_signed_with_its_own_secret(
        receiver: Any) -> None:
    first = webhook(receiver)
    second = followers.add_endpoint("webhook", receiver.url("/other"), email="b@example.com",
                                    confirmed=True)
    incidents.open_incident("Outage", body="Down.")
    notify.deliver()
    by_path = {r.path: r for r in receiver.requests}
    assert verify(first.secret, by_path["/hook"].headers, by_path["/hook"].body)
    assert verify(second.secret, by_path["/other"].headers, by_path["/other"].body)
    assert not verify(first.secret, by_path["/other"].headers, by_path["/other"].body)
    one, two = (json.loads(by_path[p].body) for p in ("/hook", "/other"))
    assert one["meta"]["unsubscribe"] != two["meta"]["unsubscribe"]
    one["meta"].pop("unsubscribe"), two["meta"].pop("unsubscribe")
    assert one == two


def test_publishing_a_postmortem_through_v1_can_notify_the_webhooks(api: Api, receiver: Any
                                                                    ) -> None:
    webhook(receiver)
    incident = incidents.open_incident("Outage", body="Down.", deliver_notifications=False)
    incidents.resolve_incident(incident, deliver_notifications=False)
    assert api.put(f"/incidents/{incident.id}/postmortem",
                   {"postmortem": {"body_draft": "Root cause."}}).status_code == 200
    published = api.put(f"/incidents/{incident.id}/postmortem/publish",
                        {"postmortem": {"notify_subscribers": True, "notify_twitter": False}})
    assert published.status_code == 200, published.get_json()
    notify.deliver()
    [request] = receiver.requests
    assert request.json()["incident"]["postmortem_body"] == "Root cause."
