"""The management API's followers of one incident, as Statuspage has them:
``/pages/{page_id}/incidents/{incident_id}/subscribers``.

A follower hears every update of its incident and nothing after the resolution has been
announced; it is a subscriber of the one table, so the subscriber operations apply to it.
"""

from __future__ import annotations

from ... import followers
from ... import incidents as inc
from ... import subscriptions as subs
from ...validation import NotFound
from .bodies import read
from .inputs import FollowerInput
from .routes import Body
from .schemas import Context, Subscriber
from .v1 import PAGE, Answer, actor, route

FOLLOWERS = f"{PAGE}/incidents/<incident_id>/subscribers"


def _follower(incident_id: str, subscriber_id: str) -> subs.Subscriber:
    incident = inc.get_incident(incident_id)
    subscriber = subs.get_subscriber(subscriber_id)
    if subscriber.incident_id != incident.id:
        raise NotFound("No such subscriber of this incident.", "subscriber_id")
    return subscriber


@route(FOLLOWERS, "GET", response=list[Subscriber])
def incident_subscribers(incident_id: str) -> Answer:
    """The incident's subscribers, oldest first (ended ones too)."""
    incident = inc.get_incident(incident_id)
    ctx = Context.build()
    return [Subscriber.of(s, ctx) for s in followers.followers(incident.id)]


@route(FOLLOWERS, "POST", response=Subscriber, status=201,
       body=Body("subscriber", FollowerInput))
def create_incident_subscriber(incident_id: str) -> Answer:
    """Follow the incident by email, or by webhook (``endpoint`` and a contact ``email``)."""
    incident = inc.get_incident(incident_id)
    fields = read(FollowerInput, "subscriber")
    confirmed = fields.skip_confirmation_notification
    if fields.endpoint is not None:
        subscriber = followers.add_endpoint("webhook", fields.endpoint, email=fields.email,
                                            incident_id=incident.id, confirmed=confirmed,
                                            actor=actor())
    else:
        subscriber = followers.follow_by_email(incident.id, fields.email or "",
                                               confirmed=confirmed, actor=actor())
    return Subscriber.of(subscriber, Context.build())


@route(f"{FOLLOWERS}/<subscriber_id>", "GET", response=Subscriber)
def get_incident_subscriber(incident_id: str, subscriber_id: str) -> Answer:
    """One subscriber of the incident."""
    return Subscriber.of(_follower(incident_id, subscriber_id), Context.build())


@route(f"{FOLLOWERS}/<subscriber_id>", "DELETE", response=Subscriber)
def delete_incident_subscriber(incident_id: str, subscriber_id: str) -> Answer:
    """Stop following; what was still queued for them is cancelled."""
    subscriber = _follower(incident_id, subscriber_id)
    gone = Subscriber.of(subscriber, Context.build())
    subs.unsubscribe(subscriber, actor=actor())
    return gone


@route(f"{FOLLOWERS}/<subscriber_id>/resend_confirmation", "POST", response=Subscriber,
       status=201)
def resend_incident_subscriber_confirmation(incident_id: str, subscriber_id: str) -> Answer:
    """Queue a fresh confirmation link for a follower."""
    subscriber = subs.resend_confirmation(_follower(incident_id, subscriber_id), actor=actor())
    return Subscriber.of(subscriber, Context.build())
