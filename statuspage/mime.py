"""MIME messages built once, then filled per recipient by joining bytes.

A ``MessageTemplate`` is a multipart text-and-HTML message whose shared headers are folded and
encoded once (RFC 2047 only where a header needs it) and whose parts are quoted-printable
encoded once, around *slots*: markers for the few personal values (address, links). Filling
it encodes only those values and joins the pieces. Each value sits between two soft line
breaks (``=\\r\\n``, which decoders remove), so neither it nor the text around it can push a
line past 76 characters, wherever the slot falls. The personal headers (To, Message-ID, Date,
List-Unsubscribe) are written raw on one line each: they are ASCII, and a URL in
``List-Unsubscribe`` must reach mail providers as ``<https://...>``, never encoded.
"""

from __future__ import annotations

import binascii
import re
import secrets
import time
from collections.abc import Mapping, Sequence
from email import policy
from email.utils import formatdate

_POLICY = policy.SMTP
_SOFT_BREAK = b"=\r\n"
# Printable ASCII without "=" and space: such a value needs no quoted-printable escapes.
_PLAIN = re.compile(rb"[!-<>-~]*")
_HEADER_VALUE = re.compile(r"[ -~]*")


def header(name: str, value: str) -> bytes:
    """One header, folded at 78 columns and RFC 2047-encoded only where it is not ASCII."""
    return _POLICY.fold(name, _POLICY.header_factory(name, value)).encode("ascii")


def raw_header(name: str, value: str) -> bytes:
    """One header written as it is, on one line: printable ASCII only (ValueError else)."""
    if not _HEADER_VALUE.fullmatch(value) or len(name) + len(value) > 990:
        raise ValueError(f"{name} must be printable ASCII on one line")
    return f"{name}: {value}\r\n".encode("ascii")


def _no_leading_dots(encoded: bytes) -> bytes:
    """Write a dot that starts a line as "=2E" (quoted-printable for "."), re-wrapping the
    line if that makes it too long: with no line starting with ".", SMTP's dot-stuffing
    pass over each message is not needed."""
    if not (encoded[:1] == b"." or b"\r\n." in encoded):
        return encoded
    out = []
    for line in encoded.split(b"\r\n"):
        while line[:1] == b".":
            line = b"=2E" + line[1:]
            if len(line) <= 76:
                break
            cut = 75
            while b"=" in line[cut - 2:cut]:  # never inside an =XX escape
                cut -= 1
            out.append(line[:cut] + b"=")
            line = line[cut:]
        out.append(line)
    return b"\r\n".join(out)


def _qp_text(text: str) -> bytes:
    data = text.replace("\r\n", "\n").replace("\r", "\n").encode("utf-8")
    return _no_leading_dots(binascii.b2a_qp(data, istext=True).replace(b"\n", b"\r\n"))


def qp_value(value: str) -> bytes:
    """One personal value, quoted-printable, wrapped with soft breaks to fit 76 columns."""
    data = value.encode("utf-8")
    if _PLAIN.fullmatch(data):
        encoded = _SOFT_BREAK.join(data[i:i + 75] for i in range(0, len(data), 75))
    else:
        encoded = binascii.b2a_qp(data).replace(b"\n", b"\r\n")
    return _no_leading_dots(encoded)


class _Part:
    """One text part: its header, and its body as encoded pieces and slot names in turn."""

    def __init__(self, subtype: str, body: str, slot: re.Pattern[str]) -> None:
        self.head = (f'Content-Type: text/{subtype}; charset="utf-8"\r\n'
                     "Content-Transfer-Encoding: quoted-printable\r\n\r\n").encode("ascii")
        pieces = slot.split(body)
        # re.split alternates text and the captured slot names: text, name, text, ...
        self.pieces: list[bytes | str] = [
            _qp_text(piece) if index % 2 == 0 else piece for index, piece in enumerate(pieces)]

    def fill(self, values: Mapping[str, bytes]) -> bytes:
        out = [self.head]
        for index, piece in enumerate(self.pieces):
            if index % 2 == 0:
                out.append(piece)  # type: ignore[arg-type]
            else:
                out += (_SOFT_BREAK, values[piece], _SOFT_BREAK)  # type: ignore[index]
        return b"".join(out)


class MessageTemplate:
    """A text-and-HTML email rendered once, with slots for each recipient's own values."""

    def __init__(self) -> None:
        self._marker = secrets.token_hex(8)  # unguessable, so no content can forge a slot
        self._slot = re.compile(f"\x00{self._marker}:([a-z_]+)\x00")
        self._head = b""
        self._parts: list[_Part] = []
        self._boundary = b""

    def slot(self, name: str) -> str:
        """The marker to render in place of the personal value ``name``."""
        return f"\x00{self._marker}:{name}\x00"

    def build(self, headers: Sequence[tuple[str, str]], text: str, html: str) -> None:
        """Encode the shared headers and both parts (rendered with ``slot`` markers) once."""
        # "=_" never occurs in quoted-printable text, so the boundary cannot collide with it.
        boundary = f"=_{secrets.token_hex(16)}"
        self._boundary = boundary.encode("ascii")
        self._head = b"".join([header(name, value) for name, value in headers] + [
            b"MIME-Version: 1.0\r\n",
            f'Content-Type: multipart/alternative;\r\n boundary="{boundary}"\r\n'.encode("ascii"),
        ])
        self._parts = [_Part("plain", text, self._slot), _Part("html", html, self._slot)]

    def fill(self, personal_headers: Sequence[tuple[str, str]],
             values: Sequence[Mapping[str, str]]) -> bytes:
        """The message for one recipient: the headers given raw, ``values[i]`` in part i."""
        out = [self._head, formatted_date()]
        out += [raw_header(name, value) for name, value in personal_headers]
        out.append(b"\r\n")
        done: dict[str, bytes] = {}  # the parts share most values: encode each once
        for part, part_values in zip(self._parts, values, strict=True):
            encoded = {}
            for name, value in part_values.items():
                if value not in done:
                    done[value] = qp_value(value)
                encoded[name] = done[value]
            out += (b"--", self._boundary, b"\r\n", part.fill(encoded), b"\r\n")
        out += (b"--", self._boundary, b"--\r\n")
        return b"".join(out)


_date_cache: tuple[int, bytes] = (0, b"")


def formatted_date(now: float | None = None) -> bytes:
    """The Date header for now (RFC 5322, UTC), formatted once per second."""
    global _date_cache
    second = int(time.time() if now is None else now)
    if _date_cache[0] != second:
        _date_cache = (second, f"Date: {formatdate(second, usegmt=True)}\r\n".encode("ascii"))
    return _date_cache[1]


def plain_message(headers: Sequence[tuple[str, str]], text: str) -> bytes:
    """A single-part text email (headers encoded as needed), for one-off messages."""
    return b"".join([header(name, value) for name, value in headers] + [
        formatted_date(), b"MIME-Version: 1.0\r\n", _Part("plain", text, re.compile("(?!)")).head,
        _qp_text(text if text.endswith("\n") else text + "\n")])
