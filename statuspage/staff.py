"""Ops users and their roles; API keys for the management API; reading the audit log."""

from __future__ import annotations

import enum
import functools
import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, mapped_column
from werkzeug.security import check_password_hash, generate_password_hash

from .audit import AuditEntry, add_audit_entry
from .dbtypes import UTCDateTime, enum_column, parse_id, utcnow
from .extensions import db
from .validation import Conflict, NotFound, ValidationError, normalise_email, require_text

PASSWORD_MIN = 10
PASSWORD_MAX = 200
# A memory-hard hash for stored passwords (tests swap in a cheap one).
PASSWORD_HASH_METHOD = "scrypt"


class Role(enum.StrEnum):
    ADMIN = "admin"
    EDITOR = "editor"


def _new_generation() -> int:
    # Random, not 1: SQLite reuses the id of a deleted row, and a new user starting at 1
    # would accept the session cookies of a deleted one with that id.
    return secrets.randbelow(2**31 - 1)


class User(UserMixin, db.Model):
    __tablename__ = "staff_user"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    role: Mapped[Role] = mapped_column(enum_column(Role, "role"), default=Role.EDITOR)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Every session carries the generation it was signed in under; bumping it ends them all
    # (sign-out, a new password, a new role, deactivation), cookies copied earlier included.
    session_generation: Mapped[int] = mapped_column(default=_new_generation)
    # Two-factor sign-in (two_factor): the TOTP secret, when it was confirmed, and the last
    # time step whose code was accepted (a code is good once).
    totp_secret: Mapped[str | None] = mapped_column(sa.String(64))
    totp_enabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    totp_last_step: Mapped[int | None] = mapped_column(sa.BigInteger)

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive users
        return self.active

    @property
    def two_factor_enabled(self) -> bool:
        return self.totp_enabled_at is not None and self.totp_secret is not None

    def get_id(self) -> str:
        """What the session cookie names the user by: the id and the session generation."""
        return f"{self.id}:{self.session_generation}"

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN


def parse_role(value: object) -> Role:
    """The Role spelled by ``value``."""
    try:
        return Role(str(value).strip())
    except ValueError:
        raise ValidationError("Role must be admin or editor.", "role") from None


def _check_password(password: str | None) -> str:
    if not password or len(password) < PASSWORD_MIN:
        raise ValidationError(f"Password must be at least {PASSWORD_MIN} characters.",
                              "password")
    if len(password) > PASSWORD_MAX:
        raise ValidationError(f"Password must be at most {PASSWORD_MAX} characters.",
                              "password")
    return password


@functools.cache
def _dummy_hash(method: str) -> str:
    # Compared against when the email is unknown, so a login takes as long either way.
    return generate_password_hash("statuspage-timing-equaliser", method=method)


def _hash(password: str) -> str:
    return generate_password_hash(password, method=PASSWORD_HASH_METHOD)


def session_user(session_id: str) -> User | None:
    """The active user a session names (``get_id``), unless the session has been ended."""
    user_id, _, generation = str(session_id).partition(":")
    key = parse_id(user_id)
    user = db.session.get(User, key) if key is not None and generation.isdigit() else None
    if user is None or not user.active or user.session_generation != int(generation):
        return None
    return user


def end_sessions_of(user: User) -> None:
    """End every session the user holds, in the current transaction (the caller commits)."""
    user.session_generation = (user.session_generation + 1) % (2**31 - 1)


def end_sessions(user: User, *, actor: str | None = None) -> User:
    """Sign the user out everywhere: every session they hold stops working at once."""
    end_sessions_of(user)
    add_audit_entry(actor or user.email, "user.logout", "user", user.id, user.email)
    db.session.commit()
    return user


def get_user(user_id: object) -> User:
    """The user with this id, or NotFound."""
    key = parse_id(str(user_id))
    user = db.session.get(User, key) if key is not None else None
    if user is None:
        raise NotFound("No such user.", "user_id")
    return user


def find_user_by_email(email: str) -> User | None:
    """The user with this address, if any."""
    try:
        address = normalise_email(email)
    except ValidationError:
        return None
    return db.session.scalar(sa.select(User).where(User.email == address))


def all_users() -> list[User]:
    """Every ops user, by address."""
    return list(db.session.scalars(sa.select(User).order_by(User.email)))


