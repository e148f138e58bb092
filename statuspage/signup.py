"""Subscribing in the seed's order: an address, then the choice, then the emailed link.

A visitor gives an address ("Subscribe via email"), chooses components and a language, and
saves. That one step only records a ``SubscriptionRequest``: the same single insert whoever the
address belongs to, so neither the answer nor its timing shows whether it was known. A worker
then takes each request in turn: it finds or creates the (unconfirmed) subscriber, keeps the
request as their pending choice, and emails the link that confirms it. Nothing about an
existing subscription changes until that link is followed and the choice confirmed, which
activates exactly the pending choice (the newest, if several were made).

Following one incident by email takes the same shape: the visitor's step records a request
naming the incident, and the worker finds or adds the unconfirmed follower and emails its link
(a known follower gets the link again, within the same cooldown, and nothing else changes).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy.orm import Mapped, mapped_column

from . import followers
from . import subscriptions as subs
from .components import Component
from .dbtypes import UTCDateTime, utcnow
from .extensions import db
from .incidents import Incident
from .languages import DEFAULT_LANGUAGE, parse_language
from .outbox import DeliveryKind
from .subscriptions import Subscriber, TokenExpired, TokenInvalid, confirm_max_age
from .validation import ADDRESS_MAX, N_, Conflict, ValidationError, normalise_email
from .vocabulary import DONE_STATUSES

# How long the choice page may stay open between the address and Save.
TICKET_MAX_AGE = timedelta(hours=12)


class SubscriptionRequest(db.Model):
    """A visitor's choice for an address, waiting for the emailed link that confirms it."""

    __tablename__ = "subscription_request"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(ADDRESS_MAX))
    # Set when a worker has taken the request: it is then the subscriber's pending choice.
    subscriber_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("subscriber.id", ondelete="CASCADE"), index=True)
    all_components: Mapped[bool] = mapped_column(default=True)
    # The chosen components' ids ("3,5,8"); groups were counted as their members when chosen.
    component_ids: Mapped[str] = mapped_column(sa.Text, default="")
    language: Mapped[str] = mapped_column(sa.String(8), default=DEFAULT_LANGUAGE)
    # Set: a request to follow this one incident (the incident is the whole choice).
    incident_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("incident.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)

    @property
    def chosen_ids(self) -> list[int]:
        """The ids of the components chosen (none when all were)."""
        return [int(part) for part in self.component_ids.split(",") if part]


# --- the address, carried from the first step to the second -----------------------------------

def _tickets() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(subs.signing_keys(), salt="statuspage.subscribe.address")


def address_ticket(email: str) -> str:
    """The checked address, signed for the choice page: Save needs the first step's check."""
    return _tickets().dumps(normalise_email(email))


def ticket_address(ticket: str) -> str:
    """The address a ticket carries, or TokenInvalid / TokenExpired."""
    try:
        return str(_tickets().loads(ticket, max_age=TICKET_MAX_AGE.total_seconds()))
    except SignatureExpired:
        raise TokenExpired(N_("The page was open too long; enter your address again.")) from None
    except BadSignature:
        raise TokenInvalid(N_("Enter your address again."), "email") from None


# --- the visitor's step ------------------------------------------------------------------------

def request_subscription(
    email: str, *, all_components: bool, component_ids: Iterable[Any] = (),
    group_ids: Iterable[Any] = (), language: str = DEFAULT_LANGUAGE,
    now: datetime | None = None,
) -> SubscriptionRequest:
    """Record a choice for an address; a worker emails the link that confirms it.

    The same work for every address: one insert, no lookup of who subscribes.
    """
    now = now or utcnow()
    address = normalise_email(email)
    chosen: Sequence[Component] = ()
    if not all_components:
        chosen = subs.chosen_components(component_ids, group_ids)
        if not chosen:
            raise ValidationError(N_("Choose at least one component, or all components."),
                                  "components")
    request = SubscriptionRequest(
        email=address, all_components=bool(all_components), created_at=now,
        component_ids=",".join(str(c.id) for c in chosen), language=parse_language(language))
    db.session.add(request)
    db.session.commit()
    return request


def request_follow(incident_id: int, email: str, *, language: str = DEFAULT_LANGUAGE,
                   now: datetime | None = None) -> SubscriptionRequest:
    """Record a request to follow one incident by email; a worker emails the link that
    confirms it. The same work for every address: one insert, no lookup of who follows."""
    now = now or utcnow()
    address = normalise_email(email)
    followers.followable(incident_id)  # one read of the incident, whoever asks
    request = SubscriptionRequest(email=address, incident_id=incident_id, created_at=now,
                                  language=parse_language(language))
    db.session.add(request)
    db.session.commit()
    return request


# --- the worker's step -------------------------------------------------------------------------

def _subscriber_for(request: SubscriptionRequest, now: datetime) -> Subscriber:
    subscriber = db.session.scalar(subs.page_email_subscriber(request.email))
    if subscriber is None:
        subscriber = Subscriber(email=request.email, language=request.language, created_at=now,
                                updated_at=now)
        db.session.add(subscriber)
        db.session.flush()
    return subscriber


def _take_follow(request: SubscriptionRequest, now: datetime) -> None:
    incident = db.session.get(Incident, request.incident_id)
    # The follower row is all that is left of the request: its link confirms the incident.
    db.session.delete(request)
    if incident is None or incident.status in DONE_STATUSES:
        return  # it ended before the worker came to it: there is nothing more to follow
    followers.add_email_follow(incident, request.email, language=request.language, now=now)


def _take(request: SubscriptionRequest, now: datetime) -> None:
    if request.incident_id is not None:
        _take_follow(request, now)
        return
    subscriber = _subscriber_for(request, now)
    # The newest choice is the pending one; earlier ones would only confuse the link.
    db.session.execute(sa.delete(SubscriptionRequest).where(
        SubscriptionRequest.subscriber_id == subscriber.id))
    request.subscriber_id, request.processed_at = subscriber.id, now
    # Within the resend cooldown, the link already on its way confirms this newer choice.
    subs.queue_link(subscriber, now, kind=DeliveryKind.CONFIRM)


def process_requests(*, now: datetime | None = None, limit: int = 100) -> int:
    """Take waiting requests, each in its own transaction; returns how many (the worker's job)."""
    now = now or utcnow()
    taken = 0
    for _ in range(limit):
        request = db.session.scalars(
            sa.select(SubscriptionRequest).where(SubscriptionRequest.processed_at.is_(None))
            .order_by(SubscriptionRequest.id).limit(1).with_for_update(skip_locked=True)).first()
        if request is None:
            break
        try:
            _take(request, now)
            db.session.commit()
        except sa.exc.IntegrityError:  # the same new address, taken by another worker just now
            db.session.rollback()
            break
        taken += 1
    db.session.commit()
    return taken


# --- the link's step ---------------------------------------------------------------------------

def pending_request(subscriber: Subscriber) -> SubscriptionRequest | None:
    """The choice waiting for this subscriber's confirmation, if any."""
    return db.session.scalars(
        sa.select(SubscriptionRequest).where(SubscriptionRequest.subscriber_id == subscriber.id)
        .order_by(SubscriptionRequest.id.desc()).limit(1)).first()


def pending_components(request: SubscriptionRequest) -> list[Component]:
    """The components a pending choice names that still exist, in page order."""
    ids = request.chosen_ids
    if not ids:
        return []
    return list(db.session.scalars(
        sa.select(Component).where(Component.id.in_(ids)).order_by(Component.position)))


def activate(subscriber: Subscriber, request_id: Any, *, now: datetime | None = None
             ) -> Subscriber:
    """Confirm exactly the pending choice shown to the subscriber (request ``request_id``)."""
    now = now or utcnow()
    request = pending_request(subscriber)
    if request is None or str(request.id) != str(request_id):
        raise Conflict(N_("This choice was replaced by a newer one, shown below."),
                       "request_id")
    chosen = pending_components(request)
    if not request.all_components and not chosen:
        raise ValidationError(N_("The components you chose are gone; choose again."),
                              "components")
    subscriber.all_components = request.all_components
    subscriber.components = chosen
    subscriber.language = request.language
    subscriber.confirmed_at = subscriber.confirmed_at or now
    subscriber.link_count = 0  # the link did its work: the next request starts afresh
    subscriber.updated_at = now
    db.session.execute(sa.delete(SubscriptionRequest).where(
        SubscriptionRequest.subscriber_id == subscriber.id))
    db.session.commit()
    return subscriber


def purge_requests(*, now: datetime | None = None) -> int:
    """Delete choices never confirmed within the link's lifetime, and requests to follow an
    incident never taken in it; returns how many."""
    now = now or utcnow()
    result = db.session.execute(sa.delete(SubscriptionRequest).where(
        SubscriptionRequest.created_at < now - confirm_max_age()))
    db.session.commit()
    return max(result.rowcount or 0, 0)
