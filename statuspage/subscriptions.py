"""Subscribers of every channel, their component choice and preferences, and signed links.

One table for every way of following the page: email, webhook (an endpoint and a contact
email), Slack and Microsoft Teams (an incoming-webhook URL). A subscription may be scoped to
one incident, and then ends by itself once its resolution has been announced. A subscriber is
confirmed only when they save a choice through the link sent to them, so an address nobody
controls never receives notifications. Links are itsdangerous signatures over the
subscriber's random public id (never the row id, which would tell how many subscribe) and
token version, salted per purpose: a confirm link cannot unsubscribe, and bumping the version
kills every link a subscriber was ever sent.
"""

from __future__ import annotations

import enum
import math
import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import current_app
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy.orm import Mapped, mapped_column, relationship

from . import components as comp
from .audit import add_audit_entry
from .components import Component, ComponentGroup
from .dbtypes import UTCDateTime, as_utc, enum_column, parse_id, unique_where, utcnow
from .extensions import db
from .languages import DEFAULT_LANGUAGE, parse_language
from .outbox import Channel, Delivery, DeliveryKind, DeliveryStatus, add_delivery
from .preferences import Preferences, apply_preferences
from .validation import (
    ADDRESS_MAX,
    N_,
    Conflict,
    DomainError,
    NotFound,
    ValidationError,
    normalise_email,
)
from .vocabulary import Impact

ENDPOINT_MAX = 2000

# A second request for the same address within this time sends nothing more, so the form
# cannot be used to flood someone's inbox; each further link doubles the wait, up to a day
# (about ten links on the first day, then one a day). Two quiet days, or a confirmation, start
# afresh.
LINK_RESEND_COOLDOWN = timedelta(minutes=2)
LINK_COOLDOWN_MAX = timedelta(days=1)
LINK_STREAK_RESET = timedelta(days=2)


class TokenPurpose(enum.StrEnum):
    CONFIRM = "confirm"
    MANAGE = "manage"
    UNSUBSCRIBE = "unsubscribe"


class TokenError(DomainError):
    """A subscriber link that cannot be used."""

    status_code = 400


class TokenInvalid(TokenError):
    """The link was altered, truncated, or made for another purpose."""


class TokenExpired(TokenError):
    """The link was genuine but is too old; a fresh one can be sent."""

    status_code = 410

    def __init__(self, message: str, subscriber_id: int | None = None) -> None:
        super().__init__(message, "token")
        self.subscriber_id = subscriber_id


class ResendTooSoon(DomainError):
    """A link went to this address recently; the next may go after ``retry_after`` seconds."""

    status_code = 429

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message, "subscriber_id")
        self.retry_after = retry_after


class TokenRevoked(TokenError):
    """The link was genuine but has been revoked (or the subscriber has left)."""

    status_code = 410


subscriber_component = sa.Table(
    "subscriber_component",
    db.metadata,
    sa.Column("subscriber_id", sa.ForeignKey("subscriber.id", ondelete="CASCADE"),
              primary_key=True),
    sa.Column("component_id", sa.ForeignKey("component.id", ondelete="CASCADE"),
              primary_key=True, index=True),
)


def new_public_id() -> str:
    """A random id for a subscriber's links: 96 bits, 16 URL-safe characters."""
    return secrets.token_urlsafe(12)


