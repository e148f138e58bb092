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


def _reply(code: int, text: bytes) -> str:
    return f"{code} {text.decode('utf-8', 'replace')}".strip()


class SmtpConnection:
    """One connection to the relay (``channels.Connection``).

    smtplib greets the relay, starts TLS and logs in; messages then go out on the socket
    directly, so that the replies to pipelined commands can be read in one go.
    """

    def __init__(self) -> None:
        config = current_app.config
        self.step = _timeout()
        cls = smtplib.SMTP_SSL if config["MAIL_USE_SSL"] else smtplib.SMTP
        try:
            self.smtp = cls(config["MAIL_SERVER"], config["MAIL_PORT"], timeout=self.step)
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
        self.sock = self.smtp.sock
        self.pipelining = self.smtp.has_extn("pipelining")
        self.deadline = 0.0
        self.buffer = b""

    def _arm(self) -> None:
        left = min(self.step, self.deadline - time.monotonic())
        if left <= 0:
            raise TimeoutError(f"the relay did not take the message within {self.step:g} s")
        self.sock.settimeout(left)

    def _write(self, data: bytes) -> None:
        self._arm()
        self.sock.sendall(data)

    def _replies(self, count: int) -> list[tuple[int, bytes]]:
        """Read ``count`` replies (multi-line ones whole), within the message's deadline."""
        replies: list[tuple[int, bytes]] = []
        lines: list[bytes] = []
        while len(replies) < count:
            end = self.buffer.find(b"\r\n")
            if end < 0:
                self._arm()
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise ConnectionResetError("the relay closed the connection")
                self.buffer += chunk
                continue
            line, self.buffer = self.buffer[:end], self.buffer[end + 2:]
            lines.append(line[4:])
            if line[3:4] != b"-":  # the last line of this reply
                try:
                    code = int(line[:3])
                except ValueError:
                    raise ConnectionResetError(f"the relay answered {line[:40]!r}") from None
                replies.append((code, b"\n".join(lines)))
                lines = []
        return replies

    def send(self, sender: str, recipient: str, payload: bytes) -> None:
        """Send one message within the deadline; Refused or Broken otherwise."""
        self.deadline = time.monotonic() + self.step
        try:
            self._transaction(sender, recipient, payload)
        except (OSError, ValueError) as exc:
            self.smtp.close()
            raise Broken(f"{type(exc).__name__}: {exc or 'no answer'}") from None

    def _transaction(self, sender: str, recipient: str, payload: bytes) -> None:
        commands = [f"MAIL FROM:<{sender}>\r\n".encode("ascii"),
                    f"RCPT TO:<{recipient}>\r\n".encode("ascii"), b"DATA\r\n"]
        if self.pipelining:
            self._write(b"".join(commands))
            replies = self._replies(3)
        else:
            replies = []
            for command in commands:
                self._write(command)
                replies += self._replies(1)
                if replies[-1][0] >= 400:
                    break
        failed = next(((code, text) for code, text in replies[:2] if code >= 300), None)
        data_code = replies[-1][0]
        if failed is None and data_code == 354:
            # The payload is CRLF throughout; lines starting with "." are doubled (RFC 5321).
            if payload[:1] == b"." or b"\n." in payload:
                payload = _DOT.sub(b"..", payload)
            self._write(payload + (b".\r\n" if payload.endswith(b"\r\n") else b"\r\n.\r\n"))
            [(code, text)] = self._replies(1)
            if code != 250:
                raise Refused(_reply(code, text), permanent=500 <= code < 600,
                              closing=code == 421)
            return
        if data_code == 354:  # pipelined DATA accepted though the recipient was not
            self._write(b".\r\n")
            self._replies(1)
        code, text = failed or replies[-1]
        if code == 421:
            raise Refused(_reply(code, text), permanent=False, closing=True)
        self._write(b"RSET\r\n")
        self._replies(1)
        raise Refused(_reply(code, text), permanent=500 <= code < 600)

    def close(self) -> None:
        """Say QUIT when the connection still works; close the socket in any case."""
        try:
            self.deadline = time.monotonic() + min(self.step, 5.0)
            self._write(b"QUIT\r\n")
            self._replies(1)
        except (OSError, ValueError):
            pass
        finally:
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
