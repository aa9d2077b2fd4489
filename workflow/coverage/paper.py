"""workflow: how the paper (off-system) exchanges the clerks register count for T1.

A paper exchange is a miss of T1 (``missing``, or ``exempt`` when classified) when it is
an exchange between the bloc committee and another organisation: one side is one of the
committee's organs (committee, Standing Committee, office, board) and the two sides are
different organisations (a board and the committee's office are one organisation; an
outside organisation named by the clerk is another one).

- A document received on paper (``incoming`` subject, the incoming entry): dated on its
  reception; counted for the sending unit when it is a unit of the bloc, else for the
  receiving unit.
- A document sent on paper (``dispatch`` subject: its dispatch row, ``form="paper"``):
  dated on the day it was sent, counted for the document's unit.

One exchange is counted once: the receiving clerk's paper entry of a document the
sending clerk recorded as sent on paper to that unit is matched with that dispatch
(``IncomingEntry.dispatch_id``) and counted there; when the receiving clerk registered
it first, it stays counted on the entry.

T2, T3 and T4 see paper items through their own rules (``entries``): a document signed
by hand has no digital signature, a work file kept on paper is not processed online, a
report delivered on paper was not submitted online.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.ledger import EXEMPT, LedgerEntry, entries_for, find_entry
from storage.models import Document, Unit
from storage.registry_models import Dispatch, IncomingEntry
from workflow.coverage.entries import Computed, RefreshResult, write_entry
from workflow.coverage.rules import BLOC_KINDS, CLASSIFIED_LABELS, vn_date

DISPATCH = "dispatch"
"""Subject kind of the T1 entry of a document sent on paper (its dispatch row)."""
_ORGANS = frozenset(BLOC_KINDS - {"committee"})
"""Parts of a committee: they exchange documents as the committee they belong to."""


def hand_signed(doc: Document) -> bool:
    """:returns: whether ``doc`` was signed by hand and registered by the clerk (a paper
    document that is not a classified metadata-only registration)."""
    return doc.form == "paper" and not doc.metadata_only


def organisation(unit: Unit) -> Unit:
    """:returns: the organisation ``unit`` belongs to: its committee for an organ of a
    committee (Standing Committee, office, board), else the unit itself."""
    current = unit
    while current.kind in _ORGANS and current.parent is not None:
        current = current.parent
    return current


def counts_for_t1(own: Unit, other: Unit | None) -> bool:
    """:returns: whether an exchange between ``own`` and ``other`` (``None``: an outside
    organisation) is an exchange of the bloc committee with another organisation."""
    if other is None:
        return own.kind in BLOC_KINDS
    if organisation(own).id == organisation(other).id:
        return False
    return own.kind in BLOC_KINDS or other.kind in BLOC_KINDS


def _exempt(classification: str | None) -> dict[str, Any]:
    if not classification:
        return {}
    return {"state": EXEMPT, "exempt_reason": CLASSIFIED_LABELS.get(classification, "Mật")}


def _counted_at_arrival(session: Session, row: Dispatch) -> bool:
    """:returns: whether the exchange of a paper dispatch is already counted on the
    recipient's paper entry (registered before the sender recorded the dispatch)."""
    entry_ids = select(IncomingEntry.id).where(IncomingEntry.dispatch_id == row.id)
    counted = session.scalar(
        select(LedgerEntry.id)
        .where(
            LedgerEntry.target == "T1",
            LedgerEntry.subject_kind == "incoming",
            LedgerEntry.subject_id.in_(entry_ids),
        )
        .limit(1)
    )
    return counted is not None


def t1_paper_incoming(session: Session, entry: IncomingEntry) -> Computed | None:
    """:returns: the T1 entry of a document received on paper, or ``None`` when it is
    not an exchange of the bloc committee or already counted on the sender's dispatch."""
    if entry.form != "paper" or entry.received_at is None:
        return None
    if entry.dispatch_id is not None:  # counted on the sender's paper dispatch
        return None
    sender = session.get(Unit, entry.sender_unit_id) if entry.sender_unit_id else None
    if not counts_for_t1(entry.unit, sender):
        return None
    fields: dict[str, Any] = {
        "state": "missing",
        "reason": f"Nhận bằng bản giấy từ {entry.sender}.",
        **_exempt(entry.classification),
    }
    return Computed(
        target="T1",
        subject_kind="incoming",
        subject_id=entry.id,
        unit_id=sender.id if sender is not None else entry.unit_id,
        period_date=vn_date(entry.received_at),
        doc_type=entry.doc_type,
        label=entry.original_symbol,
        title=entry.subject,
        evidence={
            "form": "paper",
            "receiving_unit": entry.unit.code,
            "sender": entry.sender,
            "number": entry.number,
            "document_id": entry.document_id,
        },
        **fields,
    )


def t1_paper_dispatch(session: Session, row: Dispatch) -> Computed | None:
    """:returns: the T1 entry of a document sent on paper, or ``None`` when it is not an
    exchange of the bloc committee or already counted on the recipient's paper entry."""
    doc = row.document
    if not counts_for_t1(doc.unit, row.recipient_unit) or _counted_at_arrival(session, row):
        return None
    name = row.recipient_unit.name if row.recipient_unit else row.external_name
    fields: dict[str, Any] = {
        "state": "missing",
        "reason": f"Gửi bằng bản giấy đến {name}.",
        **_exempt(doc.classification),
    }
    return Computed(
        target="T1",
        subject_kind=DISPATCH,
        subject_id=row.id,
        unit_id=doc.unit_id,
        period_date=vn_date(row.dispatched_at),
        doc_type=doc.doc_type,
        label=doc.symbol,
        title=doc.subject,
        evidence={"form": "paper", "document_id": doc.id, "recipient": name},
        **fields,
    )


# --- hooks for the use-cases, and the full refresh ------------------------------------


def record_paper_incoming(
    session: Session, entry: IncomingEntry, *, now: datetime, actor_id: int | None = None
) -> None:
    """Record a document received on paper for T1 (after its registration)."""
    session.flush()
    computed = t1_paper_incoming(session, entry)
    if computed is not None:
        existing = find_entry(session, "T1", "incoming", entry.id)
        write_entry(session, existing, computed, now, actor_id, RefreshResult())


def record_paper_dispatches(
    session: Session,
    rows: Iterable[Dispatch],
    *,
    now: datetime,
    actor_id: int | None = None,
) -> None:
    """Record documents sent on paper for T1 (after the clerk recorded them)."""
    session.flush()
    for row in rows:
        computed = t1_paper_dispatch(session, row)
        if computed is not None:
            existing = find_entry(session, "T1", DISPATCH, row.id)
            write_entry(session, existing, computed, now, actor_id, RefreshResult())


def refresh_paper(
    session: Session, now: datetime, actor_id: int | None, result: RefreshResult
) -> None:
    """(Re)compute the T1 entries of every paper exchange (part of the full refresh)."""
    received = entries_for(session, "T1", "incoming")
    for entry in session.scalars(
        select(IncomingEntry)
        .where(IncomingEntry.form == "paper", IncomingEntry.received_at.is_not(None))
        .order_by(IncomingEntry.id)
    ):
        computed = t1_paper_incoming(session, entry)
        if computed is not None:
            write_entry(session, received.get(entry.id), computed, now, actor_id, result)
    sent = entries_for(session, "T1", DISPATCH)
    for row in session.scalars(
        select(Dispatch).where(Dispatch.form == "paper").order_by(Dispatch.id)
    ):
        computed = t1_paper_dispatch(session, row)
        if computed is not None:
            write_entry(session, sent.get(row.id), computed, now, actor_id, result)
