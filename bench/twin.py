"""The static twin: a trivial WSGI app that answers every benchmarked URL with the bytes and
headers the real application sent for it, so that both run under the same gunicorn and the
ratio between them is what the application itself costs.

``BENCH_TWIN_FILE`` names a JSON file of ``{path: [status, [[name, value], ...], base64]}``.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Callable, Iterable
from typing import Any

_ANSWERS: dict[str, tuple[str, list[tuple[str, str]], bytes]] = {}


def _load() -> None:
    with open(os.environ["BENCH_TWIN_FILE"], encoding="utf-8") as handle:
        for path, (status, headers, body) in json.load(handle).items():
            _ANSWERS[path] = (status, [tuple(h) for h in headers], base64.b64decode(body))


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """Answer with the recorded bytes of the path and query asked for."""
    if not _ANSWERS:
        _load()
    path = environ.get("PATH_INFO", "/")
    if environ.get("QUERY_STRING"):
        path += "?" + environ["QUERY_STRING"]
    status, headers, body = _ANSWERS.get(path, ("404 NOT FOUND", [], b""))
    start_response(status, headers)
    return [body]
