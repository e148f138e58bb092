"""Email subscribers, their component choice, and the signed links that act for them.

A subscriber is confirmed only when they save a choice through the link emailed to them, so an
address nobody controls never receives notifications. Links are itsdangerous signatures over
the subscriber's random public id (never the row id, which would tell how many subscribe)
and token version, salted per purpose: a confirm link cannot unsubscribe, and bumping the
version kills every link a subscriber was ever sent.
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
from .dbtypes import UTCDateTime, as_utc, parse_id, utcnow
from .extensions import db
from .languages import DEFAULT_LANGUAGE, parse_language
from .outbox import Delivery, DeliveryKind, DeliveryStatus, add_delivery
from .validation import (
    ADDRESS_MAX,
    N_,
    Conflict,
    DomainError,
    NotFound,
    ValidationError,
    normalise_email,
)

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

    id: Mapped[int] = mapped_column(primary_key=True)
    # What links name the subscriber by; the row id stays inside the database.
    public_id: Mapped[str] = mapped_column(sa.String(32), unique=True, default=new_public_id)
    email: Mapped[str] = mapped_column(sa.String(ADDRESS_MAX), unique=True)
    # True: every component, including those added later. False: exactly ``components``.
    all_components: Mapped[bool] = mapped_column(default=False)
    language: Mapped[str] = mapped_column(sa.String(8), default=DEFAULT_LANGUAGE)  # of emails
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
    quarantined_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_failure: Mapped[str | None] = mapped_column(sa.Text)
    last_failure_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    components: Mapped[list[Component]] = relationship(
        secondary=subscriber_component, order_by=Component.position)

    @property
    def confirmed(self) -> bool:
        return self.confirmed_at is not None

    @property
    def quarantined(self) -> bool:
        return self.quarantined_at is not None


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


def find_subscriber(email: str) -> Subscriber | None:
    """The subscriber with this address (any spelling of it), if any."""
    try:
        address = normalise_email(email)
    except ValidationError:
        return None
    return db.session.scalar(sa.select(Subscriber).where(Subscriber.email == address))


def search_subscribers(query: str = "", *, limit: int = 100, offset: int = 0
                       ) -> list[Subscriber]:
    """Subscribers whose address contains ``query``, newest first."""
    stmt = sa.select(Subscriber).order_by(Subscriber.created_at.desc(), Subscriber.id.desc())
    text = (query or "").strip().lower()
    if text:
        escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        stmt = stmt.where(Subscriber.email.like(f"%{escaped}%", escape="\\"))
    return list(db.session.scalars(stmt.limit(limit).offset(offset)))


def list_subscribers(query: str = "", *, limit: int = 100, offset: int = 0,
                     actor: str) -> list[Subscriber]:
    """One page of ``search_subscribers`` for ``actor`` to read; every such listing of
    addresses is audited."""
    found = search_subscribers(query, limit=limit, offset=offset)
    shown, where = min(len(found), limit), (f"search “{query.strip()}”, " if query.strip() else "")
    add_audit_entry(actor, "subscriber.list", "subscriber", None, f"{shown} address"
                    f"{'' if shown == 1 else 'es'} ({where}page {offset // max(limit, 1) + 1})")
    db.session.commit()
    return found


def show_subscriber(subscriber_id: Any, *, actor: str) -> Subscriber:
    """The subscriber with this id for ``actor`` to read (NotFound); the look is audited."""
    subscriber = get_subscriber(subscriber_id)
    add_audit_entry(actor, "subscriber.view", "subscriber", subscriber.id, subscriber.email)
    db.session.commit()
    return subscriber


def reach_condition(component_ids: Iterable[int]) -> sa.ColumnElement[bool]:
    """Confirmed, non-quarantined subscribers whose choice covers any of ``component_ids``.

    No components at all means the announcement concerns the whole page: everyone.
    """
    ids = sorted({int(c) for c in component_ids})
    condition = sa.and_(Subscriber.confirmed_at.is_not(None),
                        Subscriber.quarantined_at.is_(None))
    if ids:
        chose_one = sa.exists().where(
            subscriber_component.c.subscriber_id == Subscriber.id,
            subscriber_component.c.component_id.in_(ids))
        condition = sa.and_(condition, sa.or_(Subscriber.all_components.is_(True), chose_one))
    return condition


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


def add_link_delivery(subscriber: Subscriber, now: datetime, *,
                      kind: DeliveryKind | None = None) -> bool:
    """Add a link email to the current transaction (the caller commits): a confirm link for an
    unconfirmed subscriber, a manage link for a confirmed one, unless ``kind`` says which.

    False, and nothing queued, for a quarantined address or within its cooldown, so the form
    cannot be used to flood someone's inbox.
    """
    if subscriber.quarantined or _link_wait(subscriber, now) is not None:
        return False
    kind = kind or (DeliveryKind.MANAGE if subscriber.confirmed else DeliveryKind.CONFIRM)
    add_delivery(kind, subscriber.email, subscriber_id=subscriber.id, now=now)
    subscriber.link_count = _streak(subscriber, now) + 1
    subscriber.link_sent_at = now
    return True


def subscribe(email: str, *, now: datetime | None = None) -> str:
    """Ask for email updates in one step (the page asks in the seed's three, see ``signup``):
    a confirmation link for a new or unconfirmed address, a manage link for a confirmed one."""
    now = now or utcnow()
    address = normalise_email(email)
    subscriber = db.session.scalar(sa.select(Subscriber).where(Subscriber.email == address))
    if subscriber is None:
        subscriber = Subscriber(email=address, created_at=now, updated_at=now)
        db.session.add(subscriber)
        try:
            db.session.flush()
        except sa.exc.IntegrityError:
            # The same address arrived twice at once; the other request queued the link.
            db.session.rollback()
            return address
    add_link_delivery(subscriber, now)
    db.session.commit()
    return address


def resend_link(token: str, *, purpose: TokenPurpose | str = TokenPurpose.CONFIRM,
                now: datetime | None = None) -> None:
    """Send a fresh link for a genuine link that has expired; does nothing for a forged one."""
    now = now or utcnow()
    subscriber = _expired_token_subscriber(TokenPurpose(purpose), token)
    if subscriber is not None and add_link_delivery(subscriber, now):
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
        raise ResendTooSoon(f"A link was sent to {subscriber.email} recently; another can "
                            f"be sent in about {minutes} minute{'s' if minutes > 1 else ''}.",
                            minutes * 60)
    add_link_delivery(subscriber, now)
    add_audit_entry(actor, "subscriber.resend", "subscriber", subscriber.id, subscriber.email)
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
    group_ids: Iterable[Any] = (), language: str | None = None, now: datetime | None = None,
) -> Subscriber:
    """Save what the subscriber wants to hear about (and in which language); this confirms the
    subscription."""
    now = now or utcnow()
    if language is not None:
        subscriber.language = parse_language(language)
    if all_components:
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
        add_audit_entry(actor, "subscriber.remove", "subscriber", subscriber.id, subscriber.email)
    db.session.delete(subscriber)
    db.session.commit()


def change_subscriber(subscriber: Subscriber, *, language: str | None = None,
                      actor: str | None = None) -> Subscriber:
    """Change what ops may change of a subscriber: the language of its emails."""
    if language is not None:
        subscriber.language = parse_language(language)
        subscriber.updated_at = utcnow()
        add_audit_entry(actor, "subscriber.change", "subscriber", subscriber.id,
                        f"{subscriber.email}: language {subscriber.language}")
    db.session.commit()
    return subscriber


def revoke_links(subscriber: Subscriber, *, actor: str | None = None) -> Subscriber:
    """Invalidate every link this subscriber was ever sent."""
    subscriber.token_version = (subscriber.token_version + 1) % (2**31 - 1)
    subscriber.updated_at = utcnow()
    if actor is not None:
        add_audit_entry(actor, "subscriber.revoke_links", "subscriber", subscriber.id,
                        subscriber.email)
    db.session.commit()
    return subscriber


def clear_quarantine(subscriber: Subscriber, *, actor: str | None = None) -> Subscriber:
    """Let a quarantined address receive email again."""
    subscriber.quarantined_at = None
    subscriber.updated_at = utcnow()
    add_audit_entry(actor, "subscriber.unquarantine", "subscriber", subscriber.id, subscriber.email)
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
        add_link_delivery(subscriber, now)
    add_audit_entry(actor, "subscriber.add", "subscriber", subscriber.id,
            f"{address} ({'confirmed' if confirmed else 'to confirm'})")
    db.session.commit()
    return subscriber
