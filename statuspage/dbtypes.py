"""Column types shared by the domain tables."""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.types import TypeDecorator

# Ids are 32-bit on PostgreSQL; anything outside is no row, not a database error.
MAX_ID = 2**31 - 1


def parse_id(value: Any) -> int | None:
    """``value`` as a row id (a positive whole number in range), or None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        key = value
    elif isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        key = int(value.strip())
    else:
        return None
    return key if 0 < key <= MAX_ID else None


def utcnow() -> datetime:
    """The current time as an aware UTC datetime."""
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """Treat a naive datetime as UTC and convert an aware one to UTC."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


class UTCDateTime(TypeDecorator):
    """Aware UTC datetimes in and out, whatever the backend keeps.

    SQLite stores no zone and hands back naive values; PostgreSQL keeps ``timestamptz``.
    Naive input is refused so that a local time can never be stored by mistake.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use an aware UTC datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else as_utc(value)


def enum_column(enum_cls: type[enum.StrEnum], name: str, **kwargs: Any) -> sa.Enum:
    """A portable VARCHAR + CHECK column holding a StrEnum's values.

    ``name`` (the column's name) names the CHECK constraint, which must be unique per table.
    """
    return sa.Enum(
        enum_cls,
        native_enum=False,
        create_constraint=True,
        length=32,
        values_callable=lambda members: [m.value for m in members],
        validate_strings=True,
        name=name,
        **kwargs,
    )


def unique_where(name: str, *columns: str, where: str) -> sa.Index:
    """A unique index over the rows that match ``where`` (partial, on SQLite and PostgreSQL)."""
    return sa.Index(name, *columns, unique=True, sqlite_where=sa.text(where),
                    postgresql_where=sa.text(where))


def _enforce_sqlite_foreign_keys(dbapi_connection: Any, connection_record: Any) -> None:
    # SQLite ignores ON DELETE CASCADE / SET NULL unless each connection asks for them.
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        # Write-ahead log: readers never wait for the writer (the web pages while a worker
        # sends). FULL syncs the log at every commit, so a committed update or queued email
        # survives a power cut too; the worker commits once per batch, not per email.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.close()


def init_app(app: Flask) -> None:
    """Make SQLite keep foreign keys as PostgreSQL does, on every connection."""
    if not event.contains(Engine, "connect", _enforce_sqlite_foreign_keys):
        event.listen(Engine, "connect", _enforce_sqlite_foreign_keys)
