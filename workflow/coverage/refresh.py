"""workflow: (re)computing the coverage ledger: the full refresh (the scheduled job: it
also applies the passing of time, grace periods and due dates), the re-validation of T2
signatures, the hooks called by the use-cases, and special-rule exemptions."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import datetime, time
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from signing.profiles import TrustConfig
from signing.validate import ValidationReport
from storage import audit
from storage.blobs import BlobStore
from storage.ledger import (
    T1_DOCUMENTS,
    LedgerEntry,
    entries_for,
    exemptions,
    find_entry,
)
from storage.models import Document
from storage.registry_models import Dispatch, IncomingEntry, ReportObligation, WorkFile
from workflow.coverage import gather
from workflow.coverage.entries import (
    RefreshResult,
    t1_entry,
    t2_document,
    t3_workfile,
    t4_report,
    write_entry,
)
from workflow.coverage.exchanges import (
    Delivery,
    Verdict,
    counted_unit,
    document_verdict,
    exchange_verdict,
    exchanges,
    is_exchange,
    unit_party,
)
from workflow.coverage.rules import (
    DEFAULT_POLICY,
    REFRESHED,
    CoveragePolicy,
    vn_date,
)
from workflow.vocab import VN_TZ

ALREADY_COUNTED = "Đã tính ở một lượt gửi khác của văn bản đến cùng cơ quan, đơn vị."
DISPATCHED = "Đã gửi: tính theo từng lượt gửi đến cơ quan, đơn vị nhận."
OUT_OF_SCOPE = (
    "Không tính riêng cho T1: không phải trao đổi giữa Đảng ủy Khối với cơ quan, đơn vị "
    "khác, hoặc đã tính ở lượt gửi của văn bản."
)

# --- T1 -------------------------------------------------------------------------------------


def _refresh_t1_documents(
    session: Session,
    now: datetime,
    actor_id: int | None,
    result: RefreshResult,
    policy: CoveragePolicy | None,
    doc_ids: Collection[int] | None = None,
) -> None:
    """T1 of our documents, per delivery (``T1``) and per document (``T1D``); ``policy``
    None (a hook): no grace period decided."""
    all_units = gather.units(session)
    docs = gather.exchanged_documents(session, doc_ids)
    # A hook names its documents; the full refresh reads everything, with no id list.
    ids = [d.id for d in docs] if doc_ids is not None else None
    sent = gather.deliveries(session, all_units, ids)
    per_document = entries_for(session, T1_DOCUMENTS, "document", ids)
    expected = entries_for(session, "T1", "document", ids)
    known = _delivery_entries(session, sent, ids)
    today = vn_date(now) if policy is not None else None

    def write(
        target: str,
        subject: tuple[str, int],
        unit_id: int,
        verdict: Verdict,
        existing: LedgerEntry | None,
        evidence: dict[str, Any],
        **described: Any,
    ) -> None:
        computed = t1_entry(target, subject, unit_id, verdict, evidence=evidence, **described)
        write_entry(session, existing, computed, now, actor_id, result)

    for doc in docs:
        sender = unit_party(all_units, doc.unit_id)
        rows = sent.get(doc.id, [])
        issued_at = doc.issued_at or min(d.at for d in rows)
        previous = per_document.get(doc.id)
        deadline = policy.dispatch_deadline(vn_date(issued_at)) if policy is not None else None
        verdict = document_verdict(
            sender=sender,
            issued_at=issued_at,
            classified=bool(doc.classification),
            recalled=doc.recalled_at is not None,
            deliveries=rows,
            deadline=deadline,
            today=today,
            previous=previous.state if previous is not None else None,
        )
        described: dict[str, Any] = {
            "doc_type": doc.doc_type,
            "label": doc.symbol,
            "title": doc.subject,
            "classification": doc.classification,
        }
        found = exchanges(sender, rows)
        evidence = {
            "deliveries": len(rows),
            "exchanges": len(found),
            "electronic": sum(1 for e in found if e.electronic),
            "deadline": deadline.isoformat() if deadline else None,
        }
        # Per document (T1D): once, whatever the number of its exchanges.
        if verdict is None and previous is not None:
            verdict = Verdict("internal", issued_at, OUT_OF_SCOPE)
        if verdict is not None:
            write(
                T1_DOCUMENTS,
                ("document", doc.id),
                doc.unit_id,
                verdict,
                previous,
                evidence,
                **described,
            )
        # Per delivery (T1): each exchange; a document with none is one expected delivery.
        waiting = expected.get(doc.id)
        if found:
            if waiting is not None and waiting.state != "dispatched":
                sent_at = Verdict("dispatched", issued_at, DISPATCHED)
                write(
                    "T1", ("document", doc.id), doc.unit_id, sent_at, waiting, evidence, **described
                )
        elif verdict is not None:
            write("T1", ("document", doc.id), doc.unit_id, verdict, waiting, evidence, **described)
        counted: set[tuple[str, int]] = set()
        for ex in found:
            subject = (ex.subject_kind, ex.subject_id)
            counted.add(subject)
            write(
                "T1",
                subject,
                counted_unit(sender, ex.receiver) or doc.unit_id,
                exchange_verdict(ex, bool(doc.classification)),
                known.get(doc.id, {}).get(subject),
                {"document_id": doc.id, "receiver": ex.receiver.organisation},
                **described,
            )
        # A delivery counted before, now counted on another one to the same organisation
        # (a paper entry matched with the sender's paper dispatch): out of the figure.
        for subject, stale in known.get(doc.id, {}).items():
            if subject in counted or stale.state == "internal":
                continue
            write(
                "T1",
                subject,
                stale.unit_id,
                Verdict("internal", _moment(stale), ALREADY_COUNTED),
                stale,
                dict(stale.evidence or {}),
                **described,
            )


def _delivery_entries(
    session: Session, sent: dict[int, list[Delivery]], doc_ids: Collection[int] | None
) -> dict[int, dict[tuple[str, int], LedgerEntry]]:
    """The per-delivery entries (``T1``) of the documents' deliveries, now and before (an
    entry since matched with a dispatch), by document and (subject kind, id)."""
    dispatches = None
    entries = None
    if doc_ids is not None:
        dispatches = [
            d.subject_id for r in sent.values() for d in r if d.subject_kind == "dispatch"
        ]
        entries = list(
            session.scalars(
                select(IncomingEntry.id).where(IncomingEntry.document_id.in_(sorted(doc_ids)))
            )
        )
    out: dict[int, dict[tuple[str, int], LedgerEntry]] = {}
    for kind, ids in (("dispatch", dispatches), ("incoming", entries)):
        for subject_id, entry in entries_for(session, "T1", kind, ids).items():
            doc_id = (entry.evidence or {}).get("document_id")
            if isinstance(doc_id, int):
                out.setdefault(doc_id, {})[(kind, subject_id)] = entry
    return out


def _refresh_t1_arrivals(
    session: Session,
    now: datetime,
    actor_id: int | None,
    result: RefreshResult,
    entry_ids: Collection[int] | None = None,
) -> None:
    """T1 of documents received from outside the system's dispatches (per document and
    per delivery: one each)."""
    all_units = gather.units(session)
    rows = gather.arrivals(session, entry_ids)
    ids = [e.id for e, _ in rows]
    known = entries_for(session, "T1", "incoming", entry_ids)
    known_d = entries_for(session, T1_DOCUMENTS, "incoming", ids if entry_ids else None)
    for entry, classification in rows:
        assert entry.received_at is not None  # noqa: S101 - selected on it
        sender = gather.incoming_sender(all_units, entry)
        receiver = unit_party(all_units, entry.unit_id)
        described: dict[str, Any] = {
            "doc_type": entry.doc_type,
            "label": entry.original_symbol,
            "title": entry.subject,
            "classification": classification,
        }
        evidence = {"source": entry.source, "number": entry.number, "sender": entry.sender}
        unit_id = counted_unit(sender, receiver) or entry.unit_id
        if not is_exchange(sender, receiver):
            if entry.id in known:
                verdict = Verdict("internal", entry.received_at, OUT_OF_SCOPE)
                computed = t1_entry(
                    "T1", ("incoming", entry.id), unit_id, verdict, evidence=evidence, **described
                )
                write_entry(session, known[entry.id], computed, now, actor_id, result)
            continue
        electronic = gather.incoming_electronic(entry)
        if classification:
            verdict = Verdict("exempt", entry.received_at)
        elif electronic:
            verdict = Verdict("electronic", entry.received_at)
        else:
            verdict = Verdict(
                "missing", entry.received_at, f"Nhận bằng bản giấy từ {entry.sender}."
            )
        for target, existing in (
            ("T1", known.get(entry.id)),
            (T1_DOCUMENTS, known_d.get(entry.id)),
        ):
            computed = t1_entry(
                target, ("incoming", entry.id), unit_id, verdict, evidence=evidence, **described
            )
            write_entry(session, existing, computed, now, actor_id, result)
    if entry_ids is None:
        # Entries the earlier rules counted (received through a dispatch, or by units
        # outside the exchange) that are no longer arrivals: out of T1, audited.
        listed = set(ids)
        for subject_id, stale in known.items():
            if "document_id" in (stale.evidence or {}):
                continue  # a delivery of one of our documents: counted with it
            if subject_id not in listed and stale.state != "internal":
                verdict = Verdict("internal", _moment(stale), OUT_OF_SCOPE)
                computed = t1_entry(
                    "T1",
                    ("incoming", subject_id),
                    stale.unit_id,
                    verdict,
                    doc_type=stale.doc_type,
                    label=stale.label,
                    title=stale.title,
                    classification=None,
                    evidence=dict(stale.evidence or {}),
                )
                write_entry(session, stale, computed, now, actor_id, result)


def _moment(entry: LedgerEntry) -> datetime:
    """Noon (Vietnam time) of the day an entry counts on: keeps it on that day."""
    return datetime.combine(entry.period_date, time(12), tzinfo=VN_TZ)


# --- T2 -------------------------------------------------------------------------------------


def refresh_t2(
    session: Session,
    blobs: BlobStore,
    trust: TrustConfig,
    now: datetime,
    actor_id: int | None,
    result: RefreshResult,
    *,
    force: bool,
    doc_ids: Collection[int] | None = None,
    report: ValidationReport | None = None,
    loaded: Collection[Document] | None = None,
) -> None:
    """T2's entries of the final documents (of ``doc_ids``; all: None). ``loaded``: those
    documents, already loaded and current (not read again)."""
    if loaded is not None:
        docs = gather.final_among(session, loaded)
    else:
        docs = gather.final_documents(session, doc_ids)
    ids = [d.id for d in docs] if doc_ids is not None else None
    competent = gather.competent_signatures(session, ids)
    existing = entries_for(session, "T2", "document", ids)
    exempted = exemptions(session, ids)
    for doc in docs:
        signatures = competent.get(doc.id, [])
        computed = t2_document(
            blobs,
            trust,
            doc,
            gather.final_at(doc, signatures),
            signatures,
            existing.get(doc.id),
            exempted.get(doc.id),
            force,
            report=report,
        )
        if computed is None:
            continue
        if computed.pdf_sha256 is not None or computed.evidence.get("verdict"):
            result.validated += 1
        write_entry(session, existing.get(doc.id), computed, now, actor_id, result)


# --- T4 -------------------------------------------------------------------------------------


def _record_report(
    session: Session,
    ob: ReportObligation,
    existing: LedgerEntry | None,
    now: datetime,
    actor_id: int | None,
    result: RefreshResult,
) -> None:
    computed = t4_report(ob, gather.report_facts(ob), gather.report_period_end(ob), now)
    if existing is None and computed.state == "pending":
        return  # not due and nothing delivered: nothing to record yet
    write_entry(session, existing, computed, now, actor_id, result)


# --- the full refresh -------------------------------------------------------------------------


def refresh_ledger(
    session: Session,
    blobs: BlobStore,
    trust: TrustConfig,
    *,
    now: datetime,
    actor_id: int | None = None,
    policy: CoveragePolicy = DEFAULT_POLICY,
) -> RefreshResult:
    """(Re)compute the entries of everything in scope as of ``now`` (upsert by target
    and subject; the caller commits): grace periods and due dates are decided here. T2
    signatures are validated for new entries and changed revisions only;
    :func:`revalidate` re-checks all of them. A state change is audited, and so is the
    refresh itself (its time is the figures' "as of")."""
    result = RefreshResult()
    _refresh_t1_documents(session, now, actor_id, result, policy)
    _refresh_t1_arrivals(session, now, actor_id, result)
    refresh_t2(session, blobs, trust, now, actor_id, result, force=False)
    files = entries_for(session, "T3", "workfile")
    for wf in session.scalars(select(WorkFile).where(WorkFile.closed_at.is_not(None))):
        write_entry(session, files.get(wf.id), t3_workfile(wf), now, actor_id, result)
    reports = entries_for(session, "T4", "report")
    for ob in session.scalars(select(ReportObligation).order_by(ReportObligation.id)):
        _record_report(session, ob, reports.get(ob.id), now, actor_id, result)
    session.flush()
    audit.append(
        session,
        REFRESHED,
        actor_id=actor_id,
        object_type="ledger",
        object_id=None,
        details={
            "created": result.created,
            "updated": result.updated,
            "validated": result.validated,
            "changes": len(result.changes),
            "grace_working_days": policy.grace_working_days,
        },
        at=now,
    )
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
    refresh_t2(session, blobs, trust, now, actor_id, result, force=True)
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
    report: ValidationReport | None = None,
) -> None:
    """Record a document for T1 and T2 after issue, registration, dispatch, recall or
    its final signature. ``report``: the validation of its current revision just made
    (by the signing flow), so that it is not validated twice."""
    result = RefreshResult()
    session.flush()
    _refresh_t1_documents(session, now, actor_id, result, None, doc_ids=[doc.id])
    refresh_t2(
        session, blobs, trust, now, actor_id, result, force=False, doc_ids=[doc.id], report=report
    )


