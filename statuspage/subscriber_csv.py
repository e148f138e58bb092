"""Subscribers in bulk: a CSV file of addresses imported, every subscriber exported as CSV.

Both hand over many personal addresses at once, so both are audited; an import is one
transaction of a few statements whatever its size, and refused whole past IMPORT_MAX_ROWS.
"""

from __future__ import annotations

import csv
import io
import itertools
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from .audit import add_audit_entry
from .dbtypes import utcnow
from .extensions import db
from .outbox import Channel, DeliveryKind, add_deliveries
from .subscriptions import Subscriber
from .validation import ADDRESS_MAX, Conflict, ValidationError, normalise_email

# An import is one transaction; past this many rows it would outlast a web worker's timeout.
IMPORT_MAX_ROWS = 20_000
_LOOKUP_CHUNK = 500  # addresses per IN (...) list, well below every database's parameter limit

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
    their consent; those are confirmed to all components. A file of more than
    IMPORT_MAX_ROWS rows is refused whole. The work is a few statements whatever the size:
    known addresses are read in chunks, new ones written in batches.
    """
    now = now or utcnow()
    rows = list(itertools.islice(csv.reader(io.StringIO(text)), IMPORT_MAX_ROWS + 1))
    if len(rows) > IMPORT_MAX_ROWS:
        raise ValidationError(f"A file may have at most {IMPORT_MAX_ROWS:,} rows; split it "
                              "and import each part.", "file")
    result = ImportResult()
    parsed: list[str] = []
    for line_number, row in enumerate(rows, start=1):
        raw = row[0].strip() if row else ""
        if not raw or (line_number == 1 and raw.lower() in {"email", "address"}):
            continue
        try:
            parsed.append(normalise_email(raw))
        except ValidationError:
            result.invalid.append((line_number, raw[:ADDRESS_MAX]))
    known = set(_known_addresses(set(parsed)))
    for address in parsed:
        if address in known:
            result.existing.append(address)
        else:
            known.add(address)
            result.added.append(address)
    if result.added:
        _insert_imported(result.added, confirmed, now)
    add_audit_entry(actor, "subscriber.import", "subscriber", None,
            f"{len(result.added)} added ({'confirmed' if confirmed else 'to confirm'}), "
            f"{len(result.existing)} already known, {len(result.invalid)} invalid")
    db.session.commit()
    return result


def _insert_imported(addresses: list[str], confirmed: bool, now: datetime) -> None:
    # Bulk statements, not one ORM object each: an import may hold thousands of addresses.
    rows = [{"email": a, "created_at": now, "updated_at": now, "all_components": confirmed,
             "confirmed_at": now if confirmed else None,
             "link_sent_at": None if confirmed else now, "link_count": 0 if confirmed else 1}
            for a in addresses]
    try:
        db.session.execute(sa.insert(Subscriber), rows)
    except sa.exc.IntegrityError:
        db.session.rollback()
        raise Conflict("Some of these addresses subscribed while the file was imported; "
                       "import it again.", "file") from None
    if not confirmed:
        ids = _known_addresses(set(addresses))
        add_deliveries(DeliveryKind.CONFIRM, [(a, ids[a]) for a in addresses], now=now)


def _known_addresses(addresses: set[str]) -> dict[str, int]:
    ordered = sorted(addresses)
    found: dict[str, int] = {}
    for start in range(0, len(ordered), _LOOKUP_CHUNK):
        chunk = ordered[start:start + _LOOKUP_CHUNK]
        rows = db.session.execute(  # page-wide email subscriptions, the ones an import adds
            sa.select(Subscriber.email, Subscriber.id).where(
                Subscriber.email.in_(chunk), Subscriber.channel == Channel.EMAIL,
                Subscriber.incident_id.is_(None)))
        found.update((email, subscriber_id) for email, subscriber_id in rows)
    return found


def _csv_cell(value: str) -> str:
    # A spreadsheet would run a cell that starts like a formula.
    return "'" + value if value[:1] in ("=", "+", "-", "@") else value


def export_csv(*, actor: str | None = None) -> str:
    """Every subscriber as CSV: address, confirmed, components, quarantined.

    An export by a person is audited: it hands out every subscriber's address.
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["email", "confirmed_at", "components", "quarantined_at", "created_at",
                     "language"])
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
            s.created_at.isoformat(), s.language,
        ])
    if actor is not None:
        add_audit_entry(actor, "subscriber.export", "subscriber", None, "exported as CSV")
        db.session.commit()
    return out.getvalue()
