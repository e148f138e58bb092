"""Who hears what: preferences, thresholds and scopes, decided once for every channel."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from statuspage import audience, followers, incidents, postmortems, preferences
from statuspage import components as comp
from statuspage import notifications as notify
from statuspage import subscriptions as subs
from statuspage.dbtypes import utcnow
from statuspage.extensions import db as _db
from statuspage.outbox import Channel, Delivery, Notice, NoticeKind
from statuspage.vocabulary import Impact
from tests.smtp import body_of


def confirmed(email: str, **wanted: Any) -> subs.Subscriber:
    """A page-wide email subscriber to every component, with these preferences."""
    subscriber = subs.add_subscriber(email, confirmed=True)
    return subs.choose(subscriber, all_components=True,
                       preferences=preferences.Preferences(**wanted))


def test_a_maintenance_only_subscriber_gets_maintenance_but_no_incident_email(
        make_component: Any, make_maintenance: Any, smtp: Any) -> None:
    api = make_component("API")
    confirmed("ops-calendar@example.com", notify_incidents=False)
    confirmed("everything@example.com")

    incidents.open_incident("API errors", components={api.id: "partial_outage"},
                            body="Requests fail.")
    notify.deliver()
    assert [str(m["To"]) for m in smtp.messages] == ["everything@example.com"]

    smtp.clear()
    make_maintenance("Database upgrade", component_ids=[api.id], body="Planned.")
    notify.deliver()
    assert sorted(str(m["To"]) for m in smtp.messages) == [
        "everything@example.com", "ops-calendar@example.com"]
    assert "Database upgrade" in str(smtp.to("ops-calendar@example.com")[0]["Subject"])


def test_a_major_and_critical_threshold_skips_a_minor_incident(make_component: Any,
                                                               smtp: Any) -> None:
    api = make_component("API")
    confirmed("pager@example.com", min_impact=Impact.MAJOR)
    confirmed("everything@example.com")

    minor = incidents.open_incident("Slow API", components={api.id: "degraded_performance"},
                                    body="Slower than usual.")
    assert minor.impact is Impact.MINOR
    notify.deliver()
    assert [str(m["To"]) for m in smtp.messages] == ["everything@example.com"]

    smtp.clear()
    incidents.post_update(minor, status="identified", body="Now down.",
                          components={api.id: "major_outage"})
    notify.deliver()
    # The incident became critical: the threshold is met from this update on.
    assert sorted(str(m["To"]) for m in smtp.messages) == [
        "everything@example.com", "pager@example.com"]


def test_preferences_that_would_hear_nothing_are_refused(db: Any) -> None:
    subscriber = subs.add_subscriber("nobody@example.com", confirmed=True)
    with pytest.raises(subs.ValidationError):
        subs.choose(subscriber, all_components=True, preferences=preferences.Preferences(
            notify_incidents=False, notify_maintenance=False))


def test_the_reach_is_counted_per_channel_with_the_same_condition_as_the_fan_out(
        make_component: Any, smtp: Any) -> None:
    api, web = make_component("API"), make_component("Web")
    confirmed("all@example.com")
    confirmed("major@example.com", min_impact=Impact.MAJOR)
    web_only = subs.add_subscriber("web@example.com", component_ids=[web.id], confirmed=True)
    assert web_only.confirmed

    counts = audience.reach_by_channel([api.id], impact=Impact.MINOR)
    assert counts[Channel.EMAIL] == 1 and counts[Channel.WEBHOOK] == 0
    assert audience.count_reach([api.id], impact=Impact.CRITICAL) == 2
    assert audience.count_reach([api.id]) == 2  # impact not known yet: every threshold
    assert audience.count_reach([web.id], impact=Impact.MINOR) == 2

    incidents.open_incident("Slow API", components={api.id: "degraded_performance"})
    created = notify.expand_notices()
    assert created == audience.count_reach([api.id], impact=Impact.MINOR)


def test_a_status_set_by_hand_is_a_component_notice_that_no_email_carries(
        make_component: Any, smtp: Any) -> None:
    api = make_component("API")
    confirmed("all@example.com")
    comp.set_component_status(api, "major_outage", actor="ops")
    comp.set_component_status(api, "major_outage", actor="ops")  # no change: no notice
    [notice] = _db.session.scalars(sa.select(Notice)).all()
    assert notice.kind is NoticeKind.COMPONENT_UPDATE and notice.status_change_id is not None
    notify.deliver()
    assert smtp.messages == []
    assert _db.session.scalar(sa.select(sa.func.count()).select_from(Delivery)) == 0


def test_an_ended_follower_hears_nothing_more(make_component: Any, smtp: Any) -> None:
    confirmed("all@example.com")
    incident = incidents.open_incident("Outage", body="Down.")
    notify.deliver()
    follower = subs.Subscriber(channel=Channel.EMAIL, email="all@example.com",
                               incident_id=incident.id, confirmed_at=utcnow(),
                               ended_at=utcnow() - timedelta(minutes=1))
    _db.session.add(follower)
    _db.session.commit()
    assert audience.count_reach([], incident_id=incident.id) == 1  # the page-wide one only


def test_a_published_postmortem_follows_the_preferences_on_every_channel(
        make_component: Any, smtp: Any, receiver: Any) -> None:
    api = make_component("API")
    confirmed("everything@example.com")
    confirmed("calendar@example.com", notify_incidents=False)
    confirmed("pager@example.com", min_impact=Impact.CRITICAL)
    followers.add_endpoint("webhook", receiver.url(), email="oncall@example.com",
                           confirmed=True)
    incident = incidents.open_incident("Slow API", components={api.id: "partial_outage"},
                                       deliver_notifications=False)
    incidents.resolve_incident(incident, body="Fixed.", deliver_notifications=False)
    postmortems.save_postmortem(incident, "The cache **expired** all at once.")
    postmortems.publish_postmortem(incident, notify=True, actor="ops")
    notify.deliver()

    assert [str(m["To"]) for m in smtp.messages] == ["everything@example.com"]
    [message] = smtp.messages
    assert message["Subject"] == "[Acme] Slow API"
    assert "Postmortem" in body_of(message) and "The cache expired" in body_of(message)
    [posted] = receiver.requests
    body = posted.json()
    assert body["incident"]["status"] == "postmortem"
    assert body["incident"]["postmortem_body"] == "The cache **expired** all at once."


def test_publishing_without_notify_tells_nobody(make_incident: Any, smtp: Any) -> None:
    confirmed("everything@example.com")
    incident = make_incident(deliver_notifications=False)
    incidents.resolve_incident(incident, deliver_notifications=False)
    postmortems.save_postmortem(incident, "What happened.")
    postmortems.publish_postmortem(incident)
    notify.deliver()
    assert smtp.messages == []
