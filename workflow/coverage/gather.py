"""workflow: the facts the coverage rules need, read from the registers (documents,
dispatches, incoming entries, signatures, report obligations).

Whether a register row is electronic is decided here, in one function per kind of row
(:func:`dispatch_electronic`, :func:`incoming_electronic`, :func:`report_on_paper`): the
rows a clerk registers on paper say so by their form, and count as misses.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from storage.models import Certificate, Document, Signature, Unit, User
from storage.registry_models import Dispatch, IncomingEntry, ReportObligation
from workflow.coverage.entries import CompetentSignature
from workflow.coverage.exchanges import (
    Delivery,
    Party,
    bloc_unit_ids,
    outside_party,
    unit_party,
)
from workflow.coverage.figures import parse_period
from workflow.coverage.obligations import ReportFacts

SIGNED_STATES = ("signed",)
"""States of a document whose route ended with its signature (no issuance step): its
final signed form, like an issued one."""
COMPETENT_PURPOSES = ("personal", "external")
"""Certificates of people (the competent signer); ``seal`` is the organisation's."""


def units(session: Session) -> dict[int, Unit]:
    """:returns: every unit, by id."""
    return {u.id: u for u in session.scalars(select(Unit))}


# --- electronic or not: one place per kind of register row -----------------------------


def dispatch_electronic(row: Dispatch) -> bool:
    """:returns: whether a dispatch row was sent electronically (a paper dispatch
    recorded by the clerk has the form ``paper``)."""
    return row.form != "paper"


def incoming_electronic(entry: IncomingEntry) -> bool:
    """:returns: whether an incoming entry arrived electronically (a paper one
    registered by the clerk has the form ``paper``)."""
    return entry.form != "paper"


def incoming_sender(all_units: dict[int, Unit], entry: IncomingEntry) -> Party:
    """:returns: who sent an incoming entry that did not come through a dispatch: the
    unit of ours the clerk named, else an outside organisation by the sender's name."""
    if entry.sender_unit_id is not None and entry.sender_unit_id in all_units:
        return unit_party(all_units, entry.sender_unit_id)
    return outside_party(entry.sender)


def report_on_paper(ob: ReportObligation) -> bool:
    """:returns: whether the report of an obligation was delivered on paper (recorded by
    the clerk who received it): a miss."""
    return ob.paper_delivered_on is not None


# --- T1 ---------------------------------------------------------------------------------


def _arrived() -> Any:
    """Received incoming entries that came through no dispatch (paper ones, and files
    from outside)."""
    return (
        IncomingEntry.dispatch_id.is_(None),
        IncomingEntry.state == "received",
        IncomingEntry.received_at.is_not(None),
    )


def exchanged_documents(session: Session, doc_ids: Collection[int] | None) -> list[Document]:
    """:returns: the outgoing documents T1 may count: issued ones (also classified,
    recalled and hand-signed ones) and any document that was delivered (a report sent to
    the superior, a document another unit registered as received on paper)."""
    dispatched = select(Dispatch.document_id)
    registered = select(IncomingEntry.document_id).where(
        *_arrived(), IncomingEntry.document_id.is_not(None)
    )
    query = select(Document).where(
        Document.direction == "outgoing",
        or_(
            Document.issued_at.is_not(None),
            Document.id.in_(dispatched),
            Document.id.in_(registered),
        ),
    )
    if doc_ids is not None:
        query = query.where(Document.id.in_(sorted(doc_ids)))
    return list(session.scalars(query.order_by(Document.id)))


def deliveries(
    session: Session, all_units: dict[int, Unit], doc_ids: Collection[int] | None
) -> dict[int, list[Delivery]]:
    """:returns: the deliveries of the documents (all: None): their dispatch rows, and
    the entries recipients registered for them with no dispatch to match (a document
    received on paper before, or without, the sender's record of it)."""
    query = select(Dispatch)
    entries = select(IncomingEntry).where(*_arrived(), IncomingEntry.document_id.is_not(None))
    if doc_ids is not None:
        query = query.where(Dispatch.document_id.in_(sorted(doc_ids)))
        entries = entries.where(IncomingEntry.document_id.in_(sorted(doc_ids)))
    out: dict[int, list[Delivery]] = {}
    for row in session.scalars(query.order_by(Dispatch.id)):
        if row.recipient_unit_id is not None:
            receiver = unit_party(all_units, row.recipient_unit_id)
            unit = all_units.get(row.recipient_unit_id)
            name = unit.name if unit is not None else ""
        else:
            name = row.external_name or row.external_email or ""
            receiver = outside_party(row.external_email or row.external_name)
        out.setdefault(row.document_id, []).append(
            Delivery(
                "dispatch",
                row.id,
                receiver,
                row.dispatched_at,
                dispatch_electronic(row),
                name,
            )
        )
    for entry in session.scalars(entries.order_by(IncomingEntry.id)):
        assert entry.document_id is not None and entry.received_at is not None  # noqa: S101
        out.setdefault(entry.document_id, []).append(
            Delivery(
                "incoming",
                entry.id,
                unit_party(all_units, entry.unit_id),
                entry.received_at,
                incoming_electronic(entry),
                entry.unit.name,
            )
        )
    return out


