"""Subscribers beyond a page-wide email: webhooks, Slack and Teams channels, and followers of
one incident.

Each is a row of the one subscriber table (``subscriptions.Subscriber``) and is confirmed the
same way: ops may confirm at once; anyone else confirms through a link, emailed to the
address or the webhook's contact, or posted to the Slack or Teams channel itself. An endpoint
is checked when it is given (an http(s) URL whose host resolves to public addresses only,
unless WEBHOOK_ALLOW_PRIVATE_ADDRESSES) and again at every send. A follower of one incident
hears every update of it, and nothing after its resolution has been announced. A visitor
asks to follow one by email through ``signup.request_follow`` (a request a worker takes, so the
answer shows nothing of the address); ops add followers here directly.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask import current_app

from . import netguard
from .audit import add_audit_entry
from .dbtypes import utcnow
from .extensions import db
from .incidents import Incident
from .languages import DEFAULT_LANGUAGE, parse_language
from .outbox import Channel, Delivery
from .subscriptions import Subscriber, chosen_components, queue_link
from .validation import N_, Conflict, ValidationError, normalise_email
from .vocabulary import DONE_STATUSES

ENDPOINT_CHANNELS = (Channel.WEBHOOK, Channel.SLACK, Channel.TEAMS)


def check_endpoint(url: str) -> str:
    """The endpoint URL if it may be posted to; ValidationError (or BlockedAddress) else."""
    url = netguard.check_url(url)
    netguard.resolve(url, allow_private=current_app.config["WEBHOOK_ALLOW_PRIVATE_ADDRESSES"])
    return url


def _parse_channel(channel: Channel | str) -> Channel:
    try:
        parsed = Channel(str(channel))
    except ValueError:
        raise ValidationError(f"Unknown channel {channel!r}.", "channel") from None
    if parsed not in ENDPOINT_CHANNELS:
        raise ValidationError("Email subscribers are added by address.", "channel")
    return parsed


def _existing(channel: Channel, endpoint: str | None, email: str | None,
              incident_id: int | None) -> Subscriber | None:
    stmt = sa.select(Subscriber).where(
        Subscriber.channel == channel, Subscriber.ended_at.is_(None),
        Subscriber.incident_id.is_(None) if incident_id is None
        else Subscriber.incident_id == incident_id)
    stmt = stmt.where(Subscriber.endpoint == endpoint if endpoint is not None
                      else Subscriber.email == email)
    return db.session.scalars(stmt.limit(1)).first()


def followable(incident_id: int | None) -> Incident | None:
    """The incident with this id if it may be followed (None for None); ValidationError if
    there is none, Conflict once it is over."""
    if incident_id is None:
        return None
    incident = db.session.get(Incident, incident_id)
    if incident is None:
        raise ValidationError(N_("No such incident."), "incident_id")
    if incident.status in DONE_STATUSES:
        raise Conflict(N_("This incident is over; there is nothing more to follow."), "incident_id")
    return incident


def _new(channel: Channel, *, endpoint: str | None, email: str | None,
         incident: Incident | None, component_ids: Iterable[Any], group_ids: Iterable[Any],
         confirmed: bool, now: datetime, language: str = DEFAULT_LANGUAGE) -> Subscriber:
    chosen = [] if incident is not None else chosen_components(component_ids, group_ids)
    subscriber = Subscriber(
        channel=channel, endpoint=endpoint, email=email,
        secret=secrets.token_hex(32) if channel is Channel.WEBHOOK else None,
        incident_id=incident.id if incident is not None else None,
        all_components=not chosen, components=chosen, created_at=now, updated_at=now,
        confirmed_at=now if confirmed else None, language=parse_language(language))
    db.session.add(subscriber)
    db.session.flush()
    if not confirmed:
        queue_link(subscriber, now)
    return subscriber


def _contact(channel: Channel, email: str | None) -> str | None:
    if channel is not Channel.WEBHOOK and not email:
        return None
    if not email:
        raise ValidationError(N_("Give a contact email for the webhook."), "email")
    return normalise_email(email)


def add_endpoint(
    channel: Channel | str, endpoint: str, *, email: str | None = None,
    component_ids: Iterable[Any] = (), group_ids: Iterable[Any] = (),
    incident_id: int | None = None, confirmed: bool = False, actor: str | None = None,
    language: str = DEFAULT_LANGUAGE, now: datetime | None = None,
) -> Subscriber:
    """Add a webhook (endpoint and contact email), Slack or Teams subscriber as ops do:
    confirmed at once, or sent a confirmation link. No components chosen means all."""
    now = now or utcnow()
    kind = _parse_channel(channel)
    url = check_endpoint(endpoint)
    contact = _contact(kind, email)
    incident = followable(incident_id)
    if _existing(kind, url, None, incident_id) is not None:
        raise Conflict(N_("This endpoint is subscribed already."), "endpoint")
    subscriber = _new(kind, endpoint=url, email=contact, incident=incident,
                      component_ids=component_ids, group_ids=group_ids, confirmed=confirmed,
                      now=now, language=language)
    add_audit_entry(actor, "subscriber.add", "subscriber", subscriber.id,
                    f"{kind} {url} ({'confirmed' if confirmed else 'to confirm'})")
    db.session.commit()
    return subscriber


def subscribe_endpoint(channel: Channel | str, endpoint: str, *, email: str | None = None,
                       incident_id: int | None = None, language: str = DEFAULT_LANGUAGE,
                       now: datetime | None = None) -> str:
    """A visitor asks for updates at an endpoint (of the whole page, or of one incident);
    returns the URL. The link that activates it goes to the webhook's contact email, or
    is posted to the Slack or Teams channel; asking again resends it (after a cool-down)."""
    now = now or utcnow()
    kind = _parse_channel(channel)
    url = check_endpoint(endpoint)
    contact = _contact(kind, email)
    incident = followable(incident_id)
    known = _existing(kind, url, None, incident_id)
    if known is None:
        _new(kind, endpoint=url, email=contact, incident=incident, component_ids=(),
             group_ids=(), confirmed=False, now=now, language=language)
    elif known.email == contact:
        queue_link(known, now)
    db.session.commit()
    return url


def add_email_follow(incident: Incident, address: str, *, language: str = DEFAULT_LANGUAGE,
                     now: datetime) -> Subscriber:
    """Joins the caller's transaction: the address's follow of the incident, added unconfirmed
    and sent its link when new; when known, sent the link again (after the cool-down), and
    nothing else changes."""
    known = _existing(Channel.EMAIL, None, address, incident.id)
    if known is not None:
        queue_link(known, now)
        return known
    return _new(Channel.EMAIL, endpoint=None, email=address, incident=incident,
                component_ids=(), group_ids=(), confirmed=False, now=now, language=language)


def follow_by_email(incident_id: int, email: str, *, confirmed: bool = False,
                    actor: str | None = None, language: str = DEFAULT_LANGUAGE,
                    now: datetime | None = None) -> Subscriber:
    """Add a follower of one incident by email as ops do: confirmed at once, or sent a
    confirmation link; Conflict if the address follows it already."""
    now = now or utcnow()
    address = normalise_email(email)
    incident = followable(incident_id)
    if _existing(Channel.EMAIL, None, address, incident_id) is not None:
        raise Conflict(N_("This address follows the incident already."), "email")
    subscriber = _new(Channel.EMAIL, endpoint=None, email=address, incident=incident,
                      component_ids=(), group_ids=(), confirmed=confirmed, now=now,
                      language=language)
    add_audit_entry(actor, "subscriber.add", "subscriber", subscriber.id,
                    f"{address} follows incident {incident_id}")
    db.session.commit()
    return subscriber


def last_answers(subscriber: Subscriber, limit: int = 5) -> list[Delivery]:
    """The latest HTTP deliveries of an endpoint subscriber, with what each answered."""
    if subscriber.channel not in ENDPOINT_CHANNELS:
        return []
    return list(db.session.scalars(
        sa.select(Delivery).where(Delivery.subscriber_id == subscriber.id,
                                  Delivery.channel == subscriber.channel,
                                  Delivery.attempts > 0)
        .order_by(Delivery.id.desc()).limit(limit)))


def followers(incident_id: int) -> list[Subscriber]:
    """The subscribers of one incident (ended ones too), oldest first."""
    return list(db.session.scalars(sa.select(Subscriber).where(
        Subscriber.incident_id == incident_id).order_by(Subscriber.id)))
