"""Page settings and the page version that every page-visible write bumps.

The settings row is the page of the Statuspage vocabulary: its ``page_code`` is the ``page_id``
that API clients send. Its ``version`` column lets every process tell in one cheap query
whether what it has built of the page is still current, and ``changed_at`` says when a visitor
last could see a change (Last-Modified) without a scan of the tables.
"""

from __future__ import annotations

import re
import secrets
import string
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import sqlalchemy as sa
from flask import Flask
from sqlalchemy import event
from sqlalchemy.orm import Mapped, Session, mapped_column

from .audit import add_audit_entry
from .dbtypes import UTCDateTime, utcnow
from .extensions import db
from .validation import ValidationError, require_text

SETTINGS_ID = 1
_HEX_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")
_CODE_ALPHABET = string.ascii_lowercase + string.digits


def new_page_code() -> str:
    """A random id in the shape Statuspage uses for pages (12 lowercase alphanumerics)."""
    return "".join(secrets.choice(_CODE_ALPHABET) for _ in range(12))


class PageSettings(db.Model):
    __tablename__ = "page_settings"
    __page_visible__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    page_code: Mapped[str] = mapped_column(sa.String(32), unique=True)
    name: Mapped[str] = mapped_column(sa.String(100), default="Status")
    url: Mapped[str | None] = mapped_column(sa.String(255))
    time_zone: Mapped[str] = mapped_column(sa.String(64), default="Etc/UTC")
    support_url: Mapped[str | None] = mapped_column(sa.String(255))
    logo_url: Mapped[str | None] = mapped_column(sa.String(255))
    accent_color: Mapped[str] = mapped_column(sa.String(7), default="#2c7be5")
    version: Mapped[int] = mapped_column(sa.BigInteger, default=1)
    changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # set with the version
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    @property
    def last_change(self) -> datetime:
        """When a visitor last could see a change of the page (its Last-Modified)."""
        return self.changed_at or self.updated_at or self.created_at or utcnow()


def get_page_settings() -> PageSettings:
    """The page's settings; an unsaved default row when none is stored yet."""
    settings = db.session.get(PageSettings, SETTINGS_ID)
    if settings is None:
        settings = PageSettings(
            id=SETTINGS_ID, page_code=new_page_code(), name="Status", time_zone="Etc/UTC",
            accent_color="#2c7be5", version=1,
        )
    return settings


def page_version() -> int:
    """The current page version, in one primary-key lookup that bypasses the ORM cache."""
    value = db.session.execute(
        sa.text("SELECT version FROM page_settings WHERE id = :id"), {"id": SETTINGS_ID}
    ).scalar()
    return int(value or 0)


@dataclass(frozen=True)
class PageState:
    """The page version, when it last changed, and the settings every page shows, as each
    web process keeps them in memory."""

    version: int
    changed_at: datetime | None
    page_code: str = ""
    name: str = "Status"
    url: str | None = None
    logo_url: str | None = None
    support_url: str | None = None
    time_zone: str = "Etc/UTC"
    accent_color: str = "#2c7be5"

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)


_STATE_COLUMNS = tuple(PageState.__dataclass_fields__)


def page_state() -> PageState:
    """The page version and settings in one primary-key lookup that bypasses the ORM cache."""
    table = PageSettings.__table__
    row = db.session.execute(sa.select(*(table.c[name] for name in _STATE_COLUMNS))
                             .where(table.c.id == SETTINGS_ID)).first()
    return PageState(**row._mapping) if row is not None else PageState(0, None)


def _validate_url(value: str | None, field: str) -> str | None:
    text = require_text(value, field, max_length=255, required=False)
    if text and not re.match(r"^https?://[^\s<>\"']+$", text):
        raise ValidationError(f"{field.replace('_', ' ').capitalize()} must be an http(s) URL.",
                              field)
    return text or None


def validate_time_zone(value: str | None) -> str:
    """Return ``value`` if it is an IANA time zone name."""
    name = (value or "").strip()
    if name not in available_timezones() and name not in {"UTC", "Etc/UTC"}:
        raise ValidationError("Time zone must be an IANA name such as Europe/Stockholm.",
                              "time_zone")
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError("Unknown time zone.", "time_zone") from None
    return name


def update_page_settings(*, actor: str | None = None, **changes: Any) -> PageSettings:
    """Validate and store new page settings."""
    settings = get_page_settings()
    allowed = {"name", "url", "time_zone", "support_url", "logo_url", "accent_color"}
    unknown = set(changes) - allowed
    if unknown:
        raise ValidationError(f"Unknown setting: {', '.join(sorted(unknown))}.",
                              sorted(unknown)[0])
    if "name" in changes:
        settings.name = require_text(changes["name"], "name", max_length=100)
    for field in ("url", "support_url", "logo_url"):
        if field in changes:
            setattr(settings, field, _validate_url(changes[field], field))
    if "time_zone" in changes:
        settings.time_zone = validate_time_zone(changes["time_zone"])
    if "accent_color" in changes:
        colour = (changes["accent_color"] or "").strip()
        if not _HEX_COLOUR.match(colour):
            raise ValidationError("Accent colour must look like #2c7be5.", "accent_color")
        settings.accent_color = colour.lower()
    db.session.add(settings)
    add_audit_entry(actor, "page.update", "page", settings.id, ", ".join(sorted(changes)))
    db.session.commit()
    return settings


# The page version: bumped once per transaction that writes anything a visitor can see, so a
# cache keyed by it can never serve stale data, and nobody has to remember to invalidate it.
_BUMPED = "statuspage.page_version_bumped"


def _bump_page_version(session: Session, flush_context: Any, instances: Any) -> None:
    if session.info.get(_BUMPED):
        return
    touched = (*session.new, *session.dirty, *session.deleted)
    if not any(getattr(obj, "__page_visible__", False) for obj in touched):
        return
    connection = session.connection()
    table = PageSettings.__table__
    result = connection.execute(table.update().where(table.c.id == SETTINGS_ID)
                                .values(version=table.c.version + 1, changed_at=utcnow()))
    if result.rowcount == 0 and not any(isinstance(o, PageSettings) for o in session.new):
        connection.execute(
            table.insert().values(
                id=SETTINGS_ID, page_code=new_page_code(), name="Status",
                time_zone="Etc/UTC", accent_color="#2c7be5", version=2,
                created_at=utcnow(), updated_at=utcnow(), changed_at=utcnow(),
            )
        )
    session.info[_BUMPED] = True


def _reset_page_version_flag(session: Session) -> None:
    session.info.pop(_BUMPED, None)


_LISTENERS = (("before_flush", _bump_page_version), ("after_commit", _reset_page_version_flag),
              ("after_rollback", _reset_page_version_flag))


def init_app(app: Flask) -> None:
    """Make every session bump the page version when it writes something a visitor sees."""
    for name, listener in _LISTENERS:
        if not event.contains(Session, name, listener):
            event.listen(Session, name, listener)
