"""Built answers shared by every process: one builder per resource and version, newest kept."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime, timedelta

import brotli
import sqlalchemy as sa

from statuspage import builds
from statuspage.builds import Built, PageBuild

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
PAGE = ("<p>" + "All systems operational. " * 40 + "</p>").encode()


def _rows(db) -> list[tuple[str, str, bool]]:
    return [(r.key, r.stamp, r.built_at is not None) for r in db.session.execute(
        sa.select(PageBuild.key, PageBuild.stamp, PageBuild.built_at).order_by(PageBuild.id))]


def _edition(stamp: str, version: int, body: bytes = PAGE) -> builds.Edition:
    return builds.edition_of("en /", stamp, version, Built(body, "text/html", T0), now=T0)


def test_a_body_is_compressed_once_in_every_encoding_worth_sending():
    bodies = builds.encode(PAGE)

    assert set(bodies) == {"identity", "br", "gzip"}
    assert bodies["identity"] == PAGE
    assert gzip.decompress(bodies["gzip"]) == PAGE
    assert brotli.decompress(bodies["br"]) == PAGE
    assert len(bodies["br"]) < len(PAGE) and len(bodies["gzip"]) < len(PAGE)
    assert builds.encode(b"{}") == {"identity": b"{}"}  # too small to gain anything


def test_only_one_process_claims_a_resource_at_a_version(db):
    assert builds.claim("en /", "v2", 2, "web-1", now=T0)
    assert not builds.claim("en /", "v2", 2, "web-2", now=T0 + timedelta(seconds=1))
    assert builds.find("en /", "v2") is None  # claimed, not built yet
    assert builds.claim("en /", "v3", 3, "web-2", now=T0)  # another version is another build


def test_an_abandoned_claim_is_taken_over(db):
    assert builds.claim("en /", "v2", 2, "web-1", now=T0)
    later = T0 + timedelta(seconds=builds.CLAIM_SECONDS + 1)

    assert builds.claim("en /", "v2", 2, "web-2", now=later)
    # The first builder comes back too late: its edition is not stored over the new claim.
    assert not builds.store(_edition("v2", 2), "web-1")
    assert builds.store(_edition("v2", 2), "web-2")


def test_a_stored_edition_is_found_by_every_process_and_the_older_ones_go(db):
    for version in (2, 3):
        assert builds.claim("en /", f"v{version}", version, "web-1", now=T0)
        assert builds.store(_edition(f"v{version}", version, PAGE + bytes([version])), "web-1")
    builds.claim("en /", "v4", 4, "web-2", now=T0)  # a newer build under way stays

    found = builds.find("en /", "v3")

    assert found is not None
    assert (found.stamp, found.version, found.content_type) == ("v3", 3, "text/html")
    assert found.bodies["identity"] == PAGE + b"\x03"
    assert gzip.decompress(found.bodies["gzip"]) == PAGE + b"\x03"
    assert _rows(db) == [("en /", "v3", True), ("en /", "v4", False)]


def test_a_failed_build_releases_its_claim(db):
    builds.claim("en /history", "v2", 2, "web-1", now=T0)
    builds.release("en /history", "v2", "web-1")

    assert _rows(db) == []
    assert builds.claim("en /history", "v2", 2, "web-2", now=T0)


def test_pruning_forgets_old_editions_and_abandoned_claims(db):
    builds.claim("en /", "v2", 2, "web-1", now=T0)
    builds.store(_edition("v2", 2), "web-1")
    builds.claim("en /embed", "v2", 2, "web-1", now=T0)  # its builder died

    assert builds.prune(now=T0 + timedelta(hours=1)) == 1
    assert _rows(db) == [("en /", "v2", True)]
    assert builds.prune(now=T0 + builds.KEEP + timedelta(minutes=1)) == 1
    assert _rows(db) == []
