"""workflow: how one subject counts towards one target (the T1-T4 rules of the
coverage ledger, with ``exchanges`` and ``obligations``), and writing that state as a
ledger entry, audited when it changes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy.orm import Session

from signing.profiles import TrustConfig
from signing.validate import ValidationReport, validate_pdf
from storage import audit
from storage.blobs import BlobStore, sha256_of
from storage.errors import BlobNotFoundError
from storage.ledger import EXEMPT, LedgerEntry, LedgerExemption
from storage.models import Document
from storage.registry_models import ReportObligation, WorkFile
from workflow.coverage.exchanges import Verdict
from workflow.coverage.obligations import ReportFacts, ledger_state, report_status
from workflow.coverage.rules import CLASSIFICATION_LABELS, STATE_CHANGED, vn_date


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


# --- T2: the competent signer's valid signature ---------------------------------------


@dataclass(frozen=True)
class CompetentSignature:
    """A signature of the competent person that TrinhKy applied (personal or external
    certificate; the organisation's seal is not one)."""

    fingerprint: str
    """SHA-256 of the signer certificate (as in validation reports)."""
    signer: str
    """The signer's name."""
    signed_at: datetime
    """When TrinhKy recorded it."""
    revoked_at: datetime | None
    """When the certificate was revoked, if it was."""


def _read_and_validate(
    blobs: BlobStore, key: str, trust: TrustConfig, report: ValidationReport | None
) -> tuple[str | None, ValidationReport | None]:
    """:param report: the validation of these bytes if it was just made.
    :returns: the SHA-256 of the bytes stored under ``key`` (not the key: a tampered
    file shows) and their validation report; ``(None, None)`` if the blob is gone."""
    try:
        with blobs.local_copy(key) as path:
            with path.open("rb") as f:
                read, _size = sha256_of(f)
            if report is None or read != key:
                report = validate_pdf(path, trust)
            return read, report
    except (BlobNotFoundError, OSError):
        return None, None


def _competent_problems(
    report: ValidationReport, competent: list[CompetentSignature]
) -> tuple[list[str], bool]:
    """:returns: the problems of the competent signer's signatures in ``report``, and
    whether the report holds any of them."""
    by_fingerprint = {c.fingerprint: c for c in competent}
    mine = [s for s in report.signatures if s.cert_fingerprint_sha256 in by_fingerprint]
    problems: list[str] = []
    for s in mine:
        cert = by_fingerprint[s.cert_fingerprint_sha256]
        moment = s.timestamp_time or s.signing_time or cert.signed_at
        if cert.revoked_at is not None and cert.revoked_at <= moment:
            problems.append(f"Chứng thư số của {cert.signer} đã bị thu hồi trước thời điểm ký")
    if mine and not any(s.bottom_line for s in mine):
        problems.append("Chữ ký số của người có thẩm quyền không hợp lệ")
    return problems, bool(mine)


def _check_signatures(
    blobs: BlobStore,
    trust: TrustConfig,
    doc: Document,
    competent: list[CompetentSignature],
    report: ValidationReport | None = None,
) -> tuple[str, str | None, dict[str, Any], str | None]:
    """:param report: the validation of the final revision if it was just made.
    :returns: (state, reason, evidence, sha256 read) of the final revision."""
    revision = doc.current_revision
    read, report = _read_and_validate(blobs, revision.blob_sha256, trust, report)
    evidence: dict[str, Any] = {
        "revision": revision.number,
        "recorded_sha256": revision.blob_sha256,
        "competent": [c.fingerprint for c in competent],
    }
    if read is None or report is None:
        evidence["verdict"] = "unreadable"
        return (
            "signed_invalid",
            "Không tìm thấy tệp văn bản (bản cuối cùng) trong kho lưu trữ.",
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
                "trust_list": s.trust_list,
                "coverage": s.coverage,
                "problems": list(s.problems),
            }
            for s in report.signatures
        ],
    )
    if report.error is None and not competent and not report.signatures:
        return "missing", "Văn bản không có chữ ký số.", evidence, read
    problems: list[str] = []
    if read != revision.blob_sha256:
        problems.append("Tệp lưu trữ không khớp mã băm đã ghi nhận")
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
            problems.append("Chữ ký cuối không bao phủ toàn bộ văn bản")
        found, has_competent = _competent_problems(report, competent)
        problems += found
        if not has_competent and not problems:
            return (
                "missing",
                "Văn bản không có chữ ký số của người có thẩm quyền (chỉ có chữ ký của tổ chức).",
                evidence,
                read,
            )
        if not has_competent:
            problems.append("Không có chữ ký số của người có thẩm quyền")
    if not problems and report.bottom_line:
        return "signed_valid", None, evidence, read
    return (
        "signed_invalid",
        "; ".join(dict.fromkeys(problems)) or "Chữ ký không hợp lệ",
        evidence,
        read,
    )


