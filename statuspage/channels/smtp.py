"""Email out through the SMTP relay of the ``MAIL_*`` settings (Flask-Mail's connection).

A session is one connection that sends message after message; a refusal of one message
(``SMTPRecipientsRefused``, a 4xx or 5xx reply) leaves the connection usable for the next, and
``classify`` says whether it is worth retrying.
"""

from __future__ import annotations

import smtplib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import current_app
from flask_mail import Message

from ..extensions import mail
from ..validation import DomainError

# A refusal of one message, after which the connection still serves the next.
REFUSED = (smtplib.SMTPRecipientsRefused, smtplib.SMTPResponseException)
# No connection, or it broke: nothing more goes through it.
BROKEN = (OSError, smtplib.SMTPException)


class MailError(DomainError):
    """The mail relay could not be reached, or refused the email."""

    status_code = 502


def relay() -> str:
    """The relay as people name it: host:port."""
    return f"{current_app.config['MAIL_SERVER']}:{current_app.config['MAIL_PORT']}"


@contextmanager
def session() -> Iterator[Any]:
    """One connection to the relay; ``send(message)`` on it sends one message."""
    with mail.connect() as connection:
        yield connection


def classify(exc: Exception) -> tuple[bool, str]:
    """(permanent?, description) of an exception raised while sending one message."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        code, reply = next(iter(exc.recipients.values()), (0, b""))
    elif isinstance(exc, smtplib.SMTPResponseException):
        code, reply = exc.smtp_code, exc.smtp_error
    else:
        return False, f"{type(exc).__name__}: {exc}"
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    return 500 <= code < 600, f"{code} {text}".strip()


def send_now(message: Message) -> None:
    """Send one message on a connection of its own; MailError in the relay's own words."""
    try:
        with session() as connection:
            connection.send(message)
    except REFUSED as exc:
        raise MailError(f"The relay {relay()} refused the email: {classify(exc)[1]}",
                        "address") from None
    except BROKEN as exc:
        raise MailError(f"Could not send through {relay()}: {type(exc).__name__}: {exc}",
                        "address") from None
