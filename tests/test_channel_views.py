"""The public pages for webhooks, Slack and Teams, and the preferences on the manage page."""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa

from statuspage import followers, incidents
from statuspage import notifications as notify
from statuspage import subscriptions as subs
from statuspage.extensions import db as _db
from statuspage.vocabulary import Impact
from tests.conftest import form_errors


def test_a_slack_channel_subscribed_from_the_page_gets_its_activation_message(
        actions: Any, receiver: Any) -> None:
    page = actions.client.get("/subscribe").get_data(as_text=True)
    assert 'href="/subscribe/channel"' in page
    answer = actions.post("/subscribe/channel", {"channel": "slack",
                                                 "endpoint": receiver.url("/slack")})
    assert answer.status_code == 200
    assert "posting a message to the channel" in answer.get_data(as_text=True)
    notify.deliver()
    [posted] = receiver.requests
    assert posted.path == "/slack" and b"/subscriptions/confirm/" in posted.body


def test_a_private_endpoint_is_refused_on_the_page_without_the_setting(db: Any,
                                                                        actions: Any) -> None:
    answer = actions.post("/subscribe/channel", {
        "channel": "webhook", "endpoint": "http://192.168.1.10/hook",
        "email": "oncall@example.com"})
    assert answer.status_code == 422
    assert any("public addresses" in e for e in form_errors(answer.get_data(as_text=True)))
    assert _db.session.scalar(sa.select(sa.func.count()).select_from(subs.Subscriber)) == 0


def test_preferences_are_saved_and_shown_on_the_manage_page(actions: Any, db: Any) -> None:
    subscriber = subs.add_subscriber("reader@example.com", confirmed=True)
    url = f"/subscriptions/manage/{subs.make_token(subscriber, 'manage')}"
    saved = actions.post(url, {"scope": "all", "notify": "incidents", "min_impact": "major"})
    assert saved.status_code == 302
    _db.session.refresh(subscriber)
    assert (subscriber.notify_incidents, subscriber.notify_maintenance,
            subscriber.min_impact) == (True, False, Impact.MAJOR)
    page = actions.client.get(url).get_data(as_text=True)
    assert re.search(r'<option selected value="incidents">|<option value="incidents" selected',
                     page)
    assert "component_events" not in page  # for webhooks only


def test_a_webhooks_manage_page_shows_its_secret_and_last_answers_and_turns_it_back_on(
        actions: Any, receiver: Any) -> None:
    hook = followers.add_endpoint("webhook", receiver.url(), email="oncall@example.com",
                                  confirmed=True)
    receiver.answer(500)
    incidents.open_incident("Outage", body="Down.")
    notify.deliver()
    hook.quarantined_at = hook.created_at
    _db.session.commit()
    url = f"/subscriptions/manage/{subs.make_token(hook, 'manage')}"
    page = actions.client.get(url).get_data(as_text=True)
    assert hook.secret in page and "HTTP 500" in page and "disabled" in page
    assert 'name="component_events"' in page
    assert actions.post(url, {"scope": "all", "notify": "both", "min_impact": "none",
                              "component_events": "y"}).status_code == 302
    _db.session.refresh(hook)
    assert not hook.quarantined and hook.failures_in_a_row == 0 and hook.component_events


def test_following_a_resolved_incident_is_refused(actions: Any, make_incident: Any) -> None:
    incident = make_incident()
    incidents.resolve_incident(incident, body="Done.")
    page = actions.client.get(f"/incidents/{incident.id}/subscribe").get_data(as_text=True)
    assert "nothing more to follow" in page
    refused = actions.post(f"/incidents/{incident.id}/subscribe",
                           {"email": "late@example.com"})
    assert refused.status_code == 409


def test_ops_add_a_teams_channel_active_at_once_and_see_it_listed(logged_in: Any,
                                                                  receiver: Any) -> None:
    added = logged_in.post("/admin/subscribers/endpoints/new", {
        "channel": "teams", "endpoint": receiver.url("/teams"), "confirmed": "y"})
    assert added.status_code == 302, added.get_data(as_text=True)
    [teams] = _db.session.scalars(sa.select(subs.Subscriber)).all()
    assert teams.channel == "teams" and teams.confirmed and teams.secret is None
    listing = logged_in.client.get("/admin/subscribers").get_data(as_text=True)
    assert receiver.url("/teams") in listing and ">teams<" in listing
    again = logged_in.post("/admin/subscribers/endpoints/new", {
        "channel": "webhook", "endpoint": receiver.url("/teams")})
    assert again.status_code == 422  # a webhook needs its contact email
    assert any("contact email" in e for e in form_errors(again.get_data(as_text=True)))