def arrivals(
    session: Session, entry_ids: Collection[int] | None = None
) -> list[tuple[IncomingEntry, str | None]]:
    """:returns: received incoming entries that are no delivery of a document of ours (a
    dispatched document counts once, at its dispatch; one registered as received for a
    document of ours counts with that document), with their classification."""
    query = select(IncomingEntry).where(*_arrived(), IncomingEntry.document_id.is_(None))
    if entry_ids is not None:
        query = query.where(IncomingEntry.id.in_(sorted(entry_ids)))
    return [(e, e.classification) for e in session.scalars(query.order_by(IncomingEntry.id))]


# --- T2 ---------------------------------------------------------------------------------


def final_documents(session: Session, doc_ids: Collection[int] | None) -> list[Document]:
    """:returns: the documents of T2's units (the bloc committee's organs: its Standing
    Committee, boards, office) that reached their final signed form: issued (recalled
    ones too), or signed at the end of a route without issuance."""
    scope = bloc_unit_ids(units(session))
    query = select(Document).where(
        Document.direction == "outgoing",
        Document.unit_id.in_(sorted(scope)),
        or_(Document.issued_at.is_not(None), Document.state.in_(SIGNED_STATES)),
    )
    if doc_ids is not None:
        query = query.where(Document.id.in_(sorted(doc_ids)))
    return list(session.scalars(query.order_by(Document.id)))


def final_among(session: Session, docs: Collection[Document]) -> list[Document]:
    """:returns: those of ``docs`` (loaded, current) that :func:`final_documents` would
    return, by the same conditions, without reading them again."""
    scope = bloc_unit_ids(units(session))
    return sorted(
        (
            d
            for d in docs
            if d.direction == "outgoing"
            and d.unit_id in scope
            and (d.issued_at is not None or d.state in SIGNED_STATES)
        ),
        key=lambda d: d.id,
    )


def competent_signatures(
    session: Session, doc_ids: Collection[int] | None
) -> dict[int, list[CompetentSignature]]:
    """:returns: per document (all: None), the signatures of people TrinhKy applied, in
    order."""
    query = (
        select(
            Signature.document_id,
            Certificate.fingerprint,
            User.full_name,
            Signature.signed_at,
            Certificate.revoked_at,
        )
        .join(Certificate, Certificate.id == Signature.certificate_id)
        .join(User, User.id == Signature.signer_id)
        .where(Certificate.purpose.in_(COMPETENT_PURPOSES))
    )
    if doc_ids is not None:
        if not doc_ids:
            return {}
        query = query.where(Signature.document_id.in_(sorted(doc_ids)))
    rows = session.execute(query.order_by(Signature.id)).all()
    out: dict[int, list[CompetentSignature]] = {}
    for doc_id, fingerprint, full_name, signed_at, revoked_at in rows:
        out.setdefault(doc_id, []).append(
            CompetentSignature(fingerprint, full_name, signed_at, revoked_at)
        )
    return out


def final_at(doc: Document, competent: list[CompetentSignature]) -> datetime:
    """:returns: when a document reached its final signed form: its issue, else its
    last signature, else its last change."""
    if doc.issued_at is not None:
        return doc.issued_at
    if competent:
        return max(c.signed_at for c in competent)
    return doc.updated_at


# --- T4 ---------------------------------------------------------------------------------


def report_facts(ob: ReportObligation) -> ReportFacts:
    """:returns: what T4 knows of an obligation: its delivery to the superior's incoming
    register and that register's receipt (``submitted_at``, set on receipt)."""
    entry = ob.incoming_entry
    doc = ob.document
    sent_at, received_at, problem = ob.sent_at, ob.submitted_at, None
    if entry is not None and entry.state != "received":
        received_at = None
    if entry is not None and entry.state == "returned":
        sent_at = None
        problem = "Đảng ủy Khối trả lại báo cáo khi tiếp nhận: " + (
            entry.return_reason or "không rõ lý do"
        )
    if doc is not None and doc.recalled_at is not None:
        sent_at = received_at = None
        problem = "Văn bản báo cáo đã bị thu hồi."
    return ReportFacts(
        due_date=ob.due_date,
        classified=ob.classified,
        sent_at=sent_at,
        received_at=received_at,
        on_paper=report_on_paper(ob),
        paper_on=ob.paper_delivered_on,
        problem=problem,
    )


def report_period_end(ob: ReportObligation) -> date:
    """:returns: the last day of the obligation's reporting period (it counts then)."""
    return parse_period(ob.period, ob.due_date).end
