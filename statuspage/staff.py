"""Ops users and their roles; reading the audit log."""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from email_validator import EmailNotValidError, validate_email
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, mapped_column
from werkzeug.security import check_password_hash, generate_password_hash

from .audit import AuditEntry, _record
from .dbtypes import UTCDateTime, enum_column, utcnow
from .errors import Conflict, NotFound, ValidationError
from .extensions import db

PASSWORD_MIN = 10
PASSWORD_MAX = 200
# Compared against when the email is unknown, so a login takes as long either way.
_DUMMY_HASH = generate_password_hash("statuspage-timing-equaliser")


class Role(enum.StrEnum):
    ADMIN = "admin"
    EDITOR = "editor"


class User(UserMixin, db.Model):
    __tablename__ = "staff_user"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    role: Mapped[Role] = mapped_column(enum_column(Role, "role"), default=Role.EDITOR)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive users
        return self.active

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN


def normalise_email(value: str | None) -> str:
    """A syntactically valid address, lower-cased; ValidationError otherwise."""
    text = (value or "").strip()
    if not text or len(text) > 254:
        raise ValidationError("Enter a valid email address.", "email")
    try:
        valid = validate_email(text, check_deliverability=False)
    except EmailNotValidError:
        raise ValidationError("Enter a valid email address.", "email") from None
    return valid.normalized.lower()


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


def get_user(user_id: object) -> User:
    """The user with this id, or NotFound."""
    try:
        user = db.session.get(User, int(str(user_id)))
    except ValueError:
        user = None
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
    user = User(email=address, password_hash=generate_password_hash(_check_password(password)),
                role=parse_role(role), active=True)
    db.session.add(user)
    db.session.flush()
    _record(actor, "user.create", "user", user.id, f"{address} ({user.role})")
    db.session.commit()
    return user


def update_user(user: User, *, actor: str | None = None,
                role: Role | str | None = None, active: bool | None = None,
                password: str | None = None) -> User:
    """Change a user's role, active flag or password; nobody may lock out the last admin."""
    was_admin = user.is_admin and user.active
    if role is not None:
        user.role = parse_role(role)
    if active is not None:
        user.active = bool(active)
    if password:
        user.password_hash = generate_password_hash(_check_password(password))
    if was_admin and not _has_active_admin():
        db.session.rollback()
        raise Conflict("The page needs at least one active admin.", "role")
    _record(actor, "user.update", "user", user.id, user.email)
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
    _record(actor, "user.delete", "user", user.id, user.email)
    db.session.commit()


def _has_active_admin() -> bool:
    db.session.flush()
    return bool(db.session.scalar(
        sa.select(sa.func.count(User.id)).where(User.role == Role.ADMIN, User.active.is_(True))))


def authenticate(email: str, password: str, *, now: datetime | None = None) -> User | None:
    """The active user with these credentials, or None; records the login time."""
    user = find_user_by_email(email)
    if user is None or not user.active:
        check_password_hash(_DUMMY_HASH, password or "")
        return None
    if not check_password_hash(user.password_hash, password or ""):
        return None
    user.last_login_at = now or utcnow()
    _record(user.email, "user.login", "user", user.id)
    db.session.commit()
    return user


def audit_log(*, page: int = 1, per_page: int = 50) -> tuple[list[AuditEntry], bool]:
    """One page of the audit log, newest first, and whether an older page exists."""
    page = max(page, 1)
    rows = list(db.session.scalars(
        sa.select(AuditEntry).order_by(AuditEntry.created_at.desc(), AuditEntry.id.desc())
        .offset((page - 1) * per_page).limit(per_page + 1)
    ))
    return rows[:per_page], len(rows) > per_page
