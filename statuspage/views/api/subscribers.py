"""The management API v1's subscribers of the page: list, add (email or webhook), show,
change the language of, remove, and resend the link to."""

from __future__ import annotations

from ... import followers, subscriber_lists
from ... import subscriptions as subs
from .bodies import read
from .inputs import Paging, SubscriberChangeInput, SubscriberInput
from .routes import Body
from .schemas import Context, Subscriber
from .v1 import PAGE, Answer, actor, route

# --- subscribers ---------------------------------------------------------------------------------

@route(f"{PAGE}/subscribers", "GET", response=list[Subscriber], query=Paging)
def subscribers() -> Answer:
    """Subscribers of the whole page, newest first; ``q`` searches addresses and endpoints."""
    paging = Paging.of_request()
    found = subscriber_lists.list_subscribers(paging.q, limit=paging.limit,
                                              offset=paging.offset, actor=actor())
    ctx = Context.build()
    return [Subscriber.of(s, ctx) for s in found]


@route(f"{PAGE}/subscribers", "POST", response=Subscriber, status=201,
       body=Body("subscriber", SubscriberInput))
def create_subscriber() -> Answer:
    """Add an email or webhook subscriber: confirmed at once with
    ``skip_confirmation_notification``, else sent a confirmation link."""
    args = read(SubscriberInput, "subscriber").add_args()
    subscriber = (followers.add_endpoint(actor=actor(), **args) if "endpoint" in args
                  else subs.add_subscriber(actor=actor(), **args))
    return Subscriber.of(subscriber, Context.build())


@route(f"{PAGE}/subscribers/<subscriber_id>", "GET", response=Subscriber)
def get_subscriber(subscriber_id: str) -> Answer:
    """One subscriber."""
    subscriber = subscriber_lists.show_subscriber(subscriber_id, actor=actor())
    return Subscriber.of(subscriber, Context.build())


@route(f"{PAGE}/subscribers/<subscriber_id>", "PATCH", "PUT", response=Subscriber,
       body=Body("subscriber", SubscriberChangeInput))
def change_subscriber(subscriber_id: str) -> Answer:
    """Change the language of a subscriber's emails."""
    fields = read(SubscriberChangeInput, "subscriber")
    subscriber = subs.change_subscriber(subs.get_subscriber(subscriber_id), actor=actor(),
                                        **fields.given())
    return Subscriber.of(subscriber, Context.build())


@route(f"{PAGE}/subscribers/<subscriber_id>", "DELETE", response=Subscriber)
def delete_subscriber(subscriber_id: str) -> Answer:
    """Unsubscribe; emails still queued for them are cancelled. Answers with who it was."""
    subscriber = subs.get_subscriber(subscriber_id)
    gone = Subscriber.of(subscriber, Context.build())
    subs.unsubscribe(subscriber, actor=actor())
    return gone


@route(f"{PAGE}/subscribers/<subscriber_id>/resend_confirmation", "POST", response=Subscriber,
       status=201)
def resend_confirmation(subscriber_id: str) -> Answer:
    """Queue a fresh confirmation link (a manage link once confirmed)."""
    subscriber = subs.resend_confirmation(subs.get_subscriber(subscriber_id), actor=actor())
    return Subscriber.of(subscriber, Context.build())
