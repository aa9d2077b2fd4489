"""workflow: special-rule exemptions from T2 (a recorded reason, the decision of the
competent authority, and who approved it), never deleted."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from signing.profiles import TrustConfig
from storage import audit
from storage.blobs import BlobStore
from storage.ledger import LedgerEntry, LedgerExemption, exemptions, find_entry
from storage.models import Document, User
from workflow.coverage import gather
from workflow.coverage.entries import RefreshResult
from workflow.coverage.refresh import refresh_t2
from workflow.coverage.rules import EXEMPTION_RECORDED, require_auditor
from workflow.errors import ConflictError, InvalidInputError, NotFoundError


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
    """Exempt a document of T2's scope from T2 under a special rule of a competent
    authority (who approved: the actor, an auditor or administrator). The caller commits.

    :raises InvalidInputError: missing reason or decision.
    :raises NotFoundError: no such document in T2's scope (final signed form).
    :raises ConflictError: already exempted.
    """
    require_auditor(actor)
    if isinstance(document_id, bool) or not isinstance(document_id, int):
        raise InvalidInputError("'document_id' phải là số nguyên.")
    reason_text = _text(reason, "lý do miễn trừ")
    decision_text = _text(decision, "văn bản (quyết định) cho phép miễn trừ")
    doc = session.get(Document, document_id)
    if doc is None or not gather.final_documents(session, [doc.id]):
        raise NotFoundError(
            "Không tìm thấy văn bản đã ký hoặc đã ban hành thuộc phạm vi chỉ tiêu ký số (T2)."
        )
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
    refresh_t2(session, blobs, trust, now, actor.id, RefreshResult(), force=True, doc_ids=[doc.id])
    entry = find_entry(session, "T2", "document", doc.id)
    assert entry is not None  # noqa: S101 - just written
    return entry
