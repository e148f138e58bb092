"""Every public answer built once per page version, for every process, and served from memory.

The suite runs with PAGE_VERSION_CHECK_MS=0 (every request reads the version); the tests of the
refresher turn it on in an application of their own.
"""

from __future__ import annotations

import gzip
import threading
import time
from collections.abc import Iterator
from typing import Any

import brotli
import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy import exc as sa_exc

from statuspage import builds, create_app, pagecache
from statuspage.builds import PageBuild
from statuspage.components import set_component_status
from statuspage.extensions import db as _db
from statuspage.incidents import resolve_incident
from statuspage.views import filters

STALE = "stale-while-revalidate=30, stale-if-error=86400"


@pytest.fixture
def page_data(make_component, make_incident, make_maintenance) -> dict[str, Any]:
    api = make_component("API")
    incident = make_incident(body="We are *on it*.", components={api.id: "major_outage"})
    resolve_incident(incident, body="Fixed.")
    make_maintenance("Database upgrade", component_ids=[api.id])
    return {"api": api, "incident": incident}


def cached_urls(data: dict[str, Any]) -> list[str]:
    api, incident = data["api"].id, data["incident"].id
    return ["/", "/history", f"/incidents/{incident}", "/history.rss",
            "/history.atom", f"/components/{api}/history.rss",
            f"/components/{api}/history.atom", "/badge.svg", f"/components/{api}/badge.svg",
            "/maintenance.ics", "/embed"]


V2 = ["/api/v2/summary.json", "/api/v2/status.json", "/api/v2/components.json",
      "/api/v2/incidents.json", "/api/v2/incidents/unresolved.json",
      "/api/v2/scheduled-maintenances.json", "/api/v2/scheduled-maintenances/upcoming.json",
      "/api/v2/scheduled-maintenances/active.json"]


# --- the headers of every cached answer -----------------------------------------------------------

def test_every_public_page_carries_validators_and_shared_cache_directives(client, page_data):
    for url in cached_urls(page_data):
        first = client.get(url, headers={"Accept-Encoding": "gzip"})
        assert first.status_code == 200, url
        assert first.headers["Cache-Control"] == f"public, max-age=10, {STALE}", url
        assert first.headers["ETag"] and first.headers["Last-Modified"], url
        # Never the session cookie; pages for people name what chose their language.
        people = not url.endswith((".rss", ".atom", ".svg", ".ics"))
        assert first.headers["Vary"] == ("Accept-Encoding, Accept-Language, Cookie" if people
                                         else "Accept-Encoding"), url
        again = client.get(url, headers={"Accept-Encoding": "gzip",
                                         "If-None-Match": first.headers["ETag"]})
        assert (again.status_code, again.data) == (304, b""), url
        assert again.headers["ETag"] == first.headers["ETag"], url


def test_the_v2_api_keeps_its_recorded_cache_control_and_gains_last_modified(client, page_data):
    for url in V2:
        answer = client.get(url)
        assert answer.headers["Cache-Control"] == "public, max-age=10", url
        assert answer.headers["Last-Modified"], url
        assert "Vary" not in answer.headers, url  # the client named no encoding
        assert client.get(url, headers={"If-None-Match": answer.headers["ETag"]}
                          ).status_code == 304


@pytest.mark.parametrize(("accept", "encoding", "decode"), [
    ("gzip, deflate, br, zstd", "br", brotli.decompress),
    ("gzip", "gzip", gzip.decompress),
    ("br;q=0, gzip;q=0.5", "gzip", gzip.decompress),
    ("identity", None, bytes),
])
def test_answers_are_compressed_as_the_client_accepts(client, page_data, accept, encoding,
                                                      decode):
    # The language URL: its language is in the address, so it varies by nothing else.
    plain = client.get("/?lang=en")
    answer = client.get("/?lang=en", headers={"Accept-Encoding": accept})

    assert answer.headers.get("Content-Encoding") == encoding
    assert decode(answer.data) == plain.data
    assert int(answer.headers["Content-Length"]) == len(answer.data)
    # Each encoding is its own representation, with its own strong validator.
    suffix = f"-{encoding}" if encoding else ""
    assert answer.headers["ETag"] == plain.headers["ETag"][:-1] + suffix + '"'
    assert answer.headers["Vary"] == "Accept-Encoding"
    assert b"Cookie" not in answer.headers.get("Vary", "").encode()


def test_the_compressed_page_is_made_once_per_version(app, client, page_data, monkeypatch):
    calls = []
    real = gzip.compress
    monkeypatch.setattr(gzip, "compress", lambda *a, **k: calls.append(1) or real(*a, **k))
    for _ in range(3):
        client.get("/", headers={"Accept-Encoding": "gzip"})
    assert len(calls) == 1
    set_component_status(page_data["api"], "partial_outage")
    client.get("/", headers={"Accept-Encoding": "gzip"})
    assert len(calls) == 2


