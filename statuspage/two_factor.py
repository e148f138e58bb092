"""The second sign-in factor of ops users: TOTP codes from an authenticator app (RFC 6238),
recovery codes for a lost phone, and the admins' rule that every user must have it.

The TOTP secret is kept to check codes; recovery codes are kept as SHA-256 only (each is 80
random bits, so a fast hash is enough) and shown once. A code, once accepted, is never
accepted again: the time step it belongs to is remembered, so a code read over a shoulder is
spent. Turning the factor on or off, or an admin's reset, ends the user's other sessions.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import datetime

import pyotp
import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from .audit import add_audit_entry
from .dbtypes import UTCDateTime, utcnow
from .extensions import db
from .staff import User, end_sessions_of
from .validation import Conflict, ValidationError

RECOVERY_CODES = 10
_CODE_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i to misread
_CODE_LENGTH = 16  # 16 of 31 letters: 79 bits
POLICY_ID = 1
WRONG_CODE = "That code is not right. Enter the six digits your app shows now, or a recovery code."


class RecoveryCode(db.Model):
    __tablename__ = "staff_recovery_code"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("staff_user.id", ondelete="CASCADE"),
                                         index=True)
    code_hash: Mapped[str] = mapped_column(sa.String(64))
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class StaffPolicy(db.Model):
    """Rules for every ops user; one row, absent until an admin sets one."""

    __tablename__ = "staff_policy"

    id: Mapped[int] = mapped_column(primary_key=True)
    require_two_factor: Mapped[bool] = mapped_column(default=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# --- the rule for everyone -----------------------------------------------------------------------

def two_factor_required() -> bool:
    """Whether every ops user must sign in with a second factor."""
    policy = db.session.get(StaffPolicy, POLICY_ID)
    return bool(policy and policy.require_two_factor)


def set_two_factor_required(required: bool, *, actor: str | None = None) -> StaffPolicy:
    """Require a second factor of every ops user (those without one enrol at their next
    console page), or stop requiring it."""
    policy = db.session.get(StaffPolicy, POLICY_ID) or StaffPolicy(id=POLICY_ID)
    policy.require_two_factor = bool(required)
    policy.updated_at = utcnow()
    db.session.add(policy)
    add_audit_entry(actor, "staff.two_factor_policy", "staff_policy", POLICY_ID,
                    "required for everyone" if required else "optional")
    db.session.commit()
    return policy


# --- enrolling and leaving -----------------------------------------------------------------------

def begin_two_factor(user: User) -> str:
    """A new secret for the user's app; it takes effect once a code from it is confirmed."""
    if user.two_factor_enabled:
        raise Conflict("Two-factor sign-in is on already.", "code")
    user.totp_secret = pyotp.random_base32()
    user.totp_last_step = None
    db.session.commit()
    return user.totp_secret


def enable_two_factor(user: User, code: str, *, now: datetime | None = None) -> list[str]:
    """Turn the second factor on with a code from the new secret; returns the recovery
    codes, which are shown this once. The user's other sessions end."""
    now = now or utcnow()
    if user.two_factor_enabled or not user.totp_secret:
        raise Conflict("Start setting up two-factor sign-in first.", "code")
    if not _accept_totp(user, code, now):
        raise ValidationError(WRONG_CODE, "code")
    user.totp_enabled_at = now
    codes = _replace_recovery_codes(user)
    end_sessions_of(user)
    add_audit_entry(user.email, "user.two_factor_on", "user", user.id, user.email)
    db.session.commit()
    return codes


def disable_two_factor(user: User, code: str, *, now: datetime | None = None) -> User:
    """Turn the second factor off, with a current code; refused while it is required."""
    if two_factor_required():
        raise Conflict("Two-factor sign-in is required for everyone on this page.", "code")
    if not user.two_factor_enabled or not _accept_any(user, code, now or utcnow()):
        db.session.rollback()
        raise ValidationError(WRONG_CODE, "code")
    _clear(user)
    add_audit_entry(user.email, "user.two_factor_off", "user", user.id, user.email)
    db.session.commit()
    return user


def reset_two_factor(user: User, *, actor: str | None = None) -> User:
    """Take the second factor away, as an admin does for a lost phone: the user signs in
    with the password alone (and enrols again when it is required)."""
    _clear(user)
    add_audit_entry(actor, "user.two_factor_reset", "user", user.id, user.email)
    db.session.commit()
    return user


def new_recovery_codes(user: User, code: str, *, now: datetime | None = None) -> list[str]:
    """A fresh set of recovery codes for a current code; the old ones stop working."""
    if not user.two_factor_enabled or not _accept_totp(user, code, now or utcnow()):
        db.session.rollback()
        raise ValidationError(WRONG_CODE, "code")
    codes = _replace_recovery_codes(user)
    add_audit_entry(user.email, "user.recovery_codes", "user", user.id, user.email)
    db.session.commit()
    return codes


def recovery_codes_left(user: User) -> int:
    """How many of the user's recovery codes are unused."""
    return db.session.scalar(sa.select(sa.func.count(RecoveryCode.id)).where(
        RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))) or 0


# --- signing in ----------------------------------------------------------------------------------

def check_second_factor(user: User, code: str, *, source: str | None = None,
                        now: datetime | None = None) -> bool:
    """Whether ``code`` (from the app, or an unused recovery code) completes the user's sign
    in; it is spent either way it was right, and a wrong one is audited."""
    if user.two_factor_enabled and _accept_any(user, code, now or utcnow()):
        db.session.commit()
        return True
    db.session.rollback()
    add_audit_entry(user.email, "user.login_failed", "user", user.id,
                    f"wrong code, from {source or 'an unknown address'}")
    db.session.commit()
    return False


def _accept_any(user: User, code: str, now: datetime) -> bool:
    return _accept_totp(user, code, now) or _accept_recovery(user, code, now)


def _accept_totp(user: User, code: str, now: datetime) -> bool:
    digits = re.sub(r"\s", "", code or "")
    if not (user.totp_secret and digits.isdigit() and len(digits) == 6):
        return False
    totp = pyotp.TOTP(user.totp_secret)
    step = totp.timecode(now)
    for candidate in (step - 1, step, step + 1):  # a clock half a minute off still works
        if candidate > (user.totp_last_step if user.totp_last_step is not None else -1) and \
                hmac.compare_digest(totp.generate_otp(candidate), digits):
            user.totp_last_step = candidate
            return True
    return False


def _accept_recovery(user: User, code: str, now: datetime) -> bool:
    found = db.session.scalar(sa.select(RecoveryCode).where(
        RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None),
        RecoveryCode.code_hash == _digest(code)))
    if found is None:
        return False
    found.used_at = now
    return True


def _digest(code: str) -> str:
    return hashlib.sha256(re.sub(r"[\s-]", "", code or "").lower().encode()).hexdigest()


def _replace_recovery_codes(user: User) -> list[str]:
    db.session.execute(sa.delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = ["".join(secrets.choice(_CODE_ALPHABET) for _ in range(_CODE_LENGTH))
             for _ in range(RECOVERY_CODES)]
    db.session.add_all(RecoveryCode(user_id=user.id, code_hash=_digest(c)) for c in codes)
    return ["-".join(c[i:i + 4] for i in range(0, _CODE_LENGTH, 4)) for c in codes]


def _clear(user: User) -> None:
    user.totp_secret = user.totp_enabled_at = user.totp_last_step = None
    db.session.execute(sa.delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    end_sessions_of(user)