def record_signature(
    session: Session,
    blobs: BlobStore,
    trust: TrustConfig,
    doc: Document,
    *,
    now: datetime,
    report: ValidationReport | None = None,
) -> None:
    """Record a document whose route just ended with its signature (no issuance step:
    its final signed form) for T2; ``report`` validates its new revision. Nothing is
    recorded for a document still on its route."""
    if doc.state in gather.SIGNED_STATES and doc.issued_at is None:
        session.flush()
        refresh_t2(
            session,
            blobs,
            trust,
            now,
            None,
            RefreshResult(),
            force=False,
            doc_ids=[doc.id],
            report=report,
            loaded=[doc],
        )


def record_exchange(session: Session, doc: Document, *, now: datetime) -> None:
    """Record a document's dispatches for T1 (a report sent to the superior)."""
    session.flush()
    _refresh_t1_documents(session, now, None, RefreshResult(), None, doc_ids=[doc.id])


def _record_reports(session: Session, now: datetime, *criteria: Any) -> None:
    result = RefreshResult()
    for ob in session.scalars(select(ReportObligation).where(*criteria)).all():
        _record_report(session, ob, find_entry(session, "T4", "report", ob.id), now, None, result)


def record_recall(session: Session, doc: Document, *, now: datetime) -> None:
    """Record a recall for T1 (an undispatched document is no longer awaited) and T4 (a
    recalled report is not submitted)."""
    record_exchange(session, doc, now=now)
    _record_reports(session, now, ReportObligation.document_id == doc.id)