def test_a_write_changes_every_answer_at_once(client, page_data):
    before = {url: client.get(url).headers["ETag"] for url in cached_urls(page_data) + V2}
    set_component_status(page_data["api"], "degraded_performance")
    after = {url: client.get(url).headers["ETag"] for url in cached_urls(page_data) + V2}

    assert all(before[url] != after[url] for url in before)
    assert "Degraded Performance" in client.get("/").get_data(as_text=True)


# --- one build for every process ------------------------------------------------------------------

def _second_process(database_url: str, **config: Any) -> Flask:
    """Another web process on the same database: an application of its own."""
    return create_app({"TESTING": True, "SECRET_KEY": "test-secret",
                       "SQLALCHEMY_DATABASE_URI": database_url,
                       "BASE_URL": "http://status.test", "PAGE_VERSION_CHECK_MS": 0, **config})


def _count_builds(monkeypatch) -> list[str]:
    built: list[str] = []
    real = pagecache.PageCache.build

    def counting(self, resource, *args, **kwargs):
        built.append(resource.path)
        return real(self, resource, *args, **kwargs)

    monkeypatch.setattr(pagecache.PageCache, "build", counting)
    return built


def test_a_second_process_reads_the_stored_bytes_instead_of_building(
        app, client, database_url, page_data, monkeypatch):
    built = _count_builds(monkeypatch)
    first = client.get("/", headers={"Accept-Encoding": "br"})
    other = _second_process(database_url)
    with other.app_context():
        second = other.test_client().get("/", headers={"Accept-Encoding": "br"})
        _db.engine.dispose()

    assert built == ["/"]
    assert second.data == first.data and second.headers["ETag"] == first.headers["ETag"]
    stamp = client.get("/").headers["ETag"].strip('"')
    with app.app_context():
        rows = _db.session.execute(sa.select(PageBuild.key, PageBuild.stamp)).all()
    assert [tuple(r) for r in rows] == [("en /", stamp)]


def test_a_process_waits_for_the_build_another_one_claimed(app, client, database_url,
                                                            page_data, monkeypatch):
    # The first process is slow to build; the second finds its claim and waits for the bytes.
    built = _count_builds(monkeypatch)
    release = threading.Event()
    real_build = pagecache.PageCache.build

    def slow(self, resource, *args, **kwargs):
        release.wait(10)
        return real_build(self, resource, *args, **kwargs)

    answers = {}
    other = _second_process(database_url)

    def first_process() -> None:
        with app.app_context():
            answers["first"] = app.test_client().get("/")

    monkeypatch.setattr(pagecache.PageCache, "build", slow)
    thread = threading.Thread(target=first_process)
    thread.start()
    with app.app_context():
        for _ in range(200):  # until the first process holds the claim
            if _db.session.scalar(sa.select(sa.func.count(PageBuild.id))):
                break
            _db.session.rollback()
            time.sleep(0.02)
    monkeypatch.setattr(pagecache.PageCache, "build", real_build)
    with other.app_context():
        waiter = threading.Thread(target=lambda: answers.setdefault(
            "second", other.test_client().get("/")))
        waiter.start()
        time.sleep(0.2)
        release.set()
        waiter.join(20)
        _db.engine.dispose()
    thread.join(20)
    assert built == ["/"]
    assert answers["second"].data == answers["first"].data


def test_an_unknown_incident_or_component_is_a_404_and_never_kept(app, client, db, page_data):
    for url in ("/incidents/424242", "/components/4242/history.rss",
                "/components/4242/badge.svg"):
        assert client.get(url).status_code == 404, url
        assert client.get(url).status_code == 404, url

    kept = list(app.extensions["statuspage.page_cache"].entries)
    stored = db.session.scalars(sa.select(PageBuild.key)).all()
    assert not [key for key in [*kept, *stored] if "4242" in key]


# --- the refresher: no database on a cached request -----------------------------------------------

@pytest.fixture
def refreshed(app: Flask) -> Iterator[Flask]:
    """The application with the refresher on, as in production; stopped afterwards."""
    app.config["PAGE_VERSION_CHECK_MS"] = 200
    yield app
    cache = app.extensions.get("statuspage.page_cache")
    if cache is not None:
        cache.stop()


def _database_work_on_this_thread(app: Flask, fn) -> list[str]:
    """The statements and pool checkouts ``fn`` causes on the calling thread."""
    me = threading.get_ident()
    seen: list[str] = []

    def statement(conn, cursor, text, *args):
        if threading.get_ident() == me:
            seen.append(text)

    def checkout(*args):
        if threading.get_ident() == me:
            seen.append("checkout")

    with app.app_context():
        engine = _db.engine
    sa.event.listen(engine, "before_cursor_execute", statement)
    sa.event.listen(engine.pool, "checkout", checkout)
    try:
        fn()
    finally:
        sa.event.remove(engine, "before_cursor_execute", statement)
        sa.event.remove(engine.pool, "checkout", checkout)
    return seen