def create_user(email: str, password: str, *, role: Role | str = Role.EDITOR,
                actor: str | None = None) -> User:
    """Create an ops user with a hashed password."""
    address = normalise_email(email)
    if find_user_by_email(address) is not None:
        raise Conflict("A user with this email address exists already.", "email")
    user = User(email=address, password_hash=_hash(_check_password(password)),
                role=parse_role(role), active=True)
    db.session.add(user)
    db.session.flush()
    add_audit_entry(actor, "user.create", "user", user.id, f"{address} ({user.role})")
    db.session.commit()
    return user


def update_user(user: User, *, actor: str | None = None,
                role: Role | str | None = None, active: bool | None = None,
                password: str | None = None) -> User:
    """Change a user's role, active flag or password; nobody may lock out the last admin.
    Any such change ends the user's sessions: they sign in again under what changed."""
    was_admin = user.is_admin and user.active
    before = (user.role, user.active, user.password_hash)
    if role is not None:
        user.role = parse_role(role)
    if active is not None:
        user.active = bool(active)
    if password:
        user.password_hash = _hash(_check_password(password))
    if (user.role, user.active, user.password_hash) != before:
        end_sessions_of(user)
    if was_admin and not _has_active_admin():
        db.session.rollback()
        raise Conflict("The page needs at least one active admin.", "role")
    add_audit_entry(actor, "user.update", "user", user.id, user.email)
    db.session.commit()
    return user


def delete_user(user: User, *, actor: str | None = None) -> None:
    """Delete a user, unless it is the last active admin."""
    was_admin = user.is_admin and user.active
    db.session.delete(user)
    db.session.flush()
    if was_admin and not _has_active_admin():
        db.session.rollback()
        raise Conflict("The page needs at least one active admin.", "user_id")
    add_audit_entry(actor, "user.delete", "user", user.id, user.email)
    db.session.commit()


def _has_active_admin() -> bool:
    db.session.flush()
    return bool(db.session.scalar(
        sa.select(sa.func.count(User.id)).where(User.role == Role.ADMIN, User.active.is_(True))))


def authenticate(email: str, password: str, *, source: str | None = None,
                 now: datetime | None = None) -> User | None:
    """The active user with these credentials, or None; a failure is audited with
    ``source``, the client's address. A user without a second factor is signed in
    (``record_sign_in``); one with it is once the code is checked too."""
    user = find_user_by_email(email)
    origin = f"from {source or 'an unknown address'}"
    if user is None or not user.active:
        check_password_hash(_dummy_hash(PASSWORD_HASH_METHOD), password or "")
        _audit_failure(user.email if user else email, None, f"no such active user, {origin}")
        return None
    if not check_password_hash(user.password_hash, password or ""):
        _audit_failure(user.email, user.id, f"wrong password, {origin}")
        return None
    if not user.two_factor_enabled:
        record_sign_in(user, source=source, now=now)
    return user


def record_sign_in(user: User, *, source: str | None = None, now: datetime | None = None
                   ) -> User:
    """Record that the user signed in: the time, and an audit row with the client address."""
    user.last_login_at = now or utcnow()
    add_audit_entry(user.email, "user.login", "user", user.id,
                    f"from {source or 'an unknown address'}")
    db.session.commit()
    return user


def _audit_failure(email: str, user_id: int | None, summary: str) -> None:
    try:
        actor = normalise_email(email)
    except ValidationError:
        actor = (email or "").strip()[:100] or "(no address)"
    add_audit_entry(actor, "user.login_failed", "user", user_id, summary)
    db.session.commit()


def audit_log(*, page: int = 1, per_page: int = 50) -> tuple[list[AuditEntry], bool]:
    """One page of the audit log, newest first, and whether an older page exists."""
    page = max(page, 1)
    rows = list(db.session.scalars(
        sa.select(AuditEntry).order_by(AuditEntry.created_at.desc(), AuditEntry.id.desc())
        .offset((page - 1) * per_page).limit(per_page + 1)
    ))
    return rows[:per_page], len(rows) > per_page


# --- API keys ------------------------------------------------------------------------------------

API_KEY_NAME_MAX = 100
# The key is shown once; the database keeps only its SHA-256 (a 256-bit random token needs no
# slow hash) and a short prefix by which people tell keys apart.
API_KEY_PREFIX = "sp_"
API_KEY_PREFIX_LENGTH = len(API_KEY_PREFIX) + 8
# Using a key records the time, but at most this often, so reads do not each cost a write.
LAST_USED_RESOLUTION = timedelta(minutes=1)


