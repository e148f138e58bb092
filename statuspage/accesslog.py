"""Request lines as the logs keep them: a subscriber's signed link acts for them like a
password, so the token segment of ``/subscriptions/...`` paths is replaced by ``[token]``
before anything is written. gunicorn reads ``GunicornLogger`` from ``gunicorn.conf.py``; the
development server logs through ``DevRequestHandler``.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from gunicorn import glogging
from werkzeug.serving import WSGIRequestHandler

_TOKEN_PATH = re.compile(r"(/subscriptions/(?:confirm|manage|unsubscribe)/)[^/?#\s\"]+")


def redact(text: str) -> str:
    """``text`` with every subscriber token in a path replaced by ``[token]``."""
    return _TOKEN_PATH.sub(r"\g<1>[token]", text)


class GunicornLogger(glogging.Logger):
    """gunicorn's logger, its access log without subscriber tokens (in the request line, the
    path, the referrer or any other field a log format may name)."""

    def atoms(self, resp: Any, req: Any, environ: dict[str, Any],
              request_time: timedelta) -> dict[str, Any]:
        """The fields of one access log line, redacted."""
        return {name: redact(value) if isinstance(value, str) else value
                for name, value in super().atoms(resp, req, environ, request_time).items()}


class DevRequestHandler(WSGIRequestHandler):
    """The development server's request handler, its request log without subscriber tokens."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Log the request line, redacted (werkzeug logs the path, or the raw line)."""
        self.requestline = redact(self.requestline)
        if hasattr(self, "path"):
            self.path = redact(self.path)
        super().log_request(code, size)