def test_a_warm_cached_request_makes_no_database_round_trip(refreshed, page_data):
    client = refreshed.test_client()
    urls = cached_urls(page_data) + V2
    for url in urls:  # warm
        assert client.get(url).status_code == 200, url

    for url in urls:
        work = _database_work_on_this_thread(refreshed, lambda u=url: client.get(
            u, headers={"Accept-Encoding": "gzip"}))
        assert work == [], url


def test_the_previous_page_is_served_until_the_refresher_has_the_new_one(refreshed,
                                                                         page_data):
    client = refreshed.test_client()
    old = client.get("/")
    cache = refreshed.extensions["statuspage.page_cache"]
    cache.stop()  # drive the refresher by hand from here
    set_component_status(page_data["api"], "partial_outage")

    assert client.get("/").data == old.data  # this process does not know yet; no build here
    cache.refresh()
    new = client.get("/")

    assert new.headers["ETag"] != old.headers["ETag"]
    assert "Partial Outage" in new.get_data(as_text=True)


def test_the_running_refresher_brings_a_write_within_its_bound(refreshed, page_data):
    client = refreshed.test_client()
    old = client.get("/").headers["ETag"]
    set_component_status(page_data["api"], "partial_outage")

    seen = []
    for _ in range(200):  # the check interval is 200 ms; give a loaded machine ten seconds
        answer = client.get("/")
        assert answer.status_code == 200
        seen.append(answer.headers["ETag"])
        if seen[-1] != old:
            break
        time.sleep(0.05)
    assert seen[-1] != old
    assert "Statuspage-Stale" not in answer.headers


# --- the database down ----------------------------------------------------------------------------

