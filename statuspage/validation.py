"""Domain errors that every room raises and every view answers; checks of text and addresses."""

from __future__ import annotations

import re

from email_validator import EmailNotValidError, validate_email


class DomainError(Exception):
    """Base of the errors an operation raises for a request it refuses."""

    status_code = 400

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class ValidationError(DomainError):
    """Input that breaks a rule: the message says which field and why."""

    status_code = 422


class NotFound(DomainError):
    """The thing asked for does not exist."""

    status_code = 404


class Conflict(DomainError):
    """The request is valid but the current state forbids it."""

    status_code = 409


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_LINE_BREAK = re.compile(r"[\r\n\u2028\u2029]")


ADDRESS_MAX = 254


def normalise_email(value: str | None) -> str:
    """A valid address that our mail transport can deliver to, lower-cased; else
    ValidationError. One rule for staff and subscribers.

    The domain is kept in its ASCII form (IDNA, ``xn--``), which is what the transport sends,
    so that both spellings of an internationalised domain are one address. Local parts must
    be ASCII (our relay path does not speak SMTPUTF8) and at most 64 characters (RFC 5321):
    such addresses used to be accepted and then fail at send time.
    """
    text = (value or "").strip()
    if not text or len(text) > ADDRESS_MAX:
        raise ValidationError("Enter a valid email address.", "email")
    try:
        valid = validate_email(text, check_deliverability=False, allow_smtputf8=False,
                               strict=True)
        address = valid.ascii_email
        address.encode("ascii")
    except (EmailNotValidError, UnicodeError, AttributeError):
        local = text.rpartition("@")[0]
        if not local.isascii():
            raise ValidationError("Letters outside ASCII before the @ cannot be used: enter "
                                  "another address.", "email") from None
        raise ValidationError("Enter a valid email address.", "email") from None
    if len(address) > ADDRESS_MAX:
        raise ValidationError("Enter a valid email address.", "email")
    return address.lower()


def require_text(value: str | None, field: str, *, max_length: int, required: bool = True,
                 multiline: bool = False) -> str:
    """Strip ``value`` and check that it is present (if required), not too long, and free of
    control characters (and of line breaks, unless ``multiline``)."""
    text = (value or "").strip()
    label = field.replace("_", " ").capitalize()
    if _CONTROL.search(text) or (not multiline and _LINE_BREAK.search(text)):
        raise ValidationError(f"{label} contains characters that are not allowed "
                              "(control characters or line breaks).", field)
    if required and not text:
        raise ValidationError(f"{field.replace('_', ' ').capitalize()} must not be empty.", field)
    if len(text) > max_length:
        raise ValidationError(
            f"{field.replace('_', ' ').capitalize()} must be at most {max_length} characters.",
            field,
        )
    return text

