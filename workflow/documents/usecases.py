"""workflow: use-cases (upload, submit, approve, sign, download, validate).

Each takes the session and the services it needs, changes state, appends the audit
entry in the same transaction, and never commits: the view or CLI does, once.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from signing.errors import PdfInputError
from signing.pades import PdfInfo, inspect_pdf
from storage import audit
from storage.audit import AuditAction
from storage.blobs import BlobStore, StagedBlob
from storage.models import (
    Document,
    Revision,
    Role,
    Route,
    Task,
    User,
)
from storage.types import utcnow
from workflow.accounts import access
from workflow.documents import drafts, routing
from workflow.documents.intake import accept_pdf_upload
from workflow.documents.states import DocState, Event, StageAction, TaskState
from workflow.errors import (
    ConflictError,
    ForbiddenError,
    InvalidInputError,
    NotFoundError,
)
from workflow.pdf_policy import current_policy
from workflow.vocab import DOC_TYPES, URGENCY_LABELS, normalise_doc_type

if (
    TYPE_CHECKING
):  # workflow.documents.recipients imports workflow.registry.dispatch, which imports this module
    from workflow.documents.recipients import Plan

MAX_SUBJECT = 1000


# --- upload and submit -------------------------------------------------------------


def create_document(
    session: Session,
    blobs: BlobStore,
    actor: User,
    *,
    staged: StagedBlob,
    filename: str,
    subject: str,
    doc_type: str,
    route_code: str | None = None,
    urgency: str | None = None,
    plan: Plan | None = None,
    appendices: Sequence[tuple[StagedBlob, str]] = (),
) -> Document:
    """Check an uploaded PDF (or convert a Word/OpenDocument draft) and register it as a
    draft on a route, with the recipients the drafter plans (``plan``, already checked)
    and its ``appendices`` (staged files and their names) merged behind the main text.

    The staged blob is published only once every check has passed; on any error it is
    discarded, so a refused upload leaves neither a file nor a row.

    :raises InvalidInputError: bad subject, type, route or PDF.
    :raises ForbiddenError: the actor may not draft documents.
    """
    batch = drafts.Batch()
    for extra, _name in appendices:
        batch.keep(extra)
    try:
        drafter_units = actor.units_with(Role.DRAFTER)
        if not drafter_units:
            raise ForbiddenError("Tài khoản của bạn không có quyền soạn thảo, trình văn bản.")
        subject = " ".join((subject or "").split())
        if not subject:
            raise InvalidInputError("Vui lòng nhập trích yếu nội dung văn bản.")
        if len(subject) > MAX_SUBJECT:
            raise InvalidInputError(f"Trích yếu quá dài (tối đa {MAX_SUBJECT} ký tự).")
        code = normalise_doc_type(doc_type or "")
        if code is None:
            raise InvalidInputError(
                "Loại văn bản không hợp lệ. Chọn một trong: " + ", ".join(DOC_TYPES) + "."
            )
        urgency = check_urgency(urgency)
        route = _pick_route(session, route_code)
        if len(appendices) > drafts.MAX_APPENDICES:
            raise InvalidInputError(f"Tối đa {drafts.MAX_APPENDICES} phụ lục cho một văn bản.")
        # A damaged PDF is repaired, an empty-password one decrypted, a certified one
        # refused here (workflow.documents.intake); Office drafts are converted below.
        accepted = accept_pdf_upload(blobs, staged, filename, check_pdf)
        if accepted is not None and accepted.original is not None:
            batch.keep(accepted.original)
        upload = accepted.staged if accepted is not None else staged
        main = drafts.prepare(blobs, batch, upload, filename, _pages)
        parts = [drafts.prepare(blobs, batch, s, n, _pages) for s, n in appendices]
        content, placed = main.pdf, list[drafts.appendix.Placed]()
        if parts:
            content, placed = drafts.merge(blobs, batch, main, parts, code, subject)
        info = check_pdf(content)
    except BaseException:
        batch.discard(blobs)
        blobs.discard(staged)
        raise
    drafts.publish(blobs, batch)
    sha = content.sha256
    original = accepted.original.sha256 if accepted and accepted.original else None
    if main.source is not None:
        filename = str(Path(safe_name(filename)).with_suffix(".pdf"))
    now = utcnow()
    doc = Document(
        unit_id=min(drafter_units),
        created_by_id=actor.id,
        subject=subject,
        doc_type=code,
        state=DocState.DRAFT,
        route_id=route.id,
        urgency=urgency,
        created_at=now,
        updated_at=now,
    )
    session.add(doc)
    session.flush()
    rev = Revision(
        number=1,
        blob_sha256=sha,
        size=content.size,
        filename=safe_name(filename),
        kind="upload",
        created_by_id=actor.id,
        created_at=now,
        original_sha256=original,
        conversion=accepted.conversion if accepted is not None else None,
        conversion_note=(accepted.note or None) if accepted is not None else None,
    )
    doc.revisions.append(rev)
    if plan is not None:
        plan.store(doc)
    session.flush()
    drafts.record(session, doc, main, parts, placed)
    drafts.remember_text(session, blobs, sha)
    audit.append(
        session,
        AuditAction.UPLOADED,
        actor_id=actor.id,
        object_type="document",
        object_id=doc.id,
        details={
            "sha256": sha,
            "size": staged.size,
            "pages": info.pages,
            "route": route.code,
            **({"converted_from": main.source.sha256} if main.source is not None else {}),
            **({"appendices": [p.filename for p in parts]} if parts else {}),
            **(plan.audit_details() if plan is not None else {}),
            **(accepted.audit_details(original) if accepted is not None else {}),
        },
    )
    return doc


def _pick_route(session: Session, route_code: str | None) -> Route:
    query = select(Route).where(Route.active.is_(True))
    if route_code:
        query = query.where(Route.code == route_code)
    else:
        query = query.where(Route.is_default.is_(True))
    route = session.scalars(query.order_by(Route.version.desc())).first()
    if route is None:
        raise InvalidInputError(
            f"Không có tuyến trình '{route_code}'."
            if route_code
            else "Chưa có tuyến trình mặc định."
        )
    return route


def safe_name(filename: str) -> str:
    """:returns: the client's file name reduced to a display name (never a path)."""
    name = Path((filename or "").replace("\\", "/")).name.strip() or "van-ban.pdf"
    return name[:200]


