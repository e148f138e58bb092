"""Built answers: the bytes of every public resource, per page version, shared by every process.

A resource (the status page, a history page, a feed, an API body) is built once per page
version for all web processes: the first process to need it claims its row, which a unique
key makes possible for one process only; it builds the bytes, compresses them once per
encoding and stores them. Every other process reads the stored bytes instead of building them
again. Only the newest edition of each resource is kept, and none older than a day.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import brotli
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, mapped_column

from .dbtypes import UTCDateTime, utcnow
from .extensions import db

IDENTITY = "identity"
ENCODINGS = ("br", "gzip")  # the compressed forms every edition is stored in, best first
MIN_COMPRESSED_SIZE = 256  # smaller bodies are sent as they are
# A claim not turned into an edition within this time is taken for abandoned (its builder
# crashed or lost the database) and another process may build instead.
CLAIM_SECONDS = 30
KEEP = timedelta(days=1)


@dataclass(frozen=True)
class Built:
    """A resource's answer as a view builds it: the body and what describes it."""

    body: bytes
    content_type: str
    last_modified: datetime
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Edition:
    """One resource built for one page version (its stamp), in every encoding it is sent in."""

    key: str
    stamp: str
    version: int
    content_type: str
    last_modified: datetime
    headers: tuple[tuple[str, str], ...]
    bodies: Mapping[str, bytes] = field(repr=False)  # encoding -> bytes; identity always
    built_at: datetime


class PageBuild(db.Model):
    """An edition in the database, or the claim of the process building it (no body yet)."""

    __tablename__ = "page_build"
    __table_args__ = (sa.UniqueConstraint("key", "stamp"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(300))
    stamp: Mapped[str] = mapped_column(sa.String(64))
    version: Mapped[int] = mapped_column(sa.BigInteger)
    owner: Mapped[str] = mapped_column(sa.String(200))
    claimed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    built_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    content_type: Mapped[str | None] = mapped_column(sa.String(100))
    last_modified: Mapped[datetime | None] = mapped_column(UTCDateTime)
    headers: Mapped[str | None] = mapped_column(sa.Text)  # JSON list of [name, value]
    body: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    body_br: Mapped[bytes | None] = mapped_column(sa.LargeBinary)
    body_gzip: Mapped[bytes | None] = mapped_column(sa.LargeBinary)


_BODY_COLUMNS = {IDENTITY: "body", "br": "body_br", "gzip": "body_gzip"}


def encode(body: bytes) -> dict[str, bytes]:
    """``body`` in every encoding worth sending: compressed once, here, never per request."""
    bodies = {IDENTITY: body}
    if len(body) < MIN_COMPRESSED_SIZE:
        return bodies
    for name, packed in (("br", brotli.compress(body, quality=9)),
                         ("gzip", gzip.compress(body, compresslevel=9, mtime=0))):
        if len(packed) < len(body):
            bodies[name] = packed
    return bodies


def edition_of(key: str, stamp: str, version: int, built: Built,
               now: datetime | None = None) -> Edition:
    """The edition of ``built`` for ``stamp``, compressed."""
    return Edition(key=key, stamp=stamp, version=version, content_type=built.content_type,
                   last_modified=built.last_modified, headers=tuple(built.headers),
                   bodies=encode(built.body), built_at=now or utcnow())


def find(key: str, stamp: str) -> Edition | None:
    """The stored edition of ``key`` for ``stamp``, if one is built (ends the transaction)."""
    table = PageBuild.__table__
    row = db.session.execute(sa.select(table).where(
        table.c.key == key, table.c.stamp == stamp, table.c.built_at.is_not(None))).first()
    db.session.rollback()
    if row is None:
        return None
    bodies = {name: getattr(row, column) for name, column in _BODY_COLUMNS.items()
              if getattr(row, column) is not None}
    return Edition(key=row.key, stamp=row.stamp, version=row.version,
                   content_type=row.content_type, last_modified=row.last_modified,
                   headers=tuple(tuple(pair) for pair in json.loads(row.headers or "[]")),
                   bodies=bodies, built_at=row.built_at)


def claim(key: str, stamp: str, version: int, owner: str, now: datetime | None = None) -> bool:
    """Whether ``owner`` is now the one builder of ``key`` for ``stamp``: it inserted the
    claim, or took over one abandoned for CLAIM_SECONDS. Commits."""
    now = now or utcnow()
    table = PageBuild.__table__
    dialect = postgresql if db.session.get_bind().dialect.name == "postgresql" else sqlite
    inserted = db.session.execute(
        dialect.insert(table).values(key=key, stamp=stamp, version=version, owner=owner,
                                     claimed_at=now)
        .on_conflict_do_nothing(index_elements=["key", "stamp"]).returning(table.c.id))
    won = inserted.first() is not None  # rowcount is not reliable here on every driver
    if not won:
        taken = db.session.execute(
            table.update().where(table.c.key == key, table.c.stamp == stamp,
                                 table.c.built_at.is_(None),
                                 table.c.claimed_at < now - timedelta(seconds=CLAIM_SECONDS))
            .values(owner=owner, claimed_at=now))
        won = taken.rowcount == 1
    db.session.commit()
    return won


def store(edition: Edition, owner: str) -> bool:
    """Store the edition ``owner`` claimed and forget the older ones of its resource; False
    when another process took the claim over meanwhile. Commits."""
    table = PageBuild.__table__
    values = {column: edition.bodies.get(name) for name, column in _BODY_COLUMNS.items()}
    done = db.session.execute(
        table.update().where(table.c.key == edition.key, table.c.stamp == edition.stamp,
                             table.c.owner == owner, table.c.built_at.is_(None))
        .values(built_at=edition.built_at, content_type=edition.content_type,
                last_modified=edition.last_modified, headers=json.dumps(edition.headers),
                **values))
    if done.rowcount == 1:
        db.session.execute(table.delete().where(
            table.c.key == edition.key, table.c.stamp != edition.stamp,
            table.c.version <= edition.version, table.c.built_at.is_not(None)))
    db.session.commit()
    return done.rowcount == 1


def release(key: str, stamp: str, owner: str) -> None:
    """Give up ``owner``'s claim (its build failed), so another process may build. Commits."""
    table = PageBuild.__table__
    db.session.execute(table.delete().where(table.c.key == key, table.c.stamp == stamp,
                                            table.c.owner == owner, table.c.built_at.is_(None)))
    db.session.commit()


def prune(now: datetime | None = None) -> int:
    """Forget editions built more than KEEP ago and abandoned claims; how many. Commits."""
    now = now or utcnow()
    table = PageBuild.__table__
    result = db.session.execute(table.delete().where(sa.or_(
        table.c.built_at < now - KEEP,
        sa.and_(table.c.built_at.is_(None),
                table.c.claimed_at < now - timedelta(seconds=2 * CLAIM_SECONDS)))))
    db.session.commit()
    return result.rowcount
