"""Subscribers in and out as CSV: an import of addresses, an export of everyone."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from .audit import add_audit_entry
from .dbtypes import utcnow
from .extensions import db
from .subscriptions import Subscriber, find_subscriber, queue_link
from .validation import ADDRESS_MAX, ValidationError, normalise_email


@dataclass
class ImportResult:
    added: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)
    invalid: list[tuple[int, str]] = field(default_factory=list)  # (line number, text)


def import_subscribers(
    text: str, *, confirmed: bool = False, actor: str | None = None,
    now: datetime | None = None,
) -> ImportResult:
    """Add the addresses of a CSV (first column); known addresses are left as they are.

    Imported addresses get a confirmation email, unless ``confirmed`` says ops already have
    their consent; those are confirmed to all components.
    """
    now = now or utcnow()
    result = ImportResult()
    seen: set[str] = set()
    for line_number, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        raw = row[0].strip() if row else ""
        if not raw or (line_number == 1 and raw.lower() in {"email", "address"}):
            continue
        try:
            address = normalise_email(raw)
        except ValidationError:
            result.invalid.append((line_number, raw[:ADDRESS_MAX]))
            continue
        if address in seen or find_subscriber(address) is not None:
            result.existing.append(address)
            continue
        seen.add(address)
        subscriber = Subscriber(email=address, created_at=now, updated_at=now,
                                all_components=confirmed,
                                confirmed_at=now if confirmed else None)
        db.session.add(subscriber)
        db.session.flush()
        if not confirmed:
            queue_link(subscriber, now)
        result.added.append(address)
    add_audit_entry(actor, "subscriber.import", "subscriber", None,
            f"{len(result.added)} added ({'confirmed' if confirmed else 'to confirm'}), "
            f"{len(result.existing)} already known, {len(result.invalid)} invalid")
    db.session.commit()
    return result


def _csv_cell(value: str) -> str:
    # A spreadsheet would run a cell that starts like a formula.
    return "'" + value if value[:1] in ("=", "+", "-", "@") else value


def export_csv(*, actor: str | None = None) -> str:
    """Every subscriber as CSV: address, confirmed, components, quarantined.

    An export by a person is audited: it hands out every subscriber's address.
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["email", "confirmed_at", "components", "quarantined_at", "created_at"])
    subscribers = db.session.scalars(
        sa.select(Subscriber).options(selectinload(Subscriber.components))
        .order_by(Subscriber.id))
    for s in subscribers:
        chosen = "all" if s.all_components else "; ".join(c.name for c in s.components)
        writer.writerow([
            _csv_cell(s.target),
            s.confirmed_at.isoformat() if s.confirmed_at else "",
            _csv_cell(chosen),
            s.quarantined_at.isoformat() if s.quarantined_at else "",
            s.created_at.isoformat(),
        ])
    if actor is not None:
        add_audit_entry(actor, "subscriber.export", "subscriber", None, "exported as CSV")
        db.session.commit()
    return out.getvalue()
