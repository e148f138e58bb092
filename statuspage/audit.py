"""The audit log's table: one row for every change ops make.

It sits below the domain rooms so that each operation writes its audit row in its own
transaction; staff.py reads it for the ops console.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from .dbtypes import UTCDateTime, utcnow
from .extensions import db


class AuditEntry(db.Model):
    __tablename__ = "audit_entry"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(sa.String(255))
    action: Mapped[str] = mapped_column(sa.String(64))
    target_type: Mapped[str] = mapped_column(sa.String(32))
    target_id: Mapped[str | None] = mapped_column(sa.String(64))
    summary: Mapped[str] = mapped_column(sa.Text, default="")


def add_audit_entry(
    actor: str | None, action: str, target_type: str, target_id: object, summary: str = ""
) -> AuditEntry:
    """Add an audit row to the current transaction (the caller commits)."""
    entry = AuditEntry(
        actor=actor or "system",
        action=action,
        target_type=target_type,
        target_id=None if target_id is None else str(target_id),
        summary=summary[:2000],
    )
    db.session.add(entry)
    return entry
