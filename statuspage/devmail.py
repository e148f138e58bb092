"""The development mail catcher: a local SMTP server whose messages the admin shows.

``flask dev`` starts it when ``DEV_MAIL_CATCHER`` is set, on MAIL_SERVER:MAIL_PORT, so that the
worker's emails land here instead of in real inboxes. Each message is written to a file under
``instance/devmail/`` (the newest ``KEEP`` are kept), which the web process reads: a newcomer
can open the confirmation email in the browser and follow its links. It listens on loopback
only; nothing here is meant for production.
"""

from __future__ import annotations

import ipaddress
import os
import re
import secrets
import socket
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from flask import Flask

KEEP = 200
SUFFIX = ".eml"
# File names are "<microseconds since the epoch>-<random>.eml": sortable, and a message id
# from a URL can be checked against this before it comes near the file system.
_MESSAGE_ID = re.compile(r"^[0-9]{16,20}-[0-9a-f]{8}$")
_LINK = re.compile(r"https?://[^\s<>\"')\]]+")


class CatcherError(Exception):
    """The catcher cannot start as configured."""


def mail_directory(app: Flask) -> Path:
    """Where caught messages are kept: ``instance/devmail/``."""
    return Path(app.instance_path) / "devmail"


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback addresses: the only places the catcher listens."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _Keeper:
    """The aiosmtpd handler: writes every message it accepts to a file, keeping the newest."""

    def __init__(self, directory: Path, keep: int) -> None:
        self.directory = directory
        self.keep = keep
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        now = datetime.now(UTC)
        name = f"{int(now.timestamp() * 1_000_000):016d}-{secrets.token_hex(4)}{SUFFIX}"
        recipients = ", ".join(envelope.rcpt_tos)
        # The envelope recipients are kept as a header: Bcc'd mail has no To of its own.
        content = f"X-Caught-For: {recipients}\r\n".encode() + envelope.content
        with self.lock:
            self.directory.mkdir(parents=True, exist_ok=True)
            partial = self.directory / (name + ".part")
            partial.write_bytes(content)
            os.replace(partial, self.directory / name)  # readers never see half a message
            for old in sorted(self.directory.glob(f"*{SUFFIX}"))[:-self.keep]:
                old.unlink(missing_ok=True)
        return "250 Message caught"


class MailCatcher:
    """An SMTP server on loopback that keeps what it receives under ``directory``."""

    def __init__(self, directory: Path, host: str = "127.0.0.1", port: int = 1025,
                 keep: int = KEEP) -> None:
        if not is_loopback(host):
            raise CatcherError(f"The mail catcher listens on loopback only, not on {host!r}; "
                               "set MAIL_SERVER=127.0.0.1.")
        self.directory = directory
        self.host = host
        self.port = port
        self.keep = keep
        self._controller: _BoundController | None = None

    def start(self) -> MailCatcher:
        """Listen in a background thread; CatcherError when the port is taken."""
        # Binding here fails at once on a taken port, where aiosmtpd would wait out a timeout.
        sock = socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host, self.port))
            sock.listen()
        except OSError as exc:
            sock.close()
            raise CatcherError(f"The mail catcher could not listen on {self.host}:{self.port}: "
                               f"{exc.strerror or exc}.") from None
        self._controller = _BoundController(_Keeper(self.directory, self.keep), sock)
        self._controller.start()
        return self

    def stop(self) -> None:
        """Stop listening."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


class _BoundController(Controller):
    """Serves on a socket bound beforehand."""

    def __init__(self, handler: _Keeper, sock: socket.socket) -> None:
        self._sock = sock
        host, port = sock.getsockname()[:2]
        super().__init__(handler, hostname=host, port=port, server_hostname="devmail.localhost")

    def _create_server(self) -> Any:
        return self.loop.create_server(self._factory_invoker, sock=self._sock)


def start_catcher(app: Flask) -> MailCatcher:
    """Start the catcher where the app sends its mail (MAIL_SERVER:MAIL_PORT)."""
    return MailCatcher(mail_directory(app), app.config["MAIL_SERVER"],
                       int(app.config["MAIL_PORT"])).start()


# --- reading what was caught -------------------------------------------------------------------

@dataclass(frozen=True)
class CaughtMessage:
    id: str
    received_at: datetime
    to: str
    sender: str
    subject: str
    message: EmailMessage

    @property
    def text(self) -> str:
        """The plain-text part, if any."""
        return _part(self.message, "plain")

    @property
    def html(self) -> str:
        """The HTML part, if any."""
        return _part(self.message, "html")

    @property
    def links(self) -> list[str]:
        """The web links in the message (text part first), each once, in order."""
        found = _LINK.findall(self.text) or _LINK.findall(self.html)
        return list(dict.fromkeys(link.rstrip(".,;") for link in found))

    @property
    def headers(self) -> list[tuple[str, str]]:
        """Every header as (name, value)."""
        return [(name, str(value)) for name, value in self.message.items()]


def _part(message: EmailMessage, subtype: str) -> str:
    part = message.get_body(preferencelist=(subtype,))
    if part is None:
        return ""
    try:
        return str(part.get_content())
    except (LookupError, ValueError):
        return ""


def _read(path: Path) -> CaughtMessage:
    message = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
    stamp = int(path.stem.split("-", 1)[0])
    return CaughtMessage(
        id=path.stem,
        received_at=datetime.fromtimestamp(stamp / 1_000_000, UTC),
        to=str(message["To"] or message["X-Caught-For"] or ""),
        sender=str(message["From"] or ""),
        subject=str(message["Subject"] or "(no subject)"),
        message=message,  # type: ignore[arg-type]
    )


def caught_messages(directory: Path, *, limit: int = KEEP) -> list[CaughtMessage]:
    """The caught messages, newest first."""
    if not directory.is_dir():
        return []
    paths = sorted(directory.glob(f"*{SUFFIX}"), reverse=True)[:limit]
    messages = []
    for path in paths:
        try:
            messages.append(_read(path))
        except (OSError, ValueError):  # pruned while we looked
            continue
    return messages


def caught_message(directory: Path, message_id: str) -> CaughtMessage | None:
    """One caught message by its id, or None (also for an id that is not one of ours)."""
    if not _MESSAGE_ID.fullmatch(message_id):
        return None
    try:
        return _read(directory / f"{message_id}{SUFFIX}")
    except (OSError, ValueError):
        return None