def record_incoming(
    session: Session, entry: IncomingEntry, *, now: datetime, actor_id: int | None = None
) -> None:
    """Record the receipt (or return) of an incoming entry, or a document registered as
    received on paper: T1 (a document from outside; a document of ours counts with it),
    T4 for a report delivered to this register."""
    session.flush()
    _record_reports(session, now, ReportObligation.incoming_entry_id == entry.id)
    if entry.state != "received" or entry.received_at is None or entry.dispatch_id is not None:
        return
    result = RefreshResult()
    if entry.document_id is not None:
        _refresh_t1_documents(session, now, actor_id, result, None, doc_ids=[entry.document_id])
    else:
        _refresh_t1_arrivals(session, now, actor_id, result, entry_ids=[entry.id])


def record_paper_incoming(
    session: Session, entry: IncomingEntry, *, now: datetime, actor_id: int | None = None
) -> None:
    """Record a document registered as received on paper (a T1 miss when the bloc
    committee is party to the exchange, counted once)."""
    record_incoming(session, entry, now=now, actor_id=actor_id)


def record_paper_dispatches(
    session: Session, rows: Iterable[Dispatch], *, now: datetime, actor_id: int | None = None
) -> None:
    """Record documents sent on paper (dispatch rows of the form ``paper``) for T1."""
    session.flush()
    doc_ids = sorted({row.document_id for row in rows})
    _refresh_t1_documents(session, now, actor_id, RefreshResult(), None, doc_ids=doc_ids)


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


def record_obligation(
    session: Session, ob: ReportObligation, *, now: datetime, actor_id: int | None = None
) -> None:
    """Record a report obligation for T4 (after its report is sent, received, returned
    or recalled, or recorded on paper)."""
    session.flush()
    existing = find_entry(session, "T4", "report", ob.id)
    _record_report(session, ob, existing, now, actor_id, RefreshResult())