def check_pdf(staged: StagedBlob) -> PdfInfo:
    """:returns: what pyHanko sees of an uploaded PDF, its active content included.

    The work is bounded by the upload policy's limits (:mod:`workflow.pdf_policy`).

    :raises InvalidInputError: empty, not a PDF, broken, encrypted, beyond a limit, or
        with active content when the policy refuses it (explained).
    """
    if staged.size == 0:
        raise InvalidInputError("Tệp tải lên rỗng (0 byte). Hãy chọn lại tệp PDF.")
    policy = current_policy()
    try:
        info = inspect_pdf(staged.path, allow_empty_password=True, limits=policy.limits)
    except PdfInputError as exc:
        raise InvalidInputError(str(exc), code=f"pdf_{exc.code}") from exc
    if policy.refuse_active_content and info.active_content:
        found = "; ".join(item.label for item in info.active_content)
        raise InvalidInputError(
            f"Tệp PDF chứa nội dung chủ động không được phép ({found}). Hãy xuất lại PDF "
            "không có mã JavaScript, biểu mẫu động, tệp đính kèm hay hành động tự chạy "
            "(ví dụ in ra PDF) rồi tải lên lại.",
            code="pdf_active_content",
        )
    return info


def _pages(staged: StagedBlob) -> int:
    return check_pdf(staged).pages


def check_urgency(value: str | None) -> str | None:
    """:returns: a valid urgency code or ``None`` (ordinary).

    :raises InvalidInputError: an unknown value.
    """
    value = (value or "").strip() or None
    if value is not None and value not in URGENCY_LABELS:
        raise InvalidInputError("Độ khẩn không hợp lệ: khan, thuong_khan hoặc hoa_toc.")
    return value


def submit(session: Session, actor: User, document_id: int) -> Document:
    """Put a draft (or a returned document) on its route: open the current stage's tasks.

    A returned document resumes at the stage it was returned to.

    :raises ForbiddenError: only the drafter submits.
    :raises ConflictError: not in a state that can be submitted.
    """
    doc = access.get_document_for_update(session, actor, document_id)
    if doc.created_by_id != actor.id:
        raise ForbiddenError("Chỉ người soạn thảo mới được trình văn bản này.")
    if doc.metadata_only:
        raise ConflictError("Văn bản mật chỉ được đăng ký thông tin, không trình qua hệ thống.")
    if doc.resume_stage is not None:
        first = next((s for s in routing.stages_of(doc) if s.position >= doc.resume_stage), None)
    else:
        first = routing.stage_after(doc, None)
    routing.transition(doc, Event.SUBMIT, first)
    assert first is not None  # noqa: S101 - next_state refuses an empty route
    routing.open_stage(session, doc, first)
    now = utcnow()
    doc.submitted_at = now
    doc.updated_at = now
    doc.resume_stage = None
    route = doc.route
    audit.append(
        session,
        AuditAction.SUBMITTED,
        actor_id=actor.id,
        object_type="document",
        object_id=doc.id,
        details={
            "route": route.code if route else None,
            "route_version": route.version if route else None,
            "stage": first.position,
        },
    )
    return doc


