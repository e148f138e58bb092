"""The fast lane: GETs of kept public answers, replayed in front of Flask.

A cached answer is the same for every visitor until the page version moves, so once Flask
has sent one (``http.cached`` marks it in the WSGI environ), its status line, headers and body
are kept beside the edition they came from. The next GET of the same path, with the same
Accept-Encoding, is answered with those bytes without routing, sessions or hooks: a check that
the edition is still the current one (``PageCache.kept``, in memory) and a dict lookup. Anything
else (another method, Range, If-Modified-Since alone, a stale or new edition, a refresher that
cannot confirm the version) goes through Flask as usual, which records the new answer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from flask import Flask

from .. import pagecache
from ..builds import Edition

MARK = "statuspage.fast_lane"  # environ key: (resource key, edition) of a cacheable answer
MAX_REPLAYS = 20_000
# Requests that ask for something a replay cannot decide.
_PASS = ("HTTP_RANGE", "HTTP_IF_MATCH", "HTTP_IF_RANGE", "HTTP_IF_UNMODIFIED_SINCE")
_NOT_REPLAYED = {"date", "set-cookie"}


@dataclass(frozen=True)
class Replay:
    key: str
    edition: Edition
    status: str
    headers: list[tuple[str, str]]
    body: bytes
    etag: str


def _matches(etag: str, header: str) -> bool:
    """If-None-Match's weak comparison: any listed tag, W/ or not, or ``*``."""
    for tag in header.split(","):
        tag = tag.strip()
        if tag == "*" or tag.removeprefix("W/") == etag:
            return True
    return False


class FastLane:
    """WSGI middleware in front of the application; see the module's docstring."""

    def __init__(self, app: Flask, wsgi_app: Callable[..., Any]) -> None:
        self.app = app
        self.wsgi_app = wsgi_app
        self.replays: dict[tuple[str, str | None, bool], Replay] = {}

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]
                 ) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") != "GET" or any(h in environ for h in _PASS):
            return self.wsgi_app(environ, start_response)
        path = environ.get("PATH_INFO", "")
        if environ.get("QUERY_STRING"):
            path += "?" + environ["QUERY_STRING"]
        encoding = environ.get("HTTP_ACCEPT_ENCODING")
        replay = self._replay(environ, path, encoding)
        if replay is None:
            return self._record(environ, start_response, path, encoding)
        start_response(replay.status, replay.headers)
        return [replay.body]

    def _replay(self, environ: dict[str, Any], path: str, encoding: str | None
                ) -> Replay | None:
        full = self.replays.get((path, encoding, False))
        if full is None:
            return None
        none_match = environ.get("HTTP_IF_NONE_MATCH")
        if none_match is None and "HTTP_IF_MODIFIED_SINCE" in environ:
            return None
        cache = self.app.extensions.get(pagecache.CACHE_KEY)
        if cache is None or cache.kept(full.key) is not full.edition:
            return None
        cache.start_refresher()
        if none_match is not None and _matches(full.etag, none_match):
            unchanged = self.replays.get((path, encoding, True))
            fresh = unchanged is not None and unchanged.edition is full.edition
            return unchanged if fresh else None
        return full

    def _record(self, environ: dict[str, Any], start_response: Callable[..., Any], path: str,
                encoding: str | None) -> Iterable[bytes]:
        sent: list[Any] = []

        def keep_start(status: str, headers: list[tuple[str, str]], *rest: Any) -> Any:
            sent[:] = [status, headers]
            return start_response(status, headers, *rest)

        answer = self.wsgi_app(environ, keep_start)
        mark = environ.get(MARK)
        if mark is None or not sent or sent[0][:3] not in ("200", "304"):
            return answer
        status, headers = sent
        if any(name.lower() == "set-cookie" for name, _ in headers):
            return answer
        try:
            body = b"".join(answer)
        finally:
            if hasattr(answer, "close"):
                answer.close()
        kept = [(n, v) for n, v in headers if n.lower() not in _NOT_REPLAYED]
        etag = next((v for n, v in headers if n.lower() == "etag"), "")
        if len(self.replays) >= MAX_REPLAYS:
            self.replays.clear()
        key, edition = mark
        self.replays[(path, encoding, status.startswith("304"))] = Replay(
            key, edition, status, kept, body, etag)
        return [body]


def init_app(app: Flask) -> None:
    """Put the fast lane in front of everything else."""
    app.wsgi_app = FastLane(app, app.wsgi_app)  # type: ignore[method-assign]