class ApiKeyScope(enum.StrEnum):
    READ = "read"
    WRITE = "write"


class ApiKey(db.Model):
    __tablename__ = "api_key"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(API_KEY_NAME_MAX))
    prefix: Mapped[str] = mapped_column(sa.String(16), index=True)
    key_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    scope: Mapped[ApiKeyScope] = mapped_column(enum_column(ApiKeyScope, "scope"),
                                               default=ApiKeyScope.READ)
    created_by: Mapped[str] = mapped_column(sa.String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The subscribers scope, beside read or write: subscriber addresses are personal data,
    # so a key sees (or, with write, changes) them only when made for that.
    subscribers: Mapped[bool] = mapped_column(default=False)

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    @property
    def can_write(self) -> bool:
        return self.scope is ApiKeyScope.WRITE

    @property
    def scope_label(self) -> str:
        """The key's scopes as people read them: "read", "write + subscribers"."""
        return f"{self.scope} + subscribers" if self.subscribers else str(self.scope)


def _hash_key(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def parse_scope(value: object) -> ApiKeyScope:
    """The ApiKeyScope spelled by ``value``."""
    try:
        return ApiKeyScope(str(value).strip())
    except ValueError:
        raise ValidationError("Scope must be read or write.", "scope") from None


def create_api_key(name: str, *, scope: ApiKeyScope | str = ApiKeyScope.READ,
                   subscribers: bool = False, actor: str | None = None,
                   now: datetime | None = None) -> tuple[ApiKey, str]:
    """Create an API key; returns it with the plaintext key, which is never stored or shown
    again. ``subscribers`` adds the scope that reaches subscriber addresses."""
    token = API_KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(name=require_text(name, "name", max_length=API_KEY_NAME_MAX),
                 scope=parse_scope(scope), subscribers=bool(subscribers),
                 prefix=token[:API_KEY_PREFIX_LENGTH], key_hash=_hash_key(token),
                 created_by=actor or "system", created_at=now or utcnow())
    db.session.add(key)
    db.session.flush()
    add_audit_entry(actor, "api_key.create", "api_key", key.id,
                    f"{key.name} ({key.scope_label}, {key.prefix})")
    db.session.commit()
    return key, token


def all_api_keys() -> list[ApiKey]:
    """Every API key, active ones first, newest first."""
    return list(db.session.scalars(sa.select(ApiKey).order_by(
        ApiKey.revoked_at.is_not(None), ApiKey.created_at.desc(), ApiKey.id.desc())))


def get_api_key(key_id: object) -> ApiKey:
    """The API key with this id, or NotFound."""
    ident = parse_id(str(key_id))
    key = db.session.get(ApiKey, ident) if ident is not None else None
    if key is None:
        raise NotFound("No such API key.", "api_key_id")
    return key


def revoke_api_key(key: ApiKey, *, actor: str | None = None,
                   now: datetime | None = None) -> ApiKey:
    """Revoke a key: it stops working at once and stays listed as revoked."""
    if key.revoked_at is None:
        key.revoked_at = now or utcnow()
        add_audit_entry(actor, "api_key.revoke", "api_key", key.id, f"{key.name} ({key.prefix})")
        db.session.commit()
    return key


def authenticate_api_key(token: str | None, *, now: datetime | None = None) -> ApiKey | None:
    """The active key that ``token`` spells, or None; records when it was last used."""
    token = (token or "").strip()
    if not token.startswith(API_KEY_PREFIX) or len(token) > 200:
        return None
    digest = _hash_key(token)
    found = None
    candidates = db.session.scalars(
        sa.select(ApiKey).where(ApiKey.prefix == token[:API_KEY_PREFIX_LENGTH]))
    for candidate in candidates:
        # Compared in constant time, so response times reveal nothing about the stored hash.
        if hmac.compare_digest(candidate.key_hash, digest) and candidate.active:
            found = candidate
    if found is None:
        return None
    now = now or utcnow()
    if found.last_used_at is None or now - found.last_used_at >= LAST_USED_RESOLUTION:
        found.last_used_at = now
        db.session.commit()
    return found