def t2_document(
    blobs: BlobStore,
    trust: TrustConfig,
    doc: Document,
    final_at: datetime,
    competent: list[CompetentSignature],
    existing: LedgerEntry | None,
    exemption: LedgerExemption | None,
    force: bool,
    *,
    report: ValidationReport | None = None,
) -> Computed | None:
    """T2 of a document of the Standing Committee or a board that reached its final
    signed form (issued, or at the end of its route), counted on ``final_at``.

    :returns: None when the entry is already validated for this revision and not
        ``force`` (``revalidate`` re-checks).
    """
    common: dict[str, Any] = {
        "target": "T2",
        "subject_kind": "document",
        "subject_id": doc.id,
        "unit_id": doc.unit_id,
        "period_date": vn_date(final_at),
        "doc_type": doc.doc_type,
        "label": doc.symbol,
        "title": doc.subject,
    }
    if doc.classification:
        label = CLASSIFICATION_LABELS.get(doc.classification, doc.classification)
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
        return Computed(
            state="missing", reason="Văn bản không có bản điện tử có chữ ký số.", **common
        )
    fresh = (
        existing is not None
        and existing.state != EXEMPT
        and existing.pdf_sha256 == doc.current_revision.blob_sha256
        and existing.period_date == common["period_date"]
    )
    if fresh and not force:
        return None  # already validated for this revision; revalidate() re-checks
    state, reason, evidence, read = _check_signatures(blobs, trust, doc, competent, report)
    return Computed(state=state, reason=reason, evidence=evidence, pdf_sha256=read, **common)


# --- T1 -------------------------------------------------------------------------------


def t1_entry(
    target: str,
    subject: tuple[str, int],
    unit_id: int,
    verdict: Verdict,
    *,
    doc_type: str | None,
    label: str | None,
    title: str | None,
    classification: str | None,
    evidence: dict[str, Any],
) -> Computed:
    """The ``T1`` (per delivery) or ``T1D`` (per document) entry of a verdict."""
    exempt_reason = None
    if verdict.state == EXEMPT:
        exempt_reason = CLASSIFICATION_LABELS.get(classification or "", classification)
    return Computed(
        target=target,
        subject_kind=subject[0],
        subject_id=subject[1],
        unit_id=unit_id,
        period_date=vn_date(verdict.at),
        state=verdict.state,
        doc_type=doc_type,
        label=label,
        title=title,
        reason=verdict.reason,
        exempt_reason=exempt_reason,
        evidence=evidence,
    )


# --- T3, T4 -----------------------------------------------------------------------------


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


def t4_report(
    ob: ReportObligation, facts: ReportFacts, period_end: date, now: datetime
) -> Computed:
    """T4 of one obligation, counted on the last day of its reporting period."""
    status, reason = report_status(facts, vn_date(now))
    common: dict[str, Any] = {
        "target": "T4",
        "subject_kind": "report",
        "subject_id": ob.id,
        "unit_id": ob.unit_id,
        "period_date": period_end,
        "doc_type": "BC",
        "label": f"{ob.report_type} {ob.period}",
        "title": ob.title,
        "evidence": {
            "document_id": ob.document_id,
            "incoming_entry_id": ob.incoming_entry_id,
            "due_date": ob.due_date.isoformat(),
            "sent_at": facts.sent_at.isoformat() if facts.sent_at else None,
            "received_at": facts.received_at.isoformat() if facts.received_at else None,
            "on_paper": facts.on_paper,
            "status": status,
        },
    }
    if status == "exempt":
        return Computed(state=EXEMPT, exempt_reason="Báo cáo mật", **common)
    return Computed(state=ledger_state(status), reason=reason, **common)
