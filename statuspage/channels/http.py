"""POSTing one JSON body to an endpoint: checked addresses, one deadline, no redirects.

The host is resolved and checked at every send (``netguard``), and the connection goes to the
checked address (TLS still verifies the host's name). The whole exchange, connecting,
sending and reading the answer's head, must end within the timeout: a watchdog shuts the
socket down when it runs out, so a receiver that hangs or trickles cannot hold a sender.
Any answer but a 2xx is a refusal; a 3xx is not followed.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import threading
import time
from dataclasses import dataclass

from .. import netguard
from . import Refused

ANSWER_MAX = 300  # of the receiver's body, kept for ops


class Blocked(Refused):
    """The endpoint's address may not be reached: no retry can help."""

    def __init__(self, reply: str) -> None:
        super().__init__(reply, permanent=True)


@dataclass(frozen=True)
class Answer:
    """A receiver's 2xx answer."""

    status: int
    reason: str
    elapsed_ms: int

    def describe(self) -> str:
        """As ops read it: ``HTTP 200 OK in 35 ms``."""
        return f"HTTP {self.status} {self.reason} in {self.elapsed_ms} ms".replace("  ", " ")


class _Pinned(http.client.HTTPSConnection):
    """HTTPS to an address already checked, verifying the certificate of the host's name."""

    def __init__(self, address: str, port: int, host: str, timeout: float) -> None:
        super().__init__(address, port, timeout=timeout, context=ssl.create_default_context())
        self.server_name = host

    def connect(self) -> None:
        """Connect to the checked address; TLS with the host's name (SNI, certificate)."""
        sock = socket.create_connection((self.host, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.server_name)


def _connection(target: netguard.Target, address: str, timeout: float
                ) -> http.client.HTTPConnection:
    if target.scheme == "https":
        return _Pinned(address, target.port, target.host, timeout)
    return http.client.HTTPConnection(address, target.port, timeout=timeout)


def post(url: str, body: bytes, headers: dict[str, str], *, timeout: float,
         allow_private: bool) -> Answer:
    """POST ``body`` to ``url`` within ``timeout`` seconds; Refused unless answered 2xx."""
    started = time.monotonic()
    try:
        target = netguard.resolve(url, allow_private=allow_private)
    except netguard.BlockedAddress as exc:
        raise Blocked(exc.message) from None
    except netguard.ValidationError as exc:
        raise Refused(exc.message, permanent=False) from None
    default_port = 443 if target.scheme == "https" else 80
    host = target.host if target.port == default_port else f"{target.host}:{target.port}"
    connection = _connection(target, target.addresses[0], timeout)
    watchdog = threading.Timer(timeout, _cut, args=(connection,))
    watchdog.daemon = True
    watchdog.start()
    try:
        connection.request("POST", target.path, body=body,
                           headers={"Host": host, **headers, "Connection": "close"})
        response = connection.getresponse()
        excerpt = response.read(ANSWER_MAX).decode("utf-8", "replace")
    except (OSError, http.client.HTTPException, ValueError) as exc:
        elapsed = time.monotonic() - started
        if elapsed >= timeout or isinstance(exc, TimeoutError):
            raise Refused(f"No answer within {timeout:g} s.", permanent=False) from None
        raise Refused(f"{type(exc).__name__}: {exc or 'the connection failed'}",
                      permanent=False) from None
    finally:
        watchdog.cancel()
        connection.close()
    elapsed_ms = round((time.monotonic() - started) * 1000)
    if not 200 <= response.status < 300:
        moved = " (redirects are not followed)" if 300 <= response.status < 400 else ""
        text = " ".join(excerpt.split())[:120]
        raise Refused(f"HTTP {response.status} {response.reason}{moved}"
                      + (f": {text}" if text else ""), permanent=False)
    return Answer(response.status, response.reason, elapsed_ms)


def _cut(connection: http.client.HTTPConnection) -> None:
    """Out of time: shut the socket down, which wakes a read blocked on it."""
    sock = connection.sock
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
