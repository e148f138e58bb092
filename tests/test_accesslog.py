"""Logs never keep a subscriber's signed link (gunicorn and `flask dev` are tested with their
processes, in test_server_process and test_devmail)."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from statuspage.accesslog import redact


@pytest.mark.parametrize(("line", "kept"), [
    ("GET /subscriptions/manage/eyJwIjoi.aw9.xIA5 HTTP/1.1",
     "GET /subscriptions/manage/[token] HTTP/1.1"),
    ("POST /subscriptions/confirm/abc.def/resend HTTP/1.1",
     "POST /subscriptions/confirm/[token]/resend HTTP/1.1"),
    ("https://status.example.com/subscriptions/unsubscribe/abc?x=1",
     "https://status.example.com/subscriptions/unsubscribe/[token]?x=1"),
    ("GET /subscriptions/other/abc HTTP/1.1", "GET /subscriptions/other/abc HTTP/1.1"),
    ("GET /history?page=2 HTTP/1.1", "GET /history?page=2 HTTP/1.1"),
])
def test_token_segments_are_redacted(line: str, kept: str) -> None:
    assert redact(line) == kept


def test_an_unexpected_error_is_logged_without_the_token(app: Any, client: Any, db: Any,
                                                         monkeypatch: Any, caplog: Any) -> None:
    from statuspage import subscriptions

    def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(subscriptions, "load_token", broken)
    with caplog.at_level(logging.ERROR, logger=app.logger.name):
        response = client.get("/subscriptions/manage/SeCrEt.token")
    assert response.status_code == 500
    assert "Unhandled error on GET /subscriptions/manage/[token]" in caplog.text
    assert "SeCrEt" not in caplog.text
