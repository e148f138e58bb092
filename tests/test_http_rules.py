"""Rules every response keeps, installed once in ``views.init_app``: headers, errors, proxies."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.mark.parametrize(("method", "path", "allow"), [
    ("POST", "/", {"GET", "HEAD", "OPTIONS"}),
    ("DELETE", "/history", {"GET", "HEAD", "OPTIONS"}),
    ("PUT", "/subscribe", {"GET", "HEAD", "OPTIONS", "POST"}),
    ("GET", "/admin/logout", {"OPTIONS", "POST"}),
    ("POST", "/api/v2/summary.json", {"GET", "HEAD", "OPTIONS"}),
    ("POST", "/api/openapi.json", {"GET", "HEAD", "OPTIONS"}),
])
def test_every_405_says_which_methods_are_allowed(client: Any, db: Any, method: str, path: str,
                                                 allow: set[str]) -> None:
    response = client.open(path, method=method)
    assert response.status_code == 405
    assert {m.strip() for m in response.headers["Allow"].split(",")} == allow


def test_a_405_of_the_management_api_says_which_methods_are_allowed(client: Any, db: Any
                                                                    ) -> None:
    response = client.post("/api/v1/pages/x/incidents/1")
    assert response.status_code == 405 and response.is_json
    assert {m.strip() for m in response.headers["Allow"].split(",")} == {
        "GET", "HEAD", "OPTIONS", "PATCH", "PUT", "DELETE"}