class Subscriber(db.Model):
    __tablename__ = "subscriber"
    __table_args__ = (
        # Per address: one page-wide email subscription, one open follow of each incident.
        unique_where("uq_subscriber_email", "email",
                     where="channel = 'email' AND incident_id IS NULL"),
        unique_where("uq_subscriber_follow", "incident_id", "email",
                     where="channel = 'email' AND incident_id IS NOT NULL AND ended_at IS NULL"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # What links name the subscriber by; the row id stays inside the database.
    public_id: Mapped[str] = mapped_column(sa.String(32), unique=True, default=new_public_id)
    channel: Mapped[Channel] = mapped_column(enum_column(Channel, "channel"),
                                             default=Channel.EMAIL)
    # The address for email; the contact for a webhook; none for Slack and Teams.
    email: Mapped[str | None] = mapped_column(sa.String(ADDRESS_MAX))
    endpoint: Mapped[str | None] = mapped_column(sa.String(ENDPOINT_MAX), index=True)
    # Signs every webhook request (HMAC-SHA256), so the receiver knows it comes from us.
    secret: Mapped[str | None] = mapped_column(sa.String(64))
    # Set: a subscription to this one incident, ended (ended_at) after its resolution.
    incident_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("incident.id", ondelete="CASCADE"), index=True)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # True: every component, including those added later. False: exactly ``components``.
    all_components: Mapped[bool] = mapped_column(default=False)
    # The language of its emails, Slack and Teams messages and links (a webhook body is the API's).
    language: Mapped[str] = mapped_column(sa.String(8), default=DEFAULT_LANGUAGE)
    # Preferences: what to hear about, and from which impact on.
    notify_incidents: Mapped[bool] = mapped_column(default=True)
    notify_maintenance: Mapped[bool] = mapped_column(default=True)
    min_impact: Mapped[Impact] = mapped_column(enum_column(Impact, "min_impact"),
                                               default=Impact.NONE)
    component_events: Mapped[bool] = mapped_column(default=True)  # webhooks only
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    # Random, not 1: SQLite reuses the id of a deleted row, and a new subscriber starting at
    # version 1 would make the links of a deleted one with that id valid again.
    token_version: Mapped[int] = mapped_column(default=lambda: secrets.randbelow(2**31 - 1))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # When the last confirm or manage link was queued (resend cooldown; unconfirmed purge),
    # and how many were queued in a row before it (the cooldown grows with them).
    link_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    link_count: Mapped[int] = mapped_column(default=0)
    # Quarantined (an address that bounces) or disabled (an endpoint that keeps failing).
    quarantined_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_failure: Mapped[str | None] = mapped_column(sa.Text)
    last_failure_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    failures_in_a_row: Mapped[int] = mapped_column(default=0)

    components: Mapped[list[Component]] = relationship(
        secondary=subscriber_component, order_by=Component.position)

    @property
    def confirmed(self) -> bool:
        return self.confirmed_at is not None

    @property
    def quarantined(self) -> bool:
        return self.quarantined_at is not None

    @property
    def target(self) -> str:
        """Where its messages go, as ops read it: the address or the endpoint."""
        return self.email if self.channel is Channel.EMAIL else (self.endpoint or "")


# --- addresses and links ----------------------------------------------------------------------

def signing_keys() -> list[str | bytes]:
    """SECRET_KEY and its fallbacks, oldest first, as itsdangerous takes them: the last signs,
    every one verifies (SECRET_KEY_FALLBACKS lists them newest first, as Flask reads it)."""
    fallbacks = current_app.config.get("SECRET_KEY_FALLBACKS") or []
    return [*reversed(fallbacks), current_app.secret_key]


def serializer(purpose: TokenPurpose) -> URLSafeTimedSerializer:
    """The signer of one purpose's links (its own salt): signs with SECRET_KEY, verifies with
    the fallbacks too."""
    return URLSafeTimedSerializer(signing_keys(), salt=f"statuspage.subscriber.{purpose}")


def make_token(subscriber: Subscriber, purpose: TokenPurpose | str) -> str:
    """A signed link token that acts for ``subscriber`` for one purpose."""
    purpose = TokenPurpose(purpose)
    return serializer(purpose).dumps({"p": subscriber.public_id, "v": subscriber.token_version})


def confirm_max_age() -> timedelta:
    """How long a confirmation link stays valid."""
    return timedelta(days=current_app.config["CONFIRM_TOKEN_MAX_AGE_DAYS"])


def _named_by(payload: Any) -> Subscriber | None:
    # The subscriber a genuine payload names, if its version is still theirs. Links sent
    # before public ids name the row id ("s"); they sit in old emails and keep working.
    if "p" in payload:
        subscriber = db.session.scalar(
            sa.select(Subscriber).where(Subscriber.public_id == str(payload["p"])))
    else:
        subscriber = db.session.get(Subscriber, int(payload["s"]))
    if subscriber is None or subscriber.token_version != int(payload["v"]):
        return None
    return subscriber


def load_token(purpose: TokenPurpose | str, token: str, *, now: datetime | None = None
               ) -> Subscriber:
    """The subscriber a link acts for, or TokenInvalid / TokenExpired / TokenRevoked.

    Confirm links expire; manage and unsubscribe links live until revoked, because they sit in
    old emails that people rightly expect to keep working.
    """
    purpose = TokenPurpose(purpose)
    now = now or utcnow()
    try:
        payload, signed_at = serializer(purpose).loads(token, return_timestamp=True)
        subscriber = _named_by(payload)
    except (BadSignature, KeyError, TypeError, ValueError, AttributeError):
        raise TokenInvalid(N_("This link is not valid. It may have been cut short when it was "
                              "copied."), "token") from None
    if subscriber is None:
        raise TokenRevoked(N_("This link is no longer valid."), "token")
    if purpose is TokenPurpose.CONFIRM and now - as_utc(signed_at) > confirm_max_age():
        raise TokenExpired(N_("This confirmation link has expired."), subscriber.id)
    return subscriber


def _expired_token_subscriber(purpose: TokenPurpose, token: str) -> Subscriber | None:
    """The subscriber of a genuine (correctly signed) token, ignoring its age."""
    try:
        return _named_by(serializer(purpose).loads(token))  # no max_age: the age is not checked
    except (BadSignature, KeyError, TypeError, ValueError, AttributeError):
        return None


# --- queries ----------------------------------------------------------------------------------

def get_subscriber(subscriber_id: Any) -> Subscriber:
    """The subscriber with this id, or NotFound."""
    key = parse_id(subscriber_id)
    subscriber = db.session.get(Subscriber, key) if key is not None else None
    if subscriber is None:
        raise NotFound("No such subscriber.", "subscriber_id")
    return subscriber


def page_email_subscriber(address: str) -> sa.Select[tuple[Subscriber]]:
    """The page-wide email subscription of a normalised address (at most one)."""
    return sa.select(Subscriber).where(Subscriber.email == address,
                                       Subscriber.channel == Channel.EMAIL,
                                       Subscriber.incident_id.is_(None))


def find_subscriber(email: str) -> Subscriber | None:
    """The page-wide email subscriber with this address (any spelling of it), if any."""
    try:
        address = normalise_email(email)
    except ValidationError:
        return None
    return db.session.scalar(page_email_subscriber(address))


# --- operations -------------------------------------------------------------------------------

def _link_wait(subscriber: Subscriber, now: datetime) -> timedelta | None:
    """How long until the next link may go to this address; None when it may go now."""
    streak = _streak(subscriber, now)
    if not streak or subscriber.link_sent_at is None:
        return None
    cooldown = min(LINK_RESEND_COOLDOWN * 2 ** min(streak - 1, 16), LINK_COOLDOWN_MAX)
    wait = subscriber.link_sent_at + cooldown - now
    return wait if wait > timedelta(0) else None


def _streak(subscriber: Subscriber, now: datetime) -> int:
    quiet = subscriber.link_sent_at is None or now - subscriber.link_sent_at >= LINK_STREAK_RESET
    return 0 if quiet else subscriber.link_count


def queue_link(subscriber: Subscriber, now: datetime, *,
               kind: DeliveryKind | None = None) -> bool:
    """Queue a confirm (unconfirmed) or manage (confirmed) link, or ``kind``, in the caller's
    transaction, unless quarantined or in its cooldown: by email, or posted to Slack/Teams."""
    if subscriber.quarantined or _link_wait(subscriber, now) is not None:
        return False
    kind = kind or (DeliveryKind.MANAGE if subscriber.confirmed else DeliveryKind.CONFIRM)
    chat = subscriber.channel in (Channel.SLACK, Channel.TEAMS)
    add_delivery(kind, (subscriber.endpoint if chat else subscriber.email) or "",
                 subscriber_id=subscriber.id,
                 channel=subscriber.channel if chat else Channel.EMAIL, now=now)
    subscriber.link_count = _streak(subscriber, now) + 1
    subscriber.link_sent_at = now
    return True


def subscribe(email: str, *, now: datetime | None = None) -> str:
    """Ask for email updates in one step (the page asks in the seed's three, see ``signup``):
    a confirmation link for a new or unconfirmed address, a manage link for a confirmed one."""
    now = now or utcnow()
    address = normalise_email(email)
    subscriber = db.session.scalar(page_email_subscriber(address))
    if subscriber is None:
        subscriber = Subscriber(email=address, created_at=now, updated_at=now)
        db.session.add(subscriber)
        try:
            db.session.flush()
        except sa.exc.IntegrityError:
            # The same address arrived twice at once; the other request queued the link.
            db.session.rollback()
            return address
    queue_link(subscriber, now)
    db.session.commit()
    return address


def resend_link(token: str, *, purpose: TokenPurpose | str = TokenPurpose.CONFIRM,
                now: datetime | None = None) -> None:
    """Send a fresh link for a genuine link that has expired; does nothing for a forged one."""
    now = now or utcnow()
    subscriber = _expired_token_subscriber(TokenPurpose(purpose), token)
    if subscriber is not None and queue_link(subscriber, now):
        db.session.commit()


def resend_confirmation(subscriber: Subscriber, *, actor: str | None = None,
                        now: datetime | None = None) -> Subscriber:
    """Queue a confirmation (or manage) link for this subscriber now, as ops ask; the
    address's cooldown holds for ops too (ResendTooSoon), so no key can flood an inbox."""
    now = now or utcnow()
    if subscriber.quarantined:
        raise ValidationError("This address is quarantined; clear it first.", "subscriber_id")
    wait = _link_wait(subscriber, now)
    if wait is not None:
        minutes = max(1, math.ceil(wait.total_seconds() / 60))
        raise ResendTooSoon(f"A link was sent to {subscriber.target} recently; another can "
                            f"be sent in about {minutes} minute{'s' if minutes > 1 else ''}.",
                            minutes * 60)
    queue_link(subscriber, now)
    add_audit_entry(actor, "subscriber.resend", "subscriber", subscriber.id, subscriber.target)
    db.session.commit()
    return subscriber


def chosen_components(component_ids: Iterable[Any], group_ids: Iterable[Any] = ()
                      ) -> list[Component]:
    """The components a choice names, a group counting as its members now; ValidationError for
    an unknown id."""
    chosen: dict[int, Component] = {}
    for raw in group_ids:
        group = comp.find(ComponentGroup, raw)
        if group is None:
            raise ValidationError(f"Unknown component group {raw!r}.", "components")
        # A group counts as the members it has now; later members are not added silently.
        chosen.update((c.id, c) for c in group.components)
    for raw in component_ids:
        component = comp.find(Component, raw)
        if component is None:
            raise ValidationError(f"Unknown component {raw!r}.", "components")
        chosen[component.id] = component
    return list(chosen.values())


def choose(
    subscriber: Subscriber, *, all_components: bool, component_ids: Iterable[Any] = (),
    group_ids: Iterable[Any] = (), language: str | None = None,
    preferences: Preferences | None = None, now: datetime | None = None,
) -> Subscriber:
    """Save what the subscriber wants to hear about, and in which language; this confirms."""
    now = now or utcnow()
    if language is not None:
        subscriber.language = parse_language(language)
    if preferences is not None:
        apply_preferences(subscriber, preferences)
    if subscriber.incident_id is not None:
        pass  # following one incident: the incident is the choice
    elif all_components:
        subscriber.all_components = True
        subscriber.components = []
    else:
        chosen = chosen_components(component_ids, group_ids)
        if not chosen:
            raise ValidationError(N_("Choose at least one component, or all components."),
                                  "components")
        subscriber.all_components = False
        subscriber.components = chosen
    if subscriber.confirmed_at is None:
        subscriber.confirmed_at = now
    if subscriber.channel is not Channel.EMAIL and subscriber.quarantined:
        # The endpoint's owner turns it back on from the link the disabling email carried.
        subscriber.quarantined_at, subscriber.failures_in_a_row = None, 0
    subscriber.link_count = 0  # the link did its work: the next request starts afresh
    subscriber.updated_at = now
    db.session.commit()
    return subscriber


def _cancel_queued(subscriber_ids: Iterable[int], reason: str) -> None:
    ids = list(subscriber_ids)
    if ids:
        db.session.execute(
            sa.update(Delivery)
            .where(Delivery.subscriber_id.in_(ids), Delivery.status == DeliveryStatus.QUEUED)
            .values(status=DeliveryStatus.CANCELLED, last_error=reason, claimed_until=None,
                    claimed_by=None, claim_token=None))


def unsubscribe(subscriber: Subscriber, *, actor: str | None = None) -> None:
    """Remove the subscriber; emails still queued for them are cancelled, not sent."""
    _cancel_queued([subscriber.id], "The subscriber unsubscribed.")
    if actor is not None:
        add_audit_entry(actor, "subscriber.remove", "subscriber", subscriber.id, subscriber.target)
    db.session.delete(subscriber)
    db.session.commit()


def change_subscriber(subscriber: Subscriber, *, language: str | None = None,
                      actor: str | None = None) -> Subscriber:
    """Change what ops may change of a subscriber: the language of its emails."""
    if language is not None:
        subscriber.language = parse_language(language)
        subscriber.updated_at = utcnow()
        add_audit_entry(actor, "subscriber.change", "subscriber", subscriber.id,
                        f"{subscriber.target}: language {subscriber.language}")
    db.session.commit()
    return subscriber


def revoke_links(subscriber: Subscriber, *, actor: str | None = None) -> Subscriber:
    """Invalidate every link this subscriber was ever sent."""
    subscriber.token_version = (subscriber.token_version + 1) % (2**31 - 1)
    subscriber.updated_at = utcnow()
    if actor is not None:
        add_audit_entry(actor, "subscriber.revoke_links", "subscriber", subscriber.id,
                        subscriber.target)
    db.session.commit()
    return subscriber


def clear_quarantine(subscriber: Subscriber, *, actor: str | None = None) -> Subscriber:
    """Let a quarantined address receive email again."""
    subscriber.quarantined_at = None
    subscriber.updated_at = utcnow()
    add_audit_entry(actor, "subscriber.unquarantine", "subscriber", subscriber.id,
                    subscriber.target)
    db.session.commit()
    return subscriber


def purge_unconfirmed(*, now: datetime | None = None) -> int:
    """Delete subscribers who never confirmed within the link's lifetime; returns how many."""
    now = now or utcnow()
    cutoff = now - confirm_max_age()
    ids = list(db.session.scalars(sa.select(Subscriber.id).where(
        Subscriber.confirmed_at.is_(None),
        sa.func.coalesce(Subscriber.link_sent_at, Subscriber.created_at) < cutoff)))
    if ids:
        _cancel_queued(ids, "The address was never confirmed.")
        db.session.execute(sa.delete(Subscriber).where(Subscriber.id.in_(ids)))
    db.session.commit()
    return len(ids)


def add_subscriber(
    email: str, *, component_ids: Iterable[Any] = (), group_ids: Iterable[Any] = (),
    confirmed: bool = False, language: str = DEFAULT_LANGUAGE, actor: str | None = None,
    now: datetime | None = None,
) -> Subscriber:
    """Add a subscriber as ops do (the management API): confirmed at once when ops have the
    person's consent, else sent a confirmation link. No components chosen means all."""
    now = now or utcnow()
    address = normalise_email(email)
    if find_subscriber(address) is not None:
        raise Conflict("This address is subscribed already.", "email")
    chosen = chosen_components(component_ids, group_ids)
    subscriber = Subscriber(email=address, created_at=now, updated_at=now,
                            all_components=not chosen, components=chosen,
                            language=parse_language(language),
                            confirmed_at=now if confirmed else None)
    db.session.add(subscriber)
    db.session.flush()
    if not confirmed:
        queue_link(subscriber, now)
    add_audit_entry(actor, "subscriber.add", "subscriber", subscriber.id,
            f"{address} ({'confirmed' if confirmed else 'to confirm'})")
    db.session.commit()
    return subscriber
