"""workflow: use-cases of the coverage ledger: (re)computing entries for targets T1-T4,
re-validating T2 signatures, special-rule exemptions, figures and misses.

Scheme (see storage/ledger.py for the states):

- T1, every exchange, one entry per direction: each issued outgoing document (subject
  ``document``, unit = drafting unit, date = first dispatch, else issue date) is
  ``electronic`` once dispatched in the system, else ``missing``; each incoming entry
  received in the system (``incoming``, unit = receiving unit, date = reception) is
  ``electronic``. Classified: ``exempt``.
- T2, every issued document drafted in the bloc committee's own organs (committee,
  Standing Committee, office, boards): ``signed_valid`` only if ``validate_pdf`` passes
  every signature of the stored issued PDF, the last one covers the whole file and the
  file still hashes to the recorded SHA-256; ``signed_invalid`` if signatures are stored
  but do not validate; ``missing`` if there are none. Classified, or a recorded
  special-rule exemption: ``exempt``.
- T3, every closed work file (date = closing): its derived ``processed_online`` flag.
- T4, every report obligation past due or submitted (date = due date): ``submitted``
  on time, ``late`` (online but after the due date: counts as online), ``missing``.

T3 thresholds: the level's 2025 figure applies 2025-2029 (and before), the 2030 figure
from 2030 on: the resolution sets floors for those years, not a yearly path.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from signing.profiles import TrustConfig
from signing.validate import validate_pdf
from storage import audit
from storage.blobs import FilesystemBlobStore
from storage.ledger import (
    EXEMPT,
    LedgerEntry,
    LedgerExemption,
    entries_for,
    exemptions,
    find_entry,
)
from storage.models import Document, Role, Signature, Unit, User
from storage.registry_models import Dispatch, IncomingEntry, ReportObligation, WorkFile
from workflow.errors import ConflictError, ForbiddenError, InvalidInputError, NotFoundError
from workflow.vocab import VN_TZ

STATE_CHANGED = "ledger:state_changed"
EXEMPTION_RECORDED = "ledger:exemption_recorded"
BLOC_KINDS = frozenset({"committee", "standing", "office", "board"})
T2_KINDS = BLOC_KINDS
CLASSIFIED_LABELS = {"mat": "Mật", "toi_mat": "Tối mật", "tuyet_mat": "Tuyệt mật"}
T3_THRESHOLDS = {"bloc": (0.80, 0.90), "grassroots": (0.60, 0.70)}
"""Per level: (from 2025, from 2030)."""


def t3_target(level: str, year: int) -> float:
    """:returns: the T3 threshold of ``level`` (``bloc`` or ``grassroots``) in ``year``."""
    early, late = T3_THRESHOLDS[level]
    return late if year >= 2030 else early


def unit_level(kind: str) -> str:
    """:returns: ``bloc`` for the bloc committee's organs, else ``grassroots``."""
    return "bloc" if kind in BLOC_KINDS else "grassroots"


def vn_date(moment: datetime) -> date:
    """:returns: the calendar date of ``moment`` in Vietnam time."""
    return moment.astimezone(VN_TZ).date()


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