# --- acting on tasks ---------------------------------------------------------------


def open_tasks(session: Session, actor: User) -> list[Task]:
    """:returns: the actor's open tasks, overdue first, then oldest first."""
    query = (
        select(Task)
        .where(Task.assignee_id == actor.id, Task.state == TaskState.OPEN)
        .order_by(Task.created_at, Task.id)
    )
    tasks = list(session.scalars(query))
    now = utcnow()
    return sorted(tasks, key=lambda t: (not (t.due_at is not None and t.due_at < now),))


CONSULT_ANSWERS = {"dong_y": "Đồng ý", "khong_dong_y": "Không đồng ý", "y_kien_khac": "Ý kiến khác"}


def approve(
    session: Session,
    actor: User,
    task_id: int,
    comment: str | None = None,
    answer: str | None = None,
) -> Task:
    """Approve a review or approval step, or answer a consultation; the route moves on.

    :raises ConflictError: already acted on, or not such a step.
    :raises InvalidInputError: a consultation without a valid answer.
    """
    task = routing.claim(
        session, actor, task_id, {StageAction.APPROVE, StageAction.REVIEW, StageAction.CONSULT}
    )
    if task.action == StageAction.CONSULT:
        if answer not in CONSULT_ANSWERS:
            raise InvalidInputError(
                "Lấy ý kiến cần câu trả lời: dong_y (Đồng ý), khong_dong_y (Không đồng ý) "
                "hoặc y_kien_khac (Ý kiến khác)."
            )
        if answer == "y_kien_khac" and not (comment or "").strip():
            raise InvalidInputError("Với «Ý kiến khác», hãy ghi rõ ý kiến.")
        task.answer = answer
    routing.close_task(
        task, actor, "approved" if task.action != "consult" else answer or "", comment
    )
    routing.advance(session, task.document, task)
    audit.append(
        session,
        AuditAction.STEP_APPROVED,
        actor_id=actor.id,
        object_type="document",
        object_id=task.document_id,
        details={
            "task": task.id,
            "stage": task.stage_name,
            "comment": task.comment,
            "answer": task.answer,
            "on_behalf_of": task.on_behalf_of_id,
        },
    )
    return task


# --- reading -----------------------------------------------------------------------


def document_file(
    session: Session, blobs: BlobStore, actor: User, document_id: int
) -> tuple[Document, Revision]:
    """Resolve the current revision of a document for download and audit the download;
    the view sends the blob ``rev.blob_sha256``.

    :raises NotFoundError: not party to it, or the blob is missing.
    """
    doc = access.get_visible_document(session, actor, document_id)
    require_content(doc)
    rev = doc.current_revision
    if not blobs.exists(rev.blob_sha256):
        raise NotFoundError(
            "Tệp của văn bản không còn trong kho lưu trữ. Hãy báo quản trị hệ thống."
        )
    audit.append(
        session,
        AuditAction.DOWNLOADED,
        actor_id=actor.id,
        object_type="document",
        object_id=doc.id,
        details={"revision": rev.number, "sha256": rev.blob_sha256},
    )
    return doc, rev


def require_content(doc: Document) -> None:
    """:raises ConflictError: a classified document registered as metadata only, or a
    document signed by hand (its scan, if any, is not the document's content)."""
    if doc.form == "paper" and not doc.classification:
        raise ConflictError(
            "Văn bản ký tay (bản giấy) không có tệp điện tử có chữ ký số; bản quét (nếu có) "
            "tải ở trang văn bản."
        )
    if not doc.has_content:
        raise ConflictError(
            "Văn bản mật chỉ được đăng ký thông tin trên hệ thống; nội dung được xử lý "
            "ngoài mạng nên không có tệp để tải xuống hay kiểm tra chữ ký."
        )
