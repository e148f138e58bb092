"""A real SMTP server on loopback for the tests that send mail, and a guard for those that don't.

``smtp`` starts an aiosmtpd server on 127.0.0.1 (a free port), points the app's mail settings
at it and records every message it accepts. It can be told to answer a reply code to the next
recipients (451, 550, ...) or be stopped and started again on the same port. Any other test that
opens an SMTP connection fails at once, so no test can send mail by accident.
"""

from __future__ import annotations

import smtplib
import socket
import threading
from collections import deque
from collections.abc import Iterator
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from flask import Flask

from statuspage.extensions import mail

HOST = "127.0.0.1"


class Recorder:
    """The aiosmtpd handler: refuses recipients as told, records what it accepts."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.raw: list[bytes] = []  # each message exactly as the server received it
        self.refusals: deque[tuple[str | None, str]] = deque()
        self.lock = threading.Lock()

    def refusal_for(self, address: str) -> str | None:
        """The reply that refuses ``address``, or None to accept it (a subclass may choose)."""
        with self.lock:
            for index, (target, reply) in enumerate(self.refusals):
                if target is None or target == address:
                    del self.refusals[index]
                    return reply
        return None

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: list[str]) -> str:
        reply = self.refusal_for(address)
        if reply is not None:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = BytesParser(policy=policy.default).parsebytes(envelope.content)
        with self.lock:
            self.messages.append(message)  # type: ignore[arg-type]
            self.raw.append(envelope.original_content or envelope.content)
        return "250 Message accepted for delivery"


class _BoundController(Controller):
    """A controller that serves on a socket bound beforehand (so port 0 works)."""

    def __init__(self, handler: Any, sock: socket.socket) -> None:
        self._sock = sock
        super().__init__(handler, hostname=HOST, port=sock.getsockname()[1],
                         server_hostname="smtp.test")

    def _create_server(self) -> Any:
        return self.loop.create_server(self._factory_invoker, sock=self._sock)


class SmtpServer:
    """A recording SMTP server on loopback that can refuse mail and go down on request."""

    def __init__(self) -> None:
        self.handler = Recorder()
        self.port = 0
        self._controller: _BoundController | None = None

    @property
    def messages(self) -> list[EmailMessage]:
        with self.handler.lock:
            return list(self.handler.messages)

    def raw_to(self, address: str) -> list[bytes]:
        """The raw bytes of the messages accepted for ``address``, as they arrived."""
        with self.handler.lock:
            return [raw for raw, message in zip(self.handler.raw, self.handler.messages,
                                                strict=True) if address in str(message["To"])]

    def to(self, address: str) -> list[EmailMessage]:
        """The messages accepted for ``address``."""
        return [m for m in self.messages if address in str(m["To"])]

    def refuse(self, reply: str, *, address: str | None = None, times: int = 1) -> None:
        """Answer ``reply`` (e.g. "451 4.3.0 Try later") to the next ``times`` recipients."""
        with self.handler.lock:
            self.handler.refusals.extend([(address, reply)] * times)

    def clear(self) -> None:
        """Forget the messages received so far."""
        with self.handler.lock:
            self.handler.messages.clear()
            self.handler.raw.clear()

    def start(self) -> None:
        """Listen (again) on the same port."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((HOST, self.port))
        sock.listen()
        self.port = sock.getsockname()[1]
        self._controller = _BoundController(self.handler, sock)
        self._controller.start()

    def stop(self) -> None:
        """Stop listening: connections are refused until ``start``."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    @property
    def running(self) -> bool:
        return self._controller is not None


def body_of(message: EmailMessage, subtype: str = "plain") -> str:
    """The text (``plain``) or HTML (``html``) part of a received message."""
    part = message.get_body(preferencelist=(subtype,))
    assert part is not None, f"no text/{subtype} part"
    return part.get_content()


@pytest.fixture
def smtp(app: Flask) -> Iterator[SmtpServer]:
    """A real SMTP server on loopback, with the app's mail settings pointing at it."""
    server = SmtpServer()
    server.start()
    app.config.update(MAIL_SERVER=HOST, MAIL_PORT=server.port, MAIL_USE_TLS=False,
                      MAIL_USE_SSL=False, MAIL_USERNAME=None, MAIL_PASSWORD=None,
                      MAIL_SUPPRESS_SEND=False)
    mail.init_app(app)  # Flask-Mail copies its settings when bound
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(autouse=True)
def _no_smtp_without_the_smtp_fixture(request: pytest.FixtureRequest,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail a test that opens an SMTP connection without asking for the ``smtp`` server."""
    if "smtp" in request.fixturenames:
        return

    def refuse(self: smtplib.SMTP, host: str = "localhost", port: int = 0,
               source_address: Any = None) -> Any:
        pytest.fail(f"The test opened an SMTP connection to {host}:{port}; use the smtp "
                    "fixture to send mail.")

    monkeypatch.setattr(smtplib.SMTP, "connect", refuse)