def _write(
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


def _file_sha256(path: Any) -> str | None:
    try:
        digest = hashlib.sha256()
        with open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                digest.update(chunk)
        return digest.hexdigest()
    except OSError:
        return None


def _check_signatures(
    session: Session, blobs: FilesystemBlobStore, trust: TrustConfig, doc: Document
) -> tuple[str, str | None, dict[str, Any], str | None]:
    """:returns: (state, reason, evidence, sha256 read) of the issued revision."""
    revision = doc.current_revision
    path = blobs.path(revision.blob_sha256)
    stored = session.scalar(select(Signature.id).where(Signature.document_id == doc.id).limit(1))
    read = _file_sha256(path)
    evidence: dict[str, Any] = {
        "revision": revision.number,
        "recorded_sha256": revision.blob_sha256,
    }
    if read is None:
        evidence["verdict"] = "unreadable"
        return (
            "signed_invalid",
            "Không tìm thấy tệp văn bản đã ban hành trong kho lưu trữ.",
            evidence,
            None,
        )
    report = validate_pdf(path, trust)
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


def _t2(
    session: Session,
    blobs: FilesystemBlobStore,
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


def _t1_document(doc: Document, first_dispatch: datetime | None, recipients: int) -> Computed:
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


def _t1_incoming(entry: IncomingEntry, classification: str | None) -> Computed:
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


def _t3(wf: WorkFile) -> Computed:
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
    reason = (
        f"{offline} bước xử lý trên giấy, ngoài hệ thống."
        if offline
        else "Có thành phần hồ sơ chưa được xử lý trọn vẹn trên hệ thống."
    )
    return Computed(state="offline", reason=reason, **common)


def _t4(ob: ReportObligation, now: datetime) -> Computed | None:
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
    if vn_date(now) > ob.due_date:
        return Computed(state="missing", reason="Chưa gửi báo cáo trên hệ thống.", **common)
    return None  # not due yet


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
    docs = _issued(session, doc_ids)
    existing = entries_for(session, "T1", "document")
    firsts: dict[int, tuple[datetime, int]] = {}
    for doc_id, at in session.execute(
        select(Dispatch.document_id, Dispatch.dispatched_at).order_by(Dispatch.dispatched_at)
    ):
        first, count = firsts.get(doc_id, (at, 0))
        firsts[doc_id] = (first, count + 1)
    for doc in docs:
        first, count = firsts.get(doc.id, (None, 0))  # type: ignore[assignment]
        _write(
            session, existing.get(doc.id), _t1_document(doc, first, count), now, actor_id, result
        )
    if doc_ids is not None:
        return
    incoming = entries_for(session, "T1", "incoming")
    rows = session.execute(
        select(IncomingEntry, Document.classification)
        .outerjoin(Document, Document.id == IncomingEntry.document_id)
        .where(IncomingEntry.state == "received", IncomingEntry.received_at.is_not(None))
    ).all()
    for entry, classification in rows:
        _write(
            session,
            incoming.get(entry.id),
            _t1_incoming(entry, classification),
            now,
            actor_id,
            result,
        )


def _refresh_t2(
    session: Session,
    blobs: FilesystemBlobStore,
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
        computed = _t2(
            session, blobs, trust, doc, existing.get(doc.id), exempted.get(doc.id), force
        )
        if computed is None:
            continue
        if computed.pdf_sha256 is not None or computed.evidence.get("verdict"):
            result.validated += 1
        _write(session, existing.get(doc.id), computed, now, actor_id, result)


def refresh_ledger(
    session: Session,
    blobs: FilesystemBlobStore,
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
    _refresh_t2(session, blobs, trust, now, actor_id, result, force=False)
    files = entries_for(session, "T3", "workfile")
    for wf in session.scalars(select(WorkFile).where(WorkFile.closed_at.is_not(None))):
        _write(session, files.get(wf.id), _t3(wf), now, actor_id, result)
    reports = entries_for(session, "T4", "report")
    for ob in session.scalars(select(ReportObligation)):
        computed = _t4(ob, now)
        if computed is not None:
            _write(session, reports.get(ob.id), computed, now, actor_id, result)
    session.flush()
    return result


def revalidate(
    session: Session,
    blobs: FilesystemBlobStore,
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
    blobs: FilesystemBlobStore,
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
    if entry.state != "received" or entry.received_at is None:
        return
    doc = session.get(Document, entry.document_id) if entry.document_id else None
    computed = _t1_incoming(entry, doc.classification if doc else None)
    _write(
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
        _write(
            session,
            find_entry(session, "T3", "workfile", wf.id),
            _t3(wf),
            now,
            None,
            RefreshResult(),
        )


def record_obligation(session: Session, ob: ReportObligation, *, now: datetime) -> None:
    """Record a report obligation for T4 (after a submission)."""
    computed = _t4(ob, now)
    if computed is not None:
        _write(
            session,
            find_entry(session, "T4", "report", ob.id),
            computed,
            now,
            None,
            RefreshResult(),
        )


# --- exemptions -----------------------------------------------------------------------


def can_read(user: User) -> bool:
    """:returns: whether ``user`` may read the coverage figures (auditors, admins, leaders)."""
    return any(user.has_role(r) for r in (Role.AUDITOR, Role.ADMIN, Role.APPROVER, Role.SIGNER))


def require_reader(user: User) -> User:
    """:raises ForbiddenError: ``user`` may not read the figures."""
    if not can_read(user):
        raise ForbiddenError(
            "Chỉ cán bộ kiểm tra, quản trị hoặc lãnh đạo được xem số liệu chỉ tiêu chuyển đổi số."
        )
    return user


def require_auditor(user: User) -> User:
    """:raises ForbiddenError: ``user`` is neither an auditor nor an administrator."""
    if not (user.has_role(Role.AUDITOR) or user.has_role(Role.ADMIN)):
        raise ForbiddenError(
            "Chỉ cán bộ kiểm tra hoặc quản trị hệ thống được thực hiện thao tác này."
        )
    return user


def _text(value: Any, label: str) -> str:
    if not isinstance(value, str) or not " ".join(value.split()):
        raise InvalidInputError(f"Vui lòng nhập {label}.")
    text = " ".join(value.split())
    if len(text) > 1000:
        raise InvalidInputError(f"{label.capitalize()} quá dài (tối đa 1000 ký tự).")
    return text


def record_exemption(
    session: Session,
    blobs: FilesystemBlobStore,
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


def utc_now() -> datetime:
    """:returns: the current time (UTC, aware)."""
    return datetime.now(UTC)


# --- periods, scope, figures, misses ---------------------------------------------------

TARGET_LABELS = {
    "T1": "Văn bản trao đổi dưới dạng điện tử",
    "T2": "Văn bản của Thường trực, các ban được ký số",
    "T3": "Hồ sơ công việc xử lý trên môi trường mạng",
    "T4": "Báo cáo theo chế độ gửi trực tuyến",
}
STATE_LABELS = {
    "electronic": "Điện tử",
    "missing": "Không đạt",
    "exempt": "Miễn trừ",
    "signed_valid": "Ký số hợp lệ",
    "signed_invalid": "Chữ ký không hợp lệ",
    "online": "Xử lý trực tuyến",
    "offline": "Xử lý ngoài hệ thống",
    "submitted": "Gửi đúng hạn",
    "late": "Gửi quá hạn",
}
BAD_PERIOD = "Kỳ thống kê không hợp lệ: ghi năm (2026), quý (2026-Q3) hoặc tháng (2026-09)."


@dataclass(frozen=True)
class Period:
    """A year, quarter or month."""

    code: str
    start: date
    end: date

    @property
    def year(self) -> int:
        """Calendar year of the period."""
        return self.start.year


def parse_period(text: str | None, today: date) -> Period:
    """:returns: the period named ``2026``, ``2026-Q3`` or ``2026-09`` (empty: this year).

    :raises InvalidInputError: anything else (Vietnamese message).
    """
    import calendar
    import re

    raw = (text or "").strip()
    if not raw:
        raw = str(today.year)
    match = re.fullmatch(r"(\d{4})(?:-Q([1-4])|-(0[1-9]|1[0-2]))?", raw)
    if match is None or not 2000 <= int(match[1]) <= 2100:
        raise InvalidInputError(BAD_PERIOD, code="bad_period")
    year = int(match[1])
    if match[2]:
        q = int(match[2])
        last = 3 * q
        return Period(
            raw, date(year, last - 2, 1), date(year, last, calendar.monthrange(year, last)[1])
        )
    if match[3]:
        m = int(match[3])
        return Period(raw, date(year, m, 1), date(year, m, calendar.monthrange(year, m)[1]))
    return Period(raw, date(year, 1, 1), date(year, 12, 31))


@dataclass(frozen=True)
class Scope:
    """The units a figure covers."""

    unit: Unit | None
    """The unit asked for (None: the whole organisation)."""
    unit_ids: frozenset[int] | None
    """It and its descendants (None: every unit, no filter)."""
    units: dict[int, Unit]
    """Every unit, by id (for names and levels)."""


def resolve_scope(session: Session, unit: str | None) -> Scope:
    """:returns: the scope of ``unit`` (id or code) with its descendants.

    :raises NotFoundError: no such unit.
    """
    units = {u.id: u for u in session.scalars(select(Unit))}
    raw = (unit or "").strip()
    if not raw:
        return Scope(None, None, units)
    chosen = units.get(int(raw)) if raw.isdigit() else None
    chosen = chosen or next((u for u in units.values() if u.code == raw), None)
    if chosen is None:
        raise NotFoundError(f"Không tìm thấy đơn vị '{raw}'.")
    ids = {chosen.id}
    grew = True
    while grew:
        more = {u.id for u in units.values() if u.parent_id in ids} - ids
        ids |= more
        grew = bool(more)
    return Scope(chosen, None if len(ids) == len(units) else frozenset(ids), units)


def _figure(counts: dict[str, int], target: str, threshold: float | None) -> dict[str, Any]:
    from storage.ledger import MET_STATES

    exempt = counts.get(EXEMPT, 0)
    numerator = sum(n for s, n in counts.items() if s in MET_STATES[target])
    denominator = sum(counts.values()) - exempt
    figure = numerator / denominator if denominator else None
    return {
        "numerator": numerator,
        "denominator": denominator,
        "figure": figure,
        "target": threshold,
        "met": None if figure is None or threshold is None else figure >= threshold - 1e-12,
        "exempt": exempt,
        "counts": dict(sorted(counts.items())),
        "label": TARGET_LABELS[target],
    }


def _levels_present(scope: Scope, unit_ids: Iterable[int]) -> set[str]:
    return {unit_level(scope.units[u].kind) for u in unit_ids if u in scope.units}


def figures_from_rows(rows: Iterable[Any], scope: Scope, year: int) -> dict[str, Any]:
    """The four figures from aggregate rows (target, unit_id, state, count)."""
    from storage.ledger import TARGETS

    totals: dict[str, dict[str, int]] = {t: {} for t in TARGETS}
    levels: dict[str, dict[str, int]] = {"bloc": {}, "grassroots": {}}
    for r in rows:
        bucket = totals.setdefault(r.target, {})
        bucket[r.state] = bucket.get(r.state, 0) + r.count
        if r.target == "T3":
            level = levels[unit_level(scope.units[r.unit_id].kind)]
            level[r.state] = level.get(r.state, 0) + r.count
    out = {t: _figure(totals[t], t, 1.0) for t in TARGETS}
    in_scope = scope.unit_ids if scope.unit_ids is not None else scope.units.keys()
    present = _levels_present(scope, in_scope)
    per_level = {
        lv: _figure(levels[lv], "T3", t3_target(lv, year))
        for lv in ("bloc", "grassroots")
        if lv in present
    }
    headline = "bloc" if "bloc" in present else "grassroots"
    t3 = _figure(totals["T3"], "T3", t3_target(headline, year))
    met = [v["met"] for v in per_level.values() if v["met"] is not None]
    t3["met"] = None if not met else all(met)
    t3["levels"] = per_level
    out["T3"] = t3
    return out


def coverage_figures(
    session: Session, scope: Scope, period: Period, *, by_doc_type: bool = False
) -> dict[str, Any]:
    """:returns: ``{"T1": {numerator, denominator, figure, target, met, ...}, ...}``, with
    ``by_doc_type`` a breakdown per document type under each target."""
    from storage.ledger import count_states

    rows = count_states(session, period.start, period.end, scope.unit_ids, by_doc_type=by_doc_type)
    out = figures_from_rows(rows, scope, period.year)
    if by_doc_type:
        types = sorted({r.doc_type or "" for r in rows})
        for t in out:
            out[t]["by_doc_type"] = {
                dt or "-": figures_from_rows(
                    [r for r in rows if r.target == t and (r.doc_type or "") == dt],
                    scope,
                    period.year,
                )[t]
                for dt in types
                if any(r.target == t and (r.doc_type or "") == dt for r in rows)
            }
    return out


def per_unit(session: Session, scope: Scope, period: Period) -> list[dict[str, Any]]:
    """:returns: per unit in scope: its code, name and the four figures."""
    from storage.ledger import count_states

    rows = count_states(session, period.start, period.end, scope.unit_ids)
    ids = sorted(scope.unit_ids if scope.unit_ids is not None else scope.units)
    out = []
    for uid in ids:
        unit = scope.units[uid]
        single = Scope(unit, frozenset({uid}), scope.units)
        mine = [r for r in rows if r.unit_id == uid]
        out.append({"unit": unit, "figures": figures_from_rows(mine, single, period.year)})
    return out


def trend(session: Session, scope: Scope, year: int) -> dict[str, list[dict[str, Any]]]:
    """:returns: per target, the 12 monthly figures of ``year``."""
    from storage.ledger import TARGETS, count_months

    rows = count_months(session, date(year, 1, 1), date(year, 12, 31), scope.unit_ids)
    out: dict[str, list[dict[str, Any]]] = {}
    for t in TARGETS:
        months = []
        for m in range(1, 13):
            mine = [r for r in rows if r.target == t and r.month == m]
            months.append({"month": m, **figures_from_rows(mine, scope, year)[t]})
        out[t] = months
    return out


def exempt_reasons(session: Session, scope: Scope, period: Period) -> list[dict[str, Any]]:
    """:returns: exemptions per target and reason."""
    from storage.ledger import count_exempt_reasons

    rows = count_exempt_reasons(session, period.start, period.end, scope.unit_ids)
    return [
        {"target": t, "reason": r or "Không ghi lý do", "count": n}
        for t, r, n in sorted(rows, key=lambda x: (x[0], -x[2], x[1]))
    ]


def misses(
    session: Session, scope: Scope, period: Period, target: str, *, limit: int, offset: int
) -> dict[str, Any]:
    """:returns: the items of ``target`` that miss it (one page) and their total."""
    from storage.ledger import TARGETS, missed_entries

    if target not in TARGETS:
        raise InvalidInputError("'target' phải là một trong T1, T2, T3, T4.")
    page, total = missed_entries(
        session, target, period.start, period.end, scope.unit_ids, limit=limit, offset=offset
    )
    return {
        "target": target,
        "period": period.code,
        "total": total,
        "items": [
            {
                "id": e.subject_id,
                "kind": e.subject_kind,
                "symbol": e.label,
                "subject": e.title,
                "unit": scope.units[e.unit_id].code if e.unit_id in scope.units else None,
                "unit_name": scope.units[e.unit_id].name if e.unit_id in scope.units else None,
                "doc_type": e.doc_type,
                "date": e.period_date.isoformat(),
                "state": e.state,
                "state_label": STATE_LABELS.get(e.state, e.state),
                "reason": e.reason,
            }
            for e in page
        ],
    }


# --- the signed report -------------------------------------------------------------------

FONT = Path(__file__).resolve().parent.parent / "signing" / "fonts" / "DejaVuSans-upem1000.ttf"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f}%".replace(".", ",")


def _report_lines(data: dict[str, Any], now: datetime) -> list[tuple[str, str]]:
    """(style, text) lines of the report: ``h`` heading, ``t`` text, ``s`` small."""
    scope, period = data["scope"], data["period"]
    met = {True: "đạt", False: "chưa đạt", None: "chưa có số liệu"}
    lines = [
        ("h", "BÁO CÁO KẾT QUẢ THỰC HIỆN CHỈ TIÊU CHUYỂN ĐỔI SỐ"),
        ("t", f"Phạm vi: {scope.unit.name if scope.unit else 'Toàn Đảng bộ Khối'}"),
        ("t", f"Kỳ báo cáo: {period.code} ({period.start:%d/%m/%Y} - {period.end:%d/%m/%Y})"),
        (
            "s",
            f"Lập lúc {now.astimezone(VN_TZ):%d/%m/%Y %H:%M} (giờ Việt Nam) từ sổ theo dõi chỉ tiêu.",
        ),
        ("h", "1. Kết quả chung"),
    ]
    for t in ("T1", "T2", "T3", "T4"):
        f = data["figures"][t]
        lines.append(
            (
                "t",
                f"{t} - {TARGET_LABELS[t]}: {f['numerator']}/{f['denominator']} = "
                f"{_pct(f['figure'])}; mục tiêu {_pct(f['target'])}; {met[f['met']]}; "
                f"miễn trừ {f['exempt']}.",
            )
        )
    lines.append(("h", "2. Theo đơn vị"))
    for row in data["units"]:
        figs = row["figures"]
        parts = ", ".join(
            f"{t} {_pct(figs[t]['figure'])} ({figs[t]['numerator']}/{figs[t]['denominator']})"
            for t in ("T1", "T2", "T3", "T4")
        )
        lines.append(("s", f"{row['unit'].name}: {parts}"))
    lines.append(("h", "3. Miễn trừ theo lý do"))
    for ex in data["exemptions"] or [{"target": "", "reason": "Không có", "count": 0}]:
        lines.append(("s", f"{ex['target']} {ex['reason']}: {ex['count']}"))
    lines += [
        ("h", "4. Phương pháp"),
        ("s", "Tỷ lệ = số đạt / (tổng số - số miễn trừ). Văn bản được coi là đã ký số khi mọi"),
        ("s", "chữ ký PAdES trên bản ban hành được kiểm tra hợp lệ, tin cậy, nguyên vẹn và chữ ký"),
        ("s", "cuối bao phủ toàn bộ tệp. Văn bản mật được miễn trừ theo quy định."),
    ]
    return lines


def _layout_pdf(path: Path, lines: list[tuple[str, str]]) -> None:
    from reportlab.lib.pagesizes import A4  # lazy: only the report needs reportlab
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont
    from reportlab.pdfgen.canvas import Canvas

    if "DejaVuSans" not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont("DejaVuSans", str(FONT)))
    width, height = A4
    canvas = Canvas(str(path), pagesize=A4, invariant=True)
    canvas.setTitle("Báo cáo chỉ tiêu chuyển đổi số")
    y = height - 60
    sizes = {"h": 12, "t": 10, "s": 8.5}
    for style, text in lines:
        size = sizes[style]
        if y < 200:  # keep room at the bottom for the seal stamp
            canvas.showPage()
            y = height - 60
        canvas.setFont("DejaVuSans", size)
        chunks = [text[i : i + int(900 / size)] for i in range(0, len(text), int(900 / size))]
        for chunk in chunks:
            canvas.drawString(50, y, chunk)
            y -= size + 5
        if style == "h":
            y -= 4
    canvas.save()


def build_signed_report(
    session: Session,
    blobs: FilesystemBlobStore,
    trust: TrustConfig,
    seal_passphrase: str,
    actor: User,
    data: dict[str, Any],
    *,
    now: datetime,
) -> str:
    """Lay out the report, seal it with the organisation's signature (as issuance does),
    check that it validates, keep it in the blob store and audit it (caller commits).

    :returns: the SHA-256 of the signed report.
    :raises ConflictError: the organisation has no seal certificate.
    """
    from signing.keys import load_signer
    from signing.pades import sign_pdf_file
    from signing.profiles import SigningProfile
    from signing.stamps import StampContent, StampPlacement
    from workflow import issuance
    from workflow.pdfpages import seal_box
    from workflow.signing_flow import SigningFailedError

    org = session.scalars(select(Unit).where(Unit.parent_id.is_(None)).order_by(Unit.id)).first()
    if org is None:
        raise ConflictError("Chưa có đơn vị gốc của tổ chức.")
    cert = issuance.seal_certificate(session, org)
    try:
        signer = load_signer(
            cert.cert_pem.encode(),
            cert.encrypted_key_pem.encode(),
            seal_passphrase,
            trust.other_certs_pem,
        )
    except Exception as exc:  # noqa: BLE001 - any key problem is the server's
        raise SigningFailedError("Không mở được khóa ký số của tổ chức. Hãy báo quản trị.") from exc
    plain = blobs.new_temp_path(".pdf")
    signed = blobs.new_temp_path(".pdf")
    try:
        _layout_pdf(plain, _report_lines(data, now))
        profile = SigningProfile(
            field_name="DauCoQuan_BaoCaoChiTieu",
            reason=f"Báo cáo chỉ tiêu chuyển đổi số kỳ {data['period'].code}",
            location=org.name,
            stamp=StampContent(
                heading="Ký số bởi tổ chức",
                signer_name=org.name,
                title=f"Báo cáo kỳ {data['period'].code}",
                unit=f"Lập theo yêu cầu của {actor.full_name}",
                signed_at=now,
            ),
            placement=StampPlacement(page=-1, box=seal_box(plain)),
        )
        sign_pdf_file(plain, signed, signer, profile)
        report = validate_pdf(signed, trust)
        if not report.bottom_line:
            raise SigningFailedError("Báo cáo vừa ký không vượt qua bước kiểm tra chữ ký.")
        sha = blobs.publish(blobs.stage_file(signed))
    finally:
        plain.unlink(missing_ok=True)
        signed.unlink(missing_ok=True)
    audit.append(
        session,
        "ledger:report_signed",
        actor_id=actor.id,
        object_type="ledger_report",
        object_id=data["period"].code,
        details={
            "sha256": sha,
            "seal": cert.fingerprint,
            "unit": data["scope"].unit.code if data["scope"].unit else None,
        },
        at=now,
    )
    return sha
