"""Email out through the SMTP relay of the ``MAIL_*`` settings, with a deadline on every step.

Each command and each whole message must be answered within ``MAIL_TIMEOUT_SECONDS``, so a
relay that accepts the connection and then stays silent ends the batch instead of freezing
the worker. When the relay offers PIPELINING (RFC 2920), MAIL, RCPT and DATA go out in one
write and their replies are read together: two round trips per message instead of four.
"""

from __future__ import annotations

import re
import smtplib
import time

from flask import current_app

from . import Broken, Refused

_DOT = re.compile(rb"(?m)^\.")


def relay() -> str:
    """The relay as people name it: host:port."""
    return f"{current_app.config['MAIL_SERVER']}:{current_app.config['MAIL_PORT']}"


def _timeout() -> float:
    return float(max(current_app.config["MAIL_TIMEOUT_SECONDS"], 1))


class _Deadlined:
    """Arms the socket before each read and write with what is left of the step's time."""

    sock: object

    def __init__(self, host: str, port: int, step: float) -> None:
        self.step, self.deadline = step, None
        super().__init__(host, port, timeout=step)  # type: ignore[call-arg]

    def _arm(self) -> None:
        left = self.step if self.deadline is None else min(self.step,
                                                            self.deadline - time.monotonic())
        if left <= 0:
            raise TimeoutError(f"the relay did not finish the message within {self.step:g} s")
        if self.sock is not None:
            self.sock.settimeout(left)  # type: ignore[attr-defined]

    def send(self, s: bytes | str) -> None:
        self._arm()
        super().send(s)  # type: ignore[misc]

    def getreply(self) -> tuple[int, bytes]:
        self._arm()
        return super().getreply()  # type: ignore[misc]


class _SMTP(_Deadlined, smtplib.SMTP):
    pass


class _SMTPSSL(_Deadlined, smtplib.SMTP_SSL):
    pass


def _reply(code: int, text: bytes) -> str:
    return f"{code} {text.decode('utf-8', 'replace')}".strip()


class SmtpConnection:
    """One connection to the relay (``channels.Connection``)."""

    def __init__(self) -> None:
        config = current_app.config
        step = _timeout()
        cls = _SMTPSSL if config["MAIL_USE_SSL"] else _SMTP
        try:
            self.smtp = cls(config["MAIL_SERVER"], config["MAIL_PORT"], step)
            self.smtp.ehlo()
            if config["MAIL_USE_TLS"]:
                self.smtp.starttls()
                self.smtp.ehlo()
            if config["MAIL_USERNAME"]:
                self.smtp.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"] or "")
        except smtplib.SMTPResponseException as exc:
            raise Broken(f"The relay {relay()} refused the connection: "
                         f"{_reply(exc.smtp_code, exc.smtp_error)}") from None
        except (OSError, smtplib.SMTPException) as exc:
            raise Broken(f"{type(exc).__name__}: {exc or 'no answer'}") from None
        self.step = step
        self.pipelining = self.smtp.has_extn("pipelining")

    def send(self, sender: str, recipient: str, payload: bytes) -> None:
        """Send one message within the deadline; Refused or Broken otherwise."""
        smtp = self.smtp
        smtp.deadline = time.monotonic() + self.step
        try:
            self._transaction(sender, recipient, payload)
        except (OSError, smtplib.SMTPException) as exc:
            raise Broken(f"{type(exc).__name__}: {exc or 'no answer'}") from None
        finally:
            smtp.deadline = None

    def _transaction(self, sender: str, recipient: str, payload: bytes) -> None:
        smtp = self.smtp
        commands = [f"MAIL FROM:<{sender}>", f"RCPT TO:<{recipient}>", "DATA"]
        if self.pipelining:
            smtp.send("".join(f"{c}\r\n" for c in commands))
            replies = [smtp.getreply() for _ in commands]
        else:
            replies = []
            for command in commands:
                smtp.putcmd(command)
                replies.append(smtp.getreply())
                if replies[-1][0] >= 400:
                    break
        failed = next(((code, text) for code, text in replies[:2] if code >= 300), None)
        data_code, data_text = replies[-1]
        if failed is None and data_code == 354:
            # The payload is CRLF throughout; lines starting with "." are doubled (RFC 5321).
            body = _DOT.sub(b"..", payload) if payload[:1] == b"." or b"\n." in payload else payload
            smtp.send(body + (b".\r\n" if body.endswith(b"\r\n") else b"\r\n.\r\n"))
            code, text = smtp.getreply()
            if code != 250:
                raise Refused(_reply(code, text), permanent=500 <= code < 600,
                              closing=code == 421)
            return
        if data_code == 354:  # pipelined DATA accepted though the recipient was not
            smtp.send(b".\r\n")
            smtp.getreply()
        code, text = failed or (data_code, data_text)
        if code == 421:
            raise Refused(_reply(code, text), permanent=False, closing=True)
        smtp.rset()
        raise Refused(_reply(code, text), permanent=500 <= code < 600)

    def close(self) -> None:
        """Say QUIT when the connection still works; close the socket in any case."""
        try:
            self.smtp.deadline = time.monotonic() + min(self.step, 5.0)
            self.smtp.quit()
        except (OSError, smtplib.SMTPException):
            self.smtp.close()


def connect() -> SmtpConnection:
    """A connection to the relay, greeted (EHLO), secured and logged in as configured."""
    return SmtpConnection()


def send_now(sender: str, recipient: str, payload: bytes) -> None:
    """Send one message on a connection of its own; Refused or Broken as the relay answers."""
    connection = connect()
    try:
        connection.send(sender, recipient, payload)
    finally:
        connection.close()
