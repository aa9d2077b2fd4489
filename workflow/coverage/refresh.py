"""workflow: (re)computing the coverage ledger: the full refresh, the re-validation of
T2 signatures, the hooks called by the use-cases, and special-rule exemptions."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from signing.profiles import TrustConfig
from storage import audit
from storage.blobs import BlobStore
from storage.ledger import LedgerEntry, LedgerExemption, entries_for, exemptions, find_entry
from storage.models import Document, Unit, User
from storage.registry_models import Dispatch, IncomingEntry, ReportObligation, WorkFile
from workflow.coverage import paper
from workflow.coverage.entries import (
    RefreshResult,
    t1_document,
    t1_incoming,
    t2_document,
    t3_workfile,
    t4_report,
    write_entry,
)
from workflow.coverage.rules import EXEMPTION_RECORDED, T2_KINDS, require_auditor
from workflow.errors import ConflictError, InvalidInputError, NotFoundError

# --- refresh ------------------------------------------------------------------------


def _issued(session: Session, ids: Iterable[int] | None) -> list[Document]:
    query = select(Document).where(
        Document.issued_at.is_not(None), Document.direction == "outgoing"
    )
    if ids is not None:
        query = query.where(Document.id.in_(list(ids)))
    return list(session.scalars(query.order_by(Document.id)))


def _refresh_t1(
    session: Session,
    now: datetime,
    actor_id: int | None,
    result: RefreshResult,
    doc_ids: Iterable[int] | None = None,
) -> None:
    # A document signed by hand counts for T1 by its paper exchanges (coverage.paper).
    docs = [d for d in _issued(session, doc_ids) if not paper.hand_signed(d)]
    existing = entries_for(session, "T1", "document")
    firsts: dict[int, tuple[datetime, int]] = {}
    for doc_id, at in session.execute(
        select(Dispatch.document_id, Dispatch.dispatched_at)
        .where(Dispatch.form == "electronic")  # paper ones: coverage.paper
        .order_by(Dispatch.dispatched_at)
    ):
        first, count = firsts.get(doc_id, (at, 0))
        firsts[doc_id] = (first, count + 1)
    for doc in docs:
        first, count = firsts.get(doc.id, (None, 0))  # type: ignore[assignment]
        write_entry(
            session, existing.get(doc.id), t1_document(doc, first, count), now, actor_id, result
        )
    if doc_ids is not None:
        return
    incoming = entries_for(session, "T1", "incoming")
    rows = session.execute(
        select(IncomingEntry, Document.classification)
        .outerjoin(Document, Document.id == IncomingEntry.document_id)
        .where(
            IncomingEntry.state == "received",
            IncomingEntry.received_at.is_not(None),
            IncomingEntry.form == "electronic",
        )
    ).all()
    for entry, classification in rows:
        write_entry(
            session,
            incoming.get(entry.id),
            t1_incoming(entry, classification),
            now,
            actor_id,
            result,
        )


def _refresh_t2(
    session: Session,
    blobs: BlobStore,
    trust: TrustConfig,
    now: datetime,
    actor_id: int | None,
    result: RefreshResult,
    *,
    force: bool,
    doc_ids: Iterable[int] | None = None,
) -> None:
    scope = {u.id for u in session.scalars(select(Unit).where(Unit.kind.in_(T2_KINDS)))}
    docs = [d for d in _issued(session, doc_ids) if d.unit_id in scope]
    existing = entries_for(session, "T2", "document")
    exempted = exemptions(session, [d.id for d in docs])
    for doc in docs:
        computed = t2_document(
            session, blobs, trust, doc, existing.get(doc.id), exempted.get(doc.id), force
        )
        if computed is None:
            continue
        if computed.pdf_sha256 is not None or computed.evidence.get("verdict"):
            result.validated += 1
        write_entry(session, existing.get(doc.id), computed, now, actor_id, result)


def refresh_ledger(
    session: Session,
    blobs: BlobStore,
    trust: TrustConfig,
    *,
    now: datetime,
    actor_id: int | None = None,
) -> RefreshResult:
    """(Re)compute the entries of everything in scope (upsert by target and subject; the
    caller commits). T2 signatures are validated for new entries and changed revisions
    only; :func:`revalidate` re-checks all of them. A state change is audited."""
    result = RefreshResult()
    _refresh_t1(session, now, actor_id, result)
    paper.refresh_paper(session, now, actor_id, result)
    _refresh_t2(session, blobs, trust, now, actor_id, result, force=False)
    files = entries_for(session, "T3", "workfile")
    for wf in session.scalars(select(WorkFile).where(WorkFile.closed_at.is_not(None))):
        write_entry(session, files.get(wf.id), t3_workfile(wf), now, actor_id, result)
    reports = entries_for(session, "T4", "report")
    for ob in session.scalars(select(ReportObligation)):
        computed = t4_report(ob, now)
        if computed is not None:
            write_entry(session, reports.get(ob.id), computed, now, actor_id, result)
    session.flush()
    return result


def revalidate(
    session: Session,
    blobs: BlobStore,
    trust: TrustConfig,
    now: datetime,
    actor_id: int | None = None,
) -> RefreshResult:
    """Re-check the signatures of every T2 document today; every change of state is
    logged (``ledger:state_changed``). The caller commits."""
    result = RefreshResult()
    _refresh_t2(session, blobs, trust, now, actor_id, result, force=True)
    session.flush()
    return result


# --- hooks for the use-cases ----------------------------------------------------------


def record_document(
    session: Session,
    blobs: BlobStore,
    trust: TrustConfig,
    doc: Document,
    *,
    now: datetime,
    actor_id: int | None = None,
) -> None:
    """Record an issued (or newly dispatched) document for T1 and T2 (after issue,
    register_classified, dispatch and recall)."""
    result = RefreshResult()
    session.flush()
    _refresh_t1(session, now, actor_id, result, doc_ids=[doc.id])
    _refresh_t2(session, blobs, trust, now, actor_id, result, force=False, doc_ids=[doc.id])


def record_incoming(session: Session, entry: IncomingEntry, *, now: datetime) -> None:
    """Record an incoming entry received in the system for T1 (after receive)."""
    if entry.form == "paper":
        paper.record_paper_incoming(session, entry, now=now)
        return
    if entry.state != "received" or entry.received_at is None:
        return
    doc = session.get(Document, entry.document_id) if entry.document_id else None
    computed = t1_incoming(entry, doc.classification if doc else None)
    write_entry(
        session,
        find_entry(session, "T1", "incoming", entry.id),
        computed,
        now,
        None,
        RefreshResult(),
    )


def record_workfile(session: Session, wf: WorkFile, *, now: datetime) -> None:
    """Record a closed work file for T3 (after close)."""
    if wf.closed_at is not None:
        write_entry(
            session,
            find_entry(session, "T3", "workfile", wf.id),
            t3_workfile(wf),
            now,
            None,
            RefreshResult(),
        )


def record_obligation(session: Session, ob: ReportObligation, *, now: datetime) -> None:
    """Record a report obligation for T4 (after a submission)."""
    computed = t4_report(ob, now)
    if computed is not None:
        write_entry(
            session,
            find_entry(session, "T4", "report", ob.id),
            computed,
            now,
            None,
            RefreshResult(),
        )


# --- exemptions -----------------------------------------------------------------------


def _text(value: Any, label: str) -> str:
    if not isinstance(value, str) or not " ".join(value.split()):
        raise InvalidInputError(f"Vui lòng nhập {label}.")
    text = " ".join(value.split())
    if len(text) > 1000:
        raise InvalidInputError(f"{label.capitalize()} quá dài (tối đa 1000 ký tự).")
    return text


def record_exemption(
    session: Session,
    blobs: BlobStore,
    trust: TrustConfig,
    actor: User,
    document_id: Any,
    reason: Any,
    decision: Any,
    *,
    now: datetime,
) -> LedgerEntry:
    """Exempt an issued document from T2 under a special rule of a competent authority
    (who approved: the actor, an auditor or administrator). The caller commits.

    :raises InvalidInputError: missing reason or decision.
    :raises NotFoundError: no such issued document in T2's scope.
    :raises ConflictError: already exempted.
    """
    require_auditor(actor)
    if isinstance(document_id, bool) or not isinstance(document_id, int):
        raise InvalidInputError("'document_id' phải là số nguyên.")
    reason_text = _text(reason, "lý do miễn trừ")
    decision_text = _text(decision, "văn bản (quyết định) cho phép miễn trừ")
    doc = session.get(Document, document_id)
    unit = session.get(Unit, doc.unit_id) if doc is not None else None
    if doc is None or doc.issued_at is None or unit is None or unit.kind not in T2_KINDS:
        raise NotFoundError("Không tìm thấy văn bản đã ban hành thuộc phạm vi chỉ tiêu ký số (T2).")
    if exemptions(session, [doc.id]):
        raise ConflictError("Văn bản này đã được ghi nhận miễn trừ trước đó.")
    exemption = LedgerExemption(
        document_id=doc.id,
        reason=reason_text,
        decision=decision_text,
        approved_by_id=actor.id,
        recorded_at=now,
    )
    session.add(exemption)
    session.flush()
    audit.append(
        session,
        EXEMPTION_RECORDED,
        actor_id=actor.id,
        object_type="document",
        object_id=doc.id,
        details={"reason": reason_text, "decision": decision_text, "exemption_id": exemption.id},
        at=now,
    )
    _refresh_t2(session, blobs, trust, now, actor.id, RefreshResult(), force=True, doc_ids=[doc.id])
    entry = find_entry(session, "T2", "document", doc.id)
    assert entry is not None  # noqa: S101 - just written
    return entry
