"""A webhook receiver on loopback that records every request as it arrived and can answer
500, hang past the sender's deadline, or drop the connection, on request.

``receiver`` (a fixture) starts one per test; the application is told to allow loopback
endpoints, which it refuses otherwise.
"""

from __future__ import annotations

import json
import socket
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


@dataclass(frozen=True)
class Received:
    """One request as the receiver read it: the raw body and headers, exactly."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        """The body parsed as JSON."""
        return json.loads(self.body)


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:  # noqa: N802  (the name http.server calls)
        """Record the request, then answer as the script says."""
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        with self.server.lock:
            self.server.requests.append(Received(
                "POST", self.path, {k.lower(): v for k, v in self.headers.items()}, body))
            seen = self.server.seen[self.path]
            self.server.seen[self.path] += 1
            answer = (self.server.script.pop(0) if self.server.script
                      else self.server.policy(self.path, seen))
            if isinstance(answer, int) and 200 <= answer < 300:
                self.server.accepted[self.path] += 1
        if answer == "hang":
            self.server.release.wait(60)
            return
        if answer == "drop":
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
            return
        reply = b"ok" if answer < 300 else b"broken"
        self.send_response(int(answer))
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        """Quiet: the tests read the records."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.lock = threading.Lock()
        self.requests: list[Received] = []
        self.script: list[int | str] = []
        self.release = threading.Event()
        self.seen: Counter[str] = Counter()  # requests per path
        self.accepted: Counter[str] = Counter()  # 2xx answers per path
        # How to answer the n-th request (from 0) to a path, once the script is used up.
        self.policy: Callable[[str, int], int | str] = lambda path, n: 200


class Receiver:
    """The test's view of the server."""

    def __init__(self) -> None:
        self.server = _Server()
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str = "/hook") -> str:
        """An endpoint URL on this receiver."""
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    @property
    def requests(self) -> list[Received]:
        with self.server.lock:
            return list(self.server.requests)

    def answer(self, *answers: int | str) -> None:
        """Answer the next requests with these, in turn (a status, "hang" or "drop")."""
        with self.server.lock:
            self.server.script.extend(answers)

    def close(self) -> None:
        """Stop serving; let any hanging answer go."""
        self.server.release.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


@pytest.fixture
def receiver(app: Any, db: Any) -> Iterator[Receiver]:
    """A recording receiver on loopback, which the application may post to."""
    app.config["WEBHOOK_ALLOW_PRIVATE_ADDRESSES"] = True
    server = Receiver()
    try:
        yield server
    finally:
        server.close()
