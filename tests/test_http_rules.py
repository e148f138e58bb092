"""Rules every response keeps, installed once in ``views.init_app``: headers, errors, proxies."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from statuspage import create_app
from statuspage.extensions import db as _db


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


# --- security headers, the same on every response ------------------------------------------------

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: https:; "
       "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
PERMISSIONS = ("accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), "
               "microphone=(), payment=(), usb=()")
TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


@pytest.fixture
def pages(make_incident: Any) -> dict[str, str]:
    return {"incident": f"/incidents/{make_incident().id}"}


@pytest.mark.parametrize("path", [
    "/", "/history", "/incident", "/subscribe", "/api/docs", "/api/openapi.json",
    "/api/v2/summary.json", "/badge.svg", "/history.rss", "/maintenance.ics", "/admin/login",
    "/static/style.css", "/nowhere", "/subscriptions/manage/forged",
])
def test_every_response_carries_the_security_headers(client: Any, pages: dict[str, str],
                                                     path: str) -> None:
    response = client.get(pages.get(path.strip("/"), path))
    response.close()
    headers = response.headers
    assert headers["Content-Security-Policy"] == CSP
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Permissions-Policy"] == PERMISSIONS
    assert headers["Cross-Origin-Opener-Policy"] == "same-origin"
    expected_referrer = "no-referrer" if "/subscriptions/" in path else \
        "strict-origin-when-cross-origin"
    assert headers["Referrer-Policy"] == expected_referrer


def test_only_the_embed_may_be_framed_and_it_keeps_the_rest_of_the_policy(client: Any,
                                                                          db: Any) -> None:
    response = client.get("/embed")
    assert response.headers["Content-Security-Policy"] == CSP.replace(
        "frame-ancestors 'none'", "frame-ancestors *")
    assert "X-Frame-Options" not in response.headers
    assert response.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("path", ["/admin/", "/admin/subscribers", "/admin/audit",
                                  "/admin/staff", "/admin/nowhere"])
def test_console_pages_are_never_stored_by_browsers_or_proxies(logged_in: Any, path: str
                                                               ) -> None:
    response = logged_in.client.get(path)
    assert response.headers["Cache-Control"] == "no-store"


def test_the_sign_in_page_is_never_stored_either(client: Any, db: Any) -> None:
    assert client.get("/admin/login").headers["Cache-Control"] == "no-store"


_INLINE = re.compile(
    r"<script(?![^>]*\bsrc=)[^>]*>"  # a script without src
    r"|<style\b"  # a style element
    r"|\sstyle\s*="  # a style attribute
    r"|\son[a-z]+\s*="  # an event handler attribute
    r"""|=\s*["']?\s*javascript:""", re.I)  # a javascript: URL


@pytest.mark.parametrize("template", sorted(
    str(p.relative_to(TEMPLATES)) for p in TEMPLATES.rglob("*.html")
    if not p.relative_to(TEMPLATES).parts[0] == "email"))
def test_no_page_template_has_inline_script_or_style(template: str) -> None:
    # Emails keep their inline styles: mail clients need them, and no page serves them.
    source = (TEMPLATES / template).read_text(encoding="utf-8")
    assert _INLINE.findall(source) == []


def test_the_accent_colour_comes_as_a_stylesheet_of_its_own(client: Any, db: Any) -> None:
    html = client.get("/").get_data(as_text=True)
    assert '<link rel="stylesheet" href="/theme/2c7be5.css">' in html
    response = client.get("/theme/2c7be5.css")
    assert response.data == b":root { --accent: #2c7be5; }\n"
    assert response.mimetype == "text/css"
    assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"


@pytest.mark.parametrize("colour", ["red", "2c7be", "2c7be5;}body{display:none", "%3C"])
def test_a_theme_that_is_not_a_colour_is_not_found(client: Any, db: Any, colour: str) -> None:
    assert client.get(f"/theme/{colour}.css").status_code == 404


# --- behind a TLS proxy -------------------------------------------------------------------------

@pytest.fixture
def make_app(app: Any) -> Iterator[Callable[..., Any]]:
    """An application over the test database with these settings (BASE_URL https)."""
    made: list[Any] = []

    def make(**settings: Any) -> Any:
        built = create_app({**{k: app.config[k] for k in (
            "TESTING", "SECRET_KEY", "SQLALCHEMY_DATABASE_URI")},
            "BASE_URL": "https://status.example.com", **settings})
        made.append(built)
        return built

    yield make
    for built in made:
        with built.app_context():
            _db.engine.dispose()


def test_behind_a_tls_proxy_cookies_are_secure_and_hsts_is_sent(make_app: Any, admin_user: Any
                                                               ) -> None:
    proxied = make_app(PROXY_COUNT=1)
    client = proxied.test_client()
    https = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.7"}

    page = client.get("/admin/login", headers=https)

    assert page.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    cookie = page.headers["Set-Cookie"]
    assert cookie.startswith("session=") and "; Secure" in cookie and "; HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


def test_cookies_are_secure_whenever_base_url_is_https(make_app: Any, db: Any) -> None:
    client = make_app().test_client()
    page = client.get("/subscribe")
    assert "; Secure" in page.headers["Set-Cookie"]
    assert page.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"


def test_secure_cookies_can_be_forced_on_an_http_address(make_app: Any, db: Any) -> None:
    client = make_app(BASE_URL="http://status.internal", SECURE_COOKIES=True).test_client()
    assert "; Secure" in client.get("/subscribe").headers["Set-Cookie"]


def test_forwarded_headers_count_only_from_as_many_proxies_as_configured(make_app: Any,
                                                                         db: Any) -> None:
    forged = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "198.51.100.1"}
    plain = make_app(BASE_URL="http://status.internal", PROXY_COUNT=0).test_client()
    response = plain.get("/", headers=forged)
    assert "Strict-Transport-Security" not in response.headers
    assert "; Secure" not in plain.get("/subscribe", headers=forged).headers["Set-Cookie"]

    proxied = make_app(BASE_URL="http://status.internal", PROXY_COUNT=1).test_client()
    assert "Strict-Transport-Security" in proxied.get("/", headers=forged).headers


def test_hsts_can_be_turned_off(make_app: Any, db: Any) -> None:
    client = make_app(HSTS_SECONDS=0).test_client()
    assert "Strict-Transport-Security" not in client.get("/").headers