def _database_down(monkeypatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise sa_exc.OperationalError("SELECT 1", {}, ConnectionRefusedError("refused"))

    monkeypatch.setattr(pagecache, "page_state", refuse)
    monkeypatch.setattr(builds, "find", refuse)
    monkeypatch.setattr(filters, "get_page_settings", refuse)  # read by page_settings()


def test_with_the_database_down_kept_pages_answer_stale_and_others_a_friendly_503(
        client, page_data, monkeypatch):
    warm = client.get("/")
    _database_down(monkeypatch)

    kept = client.get("/")
    assert (kept.status_code, kept.data) == (200, warm.data)
    assert kept.headers["Statuspage-Stale"] == "database unavailable"
    assert kept.headers["ETag"] == warm.headers["ETag"]
    for url in (f"/incidents/{page_data['incident'].id}", "/subscribe",
                "/api/v2/incidents.json"):
        answer = client.get(url)
        assert answer.status_code == 503, url
        assert answer.headers["Retry-After"] == "30", url
        assert answer.headers["Cache-Control"] == "no-store", url
        if url.startswith("/api/"):
            assert answer.get_json()["error"] == "Service Unavailable"
        else:
            html = answer.get_data(as_text=True)
            assert "cannot read its data right now" in html and "Acme" in html, url


POLISH_503 = ("Strona statusu nie może teraz odczytać swoich danych. Pracujemy nad tym; "
              "spróbuj ponownie za minutę.")


@pytest.mark.parametrize(("path", "headers", "cookie"), [
    ("/subscribe", {"Accept-Language": "pl-PL,pl;q=0.9,en;q=0.8"}, None),
    ("/subscribe?lang=pl", {"Accept-Language": "en"}, None),
    ("/history?page=2", {"Accept-Language": "en"}, "pl"),
    ("/incidents/{incident}", {"Accept-Language": "pl"}, None),
])
def test_with_the_database_down_the_503_page_speaks_the_visitors_language(
        client, page_data, monkeypatch, path, headers, cookie):
    if cookie:
        client.set_cookie("lang", cookie)
    _database_down(monkeypatch)

    answer = client.get(path.format(incident=page_data["incident"].id), headers=headers)

    assert answer.status_code == 503
    assert answer.headers["Content-Language"] == "pl"
    assert answer.headers["Retry-After"] == "30" and answer.headers["Cache-Control"] == "no-store"
    body = answer.data
    assert b'<html lang="pl">' in body
    assert POLISH_503.encode() in body and "Usługa niedostępna".encode() in body
    assert "Błąd 503".encode() in body and "Wróć do strony statusu".encode() in body
    assert b"cannot read" not in body and b"Service" not in body and b"Back to" not in body


def test_with_the_database_down_the_503_stays_english_for_english_readers_and_the_api(
        client, page_data, monkeypatch):
    _database_down(monkeypatch)

    page = client.get("/subscribe", headers={"Accept-Language": "en"})
    assert page.headers["Content-Language"] == "en" and b'<html lang="en">' in page.data
    assert b"cannot read its data right now" in page.data and b"Service unavailable" in page.data
    api = client.get("/api/v2/incidents.json", headers={"Accept-Language": "pl"})
    assert api.status_code == 503 and "Content-Language" not in api.headers
    assert api.get_json() == {"error": "Service Unavailable", "message": (
        "The status page cannot read its data right now. It is being worked on; please try "
        "again in a minute.")}


# --- the fast lane --------------------------------------------------------------------------------

def test_the_fast_lane_replays_exactly_what_flask_sent_until_the_edition_changes(refreshed,
                                                                                 page_data):
    client = refreshed.test_client()
    lane = refreshed.wsgi_app
    asks = [{"Accept-Encoding": "gzip, br"}, {}, {"Accept-Encoding": "gzip"}]
    for headers in asks:
        first = client.get("/api/v2/summary.json", headers=headers)  # through Flask
        replayed = client.get("/api/v2/summary.json", headers=headers)
        assert ("/api/v2/summary.json", None, headers.get("Accept-Encoding"),
                False) in lane.replays
        assert replayed.data == first.data
        assert ([h for h in replayed.headers if h[0] != "Date"]
                == [h for h in first.headers if h[0] != "Date"])
        unchanged = {**headers, "If-None-Match": first.headers["ETag"]}
        client.get("/api/v2/summary.json", headers=unchanged)
        again = client.get("/api/v2/summary.json", headers=unchanged)
        assert (again.status_code, again.data) == (304, b"")
        assert again.headers["ETag"] == first.headers["ETag"]

    cache = refreshed.extensions["statuspage.page_cache"]
    cache.stop()
    set_component_status(page_data["api"], "major_outage")
    cache.refresh()
    fresh = client.get("/api/v2/summary.json")
    assert fresh.headers["ETag"] != first.headers["ETag"]
    assert fresh.get_json()["status"]["description"] == "Major System Outage"


def test_the_fast_lane_answers_each_language_in_its_own_and_never_another(refreshed,
                                                                         page_data):
    client = refreshed.test_client()
    lane = refreshed.wsgi_app
    english, polish = {"Accept-Language": "en-GB,en;q=0.9"}, {"Accept-Language": "pl,en;q=0.5"}
    asks = [english, polish, {}, {"Accept-Language": "de, pl;q=0.3"}]
    for _ in range(2):  # the first round through Flask, the second from the fast lane
        answers = [client.get("/", headers=headers) for headers in asks]
        assert [a.headers["Content-Language"] for a in answers] == ["en", "pl", "en", "pl"]
        assert [a.data.count(b'<html lang="pl"') for a in answers] == [0, 1, 0, 1]
        assert all(a.headers["Vary"] == "Accept-Language, Cookie" for a in answers)
    assert {("/", "en", None, False), ("/", "pl", None, False)} <= set(lane.replays)
    assert ("/", None, None, False) not in lane.replays

    # The switcher's cookie beats Accept-Language, and ?lang= beats both; an answer named
    # by its URL varies by nothing.
    client.set_cookie("lang", "pl")
    for _ in range(2):
        assert client.get("/", headers=english).headers["Content-Language"] == "pl"
        named = client.get("/?lang=en", headers=polish)
        assert (named.headers["Content-Language"], named.headers.get("Vary")) == ("en", None)
        assert b'<html lang="en"' in named.data
    assert ("/?lang=en", "en", None, False) in lane.replays
    client.delete_cookie("lang")
    assert client.get("/", headers=english).headers["Content-Language"] == "en"


def test_the_language_parse_of_the_fast_lane_is_the_one_flask_makes():
    from statuspage.views.fastlane import language_of

    def environ(query="", cookie="", accept=None):
        env = {"QUERY_STRING": query, "HTTP_COOKIE": cookie}
        if accept is not None:
            env["HTTP_ACCEPT_LANGUAGE"] = accept
        return env

    assert language_of(environ()) == "en"
    assert language_of(environ(accept="pl-PL,pl;q=0.9,en;q=0.8")) == "pl"
    assert language_of(environ(accept="fr, en;q=0.1, pl;q=0.5")) == "pl"
    assert language_of(environ(cookie="session=abc; lang=pl", accept="en")) == "pl"
    assert language_of(environ(cookie="lang=xx", accept="pl")) == "pl"  # unknown: next rule
    assert language_of(environ(query="page=2&lang=en", cookie="lang=pl")) == "en"
    assert language_of(environ(query="lang=de", cookie="lang=pl")) == "pl"
    assert language_of(environ(query="slang=pl")) == "en"
