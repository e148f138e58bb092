"""The ways a message leaves: one module per channel, each behind the same small interface.

A channel opens a ``Connection`` (``connect()``) that sends prepared payloads one by one. A
refusal of one message raises ``Refused`` (permanent or not, in the remote side's words) and
leaves the connection usable; ``Broken`` means nothing more goes through it. The sending loop
in ``notifications`` knows only this interface, so another channel (a webhook, Slack) plugs in
beside SMTP with a connect function and a renderer of its own.
"""

from __future__ import annotations

from typing import Protocol


class Refused(Exception):
    """The remote side refused this one message; ``permanent`` when retrying is pointless."""

    def __init__(self, reply: str, *, permanent: bool, closing: bool = False) -> None:
        super().__init__(reply)
        self.reply = reply
        self.permanent = permanent
        self.closing = closing  # the remote side also closed the connection (SMTP 421)


class Broken(Exception):
    """No connection, or it broke or stalled: nothing more goes through it."""


class Connection(Protocol):
    """An open connection that sends one prepared message at a time."""

    def send(self, sender: str, recipient: str, payload: bytes) -> None:
        """Send one message; raises Refused or Broken."""

    def close(self) -> None:
        """Close the connection (politely when it still works)."""
