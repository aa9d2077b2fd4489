"""workflow: how one subject counts towards one target (the T1-T4 rules of the
coverage ledger), and writing that state as a ledger entry, audited when it changes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from signing.profiles import TrustConfig
from signing.validate import ValidationReport, validate_pdf
from storage import audit
from storage.blobs import BlobStore, sha256_of
from storage.errors import BlobNotFoundError
from storage.ledger import EXEMPT, LedgerEntry, LedgerExemption
from storage.models import Document, Signature
from storage.registry_models import IncomingEntry, ReportObligation, WorkFile
from workflow.coverage.rules import CLASSIFIED_LABELS, STATE_CHANGED, vn_date


@dataclass(frozen=True)
class Computed:
    """The state of one subject for one target, before it is written."""

    target: str
    subject_kind: str
    subject_id: int
    unit_id: int
    period_date: date
    state: str
    doc_type: str | None = None
    label: str | None = None
    title: str | None = None
    reason: str | None = None
    exempt_reason: str | None = None
    exempt_decision: str | None = None
    exempt_approved_by_id: int | None = None
    evidence: dict[str, Any] = field(default_factory=dict)
    pdf_sha256: str | None = None


@dataclass(frozen=True)
class Change:
    """A state change of an existing entry (each one is logged in the audit log)."""

    target: str
    subject_kind: str
    subject_id: int
    before: str
    after: str


@dataclass
class RefreshResult:
    """What a refresh or a re-validation did."""

    created: int = 0
    updated: int = 0
    validated: int = 0
    changes: list[Change] = field(default_factory=list)


def write_entry(
    session: Session,
    existing: LedgerEntry | None,
    c: Computed,
    now: datetime,
    actor_id: int | None,
    result: RefreshResult,
) -> LedgerEntry:
    entry = existing
    if entry is None:
        entry = LedgerEntry(target=c.target, subject_kind=c.subject_kind, subject_id=c.subject_id)
        session.add(entry)
        result.created += 1
    else:
        result.updated += 1
    before = existing.state if existing is not None else None
    for name in (
        "unit_id",
        "period_date",
        "state",
        "doc_type",
        "label",
        "title",
        "reason",
        "exempt_reason",
        "exempt_decision",
        "exempt_approved_by_id",
        "evidence",
        "pdf_sha256",
    ):
        setattr(entry, name, getattr(c, name))
    entry.checked_at = now
    if before is not None and before != c.state:
        session.flush()
        result.changes.append(Change(c.target, c.subject_kind, c.subject_id, before, c.state))
        audit.append(
            session,
            STATE_CHANGED,
            actor_id=actor_id,
            object_type="ledger_entry",
            object_id=entry.id,
            details={
                "target": c.target,
                "subject_kind": c.subject_kind,
                "subject_id": c.subject_id,
                "from": before,
                "to": c.state,
                "reason": c.reason,
                "pdf_sha256": c.pdf_sha256,
            },
            at=now,
        )
    return entry


# --- T2: signatures -----------------------------------------------------------------


def _read_and_validate(
    blobs: BlobStore, key: str, trust: TrustConfig
) -> tuple[str | None, ValidationReport | None]:
    """:returns: the SHA-256 of the bytes stored under ``key`` (not the key: a tampered
    file shows) and their validation report; ``(None, None)`` if the blob is gone."""
    try:
        with blobs.local_copy(key) as path:
            with path.open("rb") as f:
                read, _size = sha256_of(f)
            return read, validate_pdf(path, trust)
    except (BlobNotFoundError, OSError):
        return None, None


def _check_signatures(
    session: Session, blobs: BlobStore, trust: TrustConfig, doc: Document
) -> tuple[str, str | None, dict[str, Any], str | None]:
    """:returns: (state, reason, evidence, sha256 read) of the issued revision."""
    revision = doc.current_revision
    stored = session.scalar(select(Signature.id).where(Signature.document_id == doc.id).limit(1))
    read, report = _read_and_validate(blobs, revision.blob_sha256, trust)
    evidence: dict[str, Any] = {
        "revision": revision.number,
        "recorded_sha256": revision.blob_sha256,
    }
    if read is None or report is None:
        evidence["verdict"] = "unreadable"
        return (
            "signed_invalid",
            "Không tìm thấy tệp văn bản đã ban hành trong kho lưu trữ.",
            evidence,
            None,
        )
    evidence.update(
        verdict=report.verdict,
        error=report.error,
        signatures=[
            {
                "field": s.field_name,
                "signer": s.signer_name,
                "fingerprint": s.cert_fingerprint_sha256,
                "bottom_line": s.bottom_line,
                "coverage": s.coverage,
                "problems": list(s.problems),
            }
            for s in report.signatures
        ],
    )
    if report.verdict == "unsigned" and stored is None:
        return "missing", "Văn bản ban hành không có chữ ký số.", evidence, read
    problems: list[str] = []
    if read != revision.blob_sha256:
        problems.append("Tệp lưu trữ không khớp mã băm đã ghi khi ban hành")
    if report.error:
        problems.append(report.error)
    elif not report.signatures:
        problems.append("Chữ ký số đã ghi nhận không còn trong tệp")
    else:
        problems += [p for s in report.signatures for p in s.problems]
        last = report.signatures[-1]
        # Only a DSS or document timestamps (PAdES B-LT/B-LTA) may follow the last signature.
        if last.coverage != "entire_file" and last.modification_level not in (
            "none",
            "lta_updates",
        ):
            problems.append("Chữ ký cuối không bao phủ toàn bộ bản ban hành")
    if not problems and report.bottom_line:
        return "signed_valid", None, evidence, read
    return (
        "signed_invalid",
        "; ".join(dict.fromkeys(problems)) or "Chữ ký không hợp lệ",
        evidence,
        read,
    )


def t2_document(
    session: Session,
    blobs: BlobStore,
    trust: TrustConfig,
    doc: Document,
    existing: LedgerEntry | None,
    exemption: LedgerExemption | None,
    force: bool,
) -> Computed | None:
    assert doc.issued_at is not None  # noqa: S101 - selected on it
    common: dict[str, Any] = {
        "target": "T2",
        "subject_kind": "document",
        "subject_id": doc.id,
        "unit_id": doc.unit_id,
        "period_date": vn_date(doc.issued_at),
        "doc_type": doc.doc_type,
        "label": doc.symbol,
        "title": doc.subject,
    }
    if doc.classification:
        label = CLASSIFIED_LABELS.get(doc.classification, doc.classification)
        return Computed(state=EXEMPT, exempt_reason=label, **common)
    if exemption is not None:
        return Computed(
            state=EXEMPT,
            exempt_reason=exemption.reason,
            exempt_decision=exemption.decision,
            exempt_approved_by_id=exemption.approved_by_id,
            evidence={"exemption_id": exemption.id},
            **common,
        )
    if doc.form == "paper":  # signed by hand, registered by the clerk
        return Computed(
            state="missing",
            reason="Văn bản ký tay trên giấy, không có chữ ký số.",
            evidence={"form": "paper"},
            **common,
        )
    if not doc.has_content:
        return Computed(state="missing", reason="Văn bản không có bản điện tử.", **common)
    fresh = (
        existing is not None
        and existing.state != EXEMPT
        and existing.pdf_sha256 == doc.current_revision.blob_sha256
    )
    if fresh and not force:
        return None  # already validated for this revision; revalidate() re-checks
    state, reason, evidence, read = _check_signatures(session, blobs, trust, doc)
    return Computed(state=state, reason=reason, evidence=evidence, pdf_sha256=read, **common)


# --- T1, T3, T4 ---------------------------------------------------------------------


def t1_document(doc: Document, first_dispatch: datetime | None, recipients: int) -> Computed:
    assert doc.issued_at is not None  # noqa: S101 - selected on it
    when = first_dispatch or doc.issued_at
    common: dict[str, Any] = {
        "target": "T1",
        "subject_kind": "document",
        "subject_id": doc.id,
        "unit_id": doc.unit_id,
        "period_date": vn_date(when),
        "doc_type": doc.doc_type,
        "label": doc.symbol,
        "title": doc.subject,
        "evidence": {"dispatches": recipients},
    }
    if doc.classification:
        label = CLASSIFIED_LABELS.get(doc.classification, doc.classification)
        return Computed(state=EXEMPT, exempt_reason=label, **common)
    if recipients:
        return Computed(state="electronic", **common)
    return Computed(state="missing", reason="Chưa phát hành (gửi) trên hệ thống.", **common)


def t1_incoming(entry: IncomingEntry, classification: str | None) -> Computed:
    assert entry.received_at is not None  # noqa: S101 - selected on it
    common: dict[str, Any] = {
        "target": "T1",
        "subject_kind": "incoming",
        "subject_id": entry.id,
        "unit_id": entry.unit_id,
        "period_date": vn_date(entry.received_at),
        "doc_type": entry.doc_type,
        "label": entry.original_symbol,
        "title": entry.subject,
        "evidence": {"source": entry.source, "number": entry.number},
    }
    if classification:
        label = CLASSIFIED_LABELS.get(classification, classification)
        return Computed(state=EXEMPT, exempt_reason=label, **common)
    return Computed(state="electronic", **common)


def t3_workfile(wf: WorkFile) -> Computed:
    assert wf.closed_at is not None  # noqa: S101 - selected on it
    offline = sum(1 for i in wf.items if i.offline_note)
    common: dict[str, Any] = {
        "target": "T3",
        "subject_kind": "workfile",
        "subject_id": wf.id,
        "unit_id": wf.unit_id,
        "period_date": vn_date(wf.closed_at),
        "label": wf.code,
        "title": wf.title,
        "evidence": {"items": len(wf.items), "offline_items": offline},
    }
    if wf.classified:
        return Computed(state=EXEMPT, exempt_reason="Hồ sơ mật", **common)
    if wf.processed_online:
        return Computed(state="online", **common)
    if wf.form == "paper":
        return Computed(state="offline", reason="Hồ sơ lưu trên giấy, ngoài hệ thống.", **common)
    reason = (
        f"{offline} bước xử lý trên giấy, ngoài hệ thống."
        if offline
        else "Có thành phần hồ sơ chưa được xử lý trọn vẹn trên hệ thống."
    )
    return Computed(state="offline", reason=reason, **common)


def t4_report(ob: ReportObligation, now: datetime) -> Computed | None:
    common: dict[str, Any] = {
        "target": "T4",
        "subject_kind": "report",
        "subject_id": ob.id,
        "unit_id": ob.unit_id,
        "period_date": ob.due_date,
        "doc_type": "BC",
        "label": f"{ob.report_type} {ob.period}",
        "title": ob.title,
        "evidence": {"document_id": ob.document_id, "due_date": ob.due_date.isoformat()},
    }
    if ob.classified:
        return Computed(state=EXEMPT, exempt_reason="Báo cáo mật", **common)
    if ob.submitted_at is not None:
        if vn_date(ob.submitted_at) <= ob.due_date:
            return Computed(state="submitted", **common)
        return Computed(state="late", reason="Gửi trực tuyến nhưng quá hạn.", **common)
    if ob.paper_delivered_on is not None:  # recorded by a clerk: a miss, due or not
        on = ob.paper_delivered_on.strftime("%d/%m/%Y")
        return Computed(state="missing", reason=f"Nộp bằng bản giấy ngày {on}.", **common)
    if vn_date(now) > ob.due_date:
        return Computed(state="missing", reason="Chưa gửi báo cáo trên hệ thống.", **common)
    return None  # not due yet
