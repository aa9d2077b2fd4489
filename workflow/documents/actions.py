"""workflow: use-cases beside approval: return, reject, withdraw, delegate, reassign,
comment and a new revision after a return."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage import audit
from storage.audit import AuditAction
from storage.blobs import BlobStore, StagedBlob
from storage.models import Document, Revision, Role, Task, User
from storage.registry_models import Comment, Delegation
from storage.types import utcnow
from workflow.accounts import access
from workflow.documents import routing
from workflow.documents.intake import accept_upload
from workflow.documents.states import DocState, Event, StageAction, TaskState
from workflow.documents.usecases import check_pdf, safe_name
from workflow.errors import ConflictError, ForbiddenError, InvalidInputError, NotFoundError
from workflow.files import extract

ANY_STEP = set(StageAction)
MAX_COMMENT = 4000


def _comment(text: str | None, required: str | None = None) -> str | None:
    text = (text or "").strip()
    if required and not text:
        raise InvalidInputError(required)
    if len(text) > MAX_COMMENT:
        raise InvalidInputError(f"Ý kiến quá dài (tối đa {MAX_COMMENT} ký tự).")
    return text or None


def return_for_revision(
    session: Session, actor: User, task_id: int, comment: str | None, to_stage: int | None
) -> Task:
    """Return the document to its drafter, to resume at an earlier stage once revised.

    :raises InvalidInputError: no comment, or ``to_stage`` is not an earlier stage.
    """
    task = routing.claim(session, actor, task_id, ANY_STEP)
    text = _comment(comment, "Khi trả lại, hãy ghi rõ lý do và nội dung cần chỉnh sửa.")
    doc = task.document
    earlier = [s.position for s in routing.stages_of(doc) if s.position < task.stage_position]
    if to_stage is None:
        to_stage = min(earlier, default=task.stage_position)
    elif to_stage not in earlier and to_stage != task.stage_position:
        raise InvalidInputError(
            "Bước trả về không hợp lệ: chỉ chọn được một bước trước bước hiện tại "
            f"({', '.join(map(str, earlier)) or 'không có'})."
        )
    routing.close_task(task, actor, "returned", text)
    routing.cancel_open_tasks(doc)
    routing.transition(doc, Event.RETURN, None)
    doc.resume_stage = to_stage
    doc.current_stage = None
    doc.updated_at = utcnow()
    routing.notify(
        session,
        doc.created_by_id,
        "returned",
        f"Văn bản bị trả lại để chỉnh sửa: {text}",
        doc.id,
    )
    audit.append(
        session,
        AuditAction.STEP_RETURNED,
        actor_id=actor.id,
        object_type="document",
        object_id=doc.id,
        details={
            "task": task.id,
            "stage": task.stage_name,
            "comment": text,
            "to_stage": to_stage,
            "on_behalf_of": task.on_behalf_of_id,
        },
    )
    return task


def reject(session: Session, actor: User, task_id: int, comment: str | None) -> Task:
    """Reject the document: the route ends."""
    task = routing.claim(session, actor, task_id, ANY_STEP)
    text = _comment(comment, "Khi từ chối, hãy ghi rõ lý do.")
    doc = task.document
    routing.close_task(task, actor, "rejected", text)
    routing.cancel_open_tasks(doc)
    routing.transition(doc, Event.REJECT, None)
    doc.current_stage = None
    doc.updated_at = utcnow()
    routing.notify(session, doc.created_by_id, "rejected", f"Văn bản bị từ chối: {text}", doc.id)
    audit.append(
        session,
        AuditAction.STEP_REJECTED,
        actor_id=actor.id,
        object_type="document",
        object_id=doc.id,
        details={"task": task.id, "stage": task.stage_name, "comment": text},
    )
    return task


def withdraw(session: Session, actor: User, document_id: int) -> Document:
    """The drafter takes a submitted document back, as long as nobody has acted on it.

    :raises ConflictError: someone already acted since it was submitted.
    """
    doc = access.get_document_for_update(session, actor, document_id)
    if doc.created_by_id != actor.id:
        raise ForbiddenError("Chỉ người soạn thảo mới được rút văn bản đã trình.")
    since = doc.submitted_at
    acted = [
        t
        for t in doc.tasks
        if t.state == TaskState.DONE and since and t.acted_at and t.acted_at >= since
    ]
    if acted:
        raise ConflictError(
            "Không thể rút văn bản: đã có người xử lý sau khi trình "
            f"({acted[0].acted_by.full_name if acted[0].acted_by else ''})."
        )
    routing.transition(doc, Event.WITHDRAW, None)
    routing.cancel_open_tasks(doc)
    doc.current_stage = None
    doc.updated_at = utcnow()
    audit.append(
        session,
        AuditAction.WITHDRAWN,
        actor_id=actor.id,
        object_type="document",
        object_id=doc.id,
    )
    return doc


def upload_revision(
    session: Session,
    blobs: BlobStore,
    actor: User,
    document_id: int,
    staged: StagedBlob,
    filename: str,
) -> Revision:
    """A new revision by the drafter of a draft or returned document (earlier ones stay)."""
    try:
        doc = access.get_document_for_update(session, actor, document_id)
        if doc.created_by_id != actor.id:
            raise ForbiddenError("Chỉ người soạn thảo mới được tải lên bản chỉnh sửa.")
        if doc.metadata_only:
            raise InvalidInputError(
                "Văn bản mật không được đưa nội dung lên hệ thống; chỉ đăng ký thông tin.",
                code="classified_content",
            )
        if doc.state not in (DocState.DRAFT, DocState.RETURNED):
            raise ConflictError("Chỉ tải lên bản chỉnh sửa khi văn bản là dự thảo hoặc bị trả lại.")
        accepted = accept_upload(blobs, staged, check_pdf)
    except BaseException:
        blobs.discard(staged)
        raise
    info = accepted.info
    original = blobs.publish(accepted.original) if accepted.original is not None else None
    sha = blobs.publish(accepted.staged)
    number = doc.current_revision.number + 1 if doc.has_content else 1
    rev = Revision(
        number=number,
        blob_sha256=sha,
        size=accepted.staged.size,
        filename=safe_name(filename),
        kind="upload",
        original_sha256=original,
        conversion=accepted.conversion,
        conversion_note=accepted.note or None,
        created_by_id=actor.id,
        created_at=utcnow(),
    )
    doc.revisions.append(rev)
    doc.updated_at = utcnow()
    session.flush()
    extract.remember(session, blobs, sha)
    audit.append(
        session,
        AuditAction.REVISED,
        actor_id=actor.id,
        object_type="document",
        object_id=doc.id,
        details={
            "revision": number,
            "sha256": sha,
            "pages": info.pages,
            **accepted.audit_details(original),
        },
    )
    return rev


def delegate_task(
    session: Session,
    actor: User,
    task_id: int,
    to_username: str,
    until: datetime,
    reason: str | None,
) -> Task:
    """Ủy quyền one task to a named person until a time; they act on the actor's behalf.

    :raises ForbiddenError: a delegate cannot delegate further.
    """
    task = routing.claim(session, actor, task_id, ANY_STEP)
    if task.on_behalf_of_id is not None:
        raise ForbiddenError("Việc được ủy quyền không được ủy quyền lại cho người khác.")
    delegate = _delegate_user(session, actor, to_username)
    now = utcnow()
    if until <= now:
        raise InvalidInputError("Thời hạn ủy quyền phải ở tương lai.")
    text = _comment(reason, "Hãy ghi nội dung ủy quyền (căn cứ, phạm vi).")
    doc = task.document
    if any(
        t.state == TaskState.OPEN
        and t.assignee_id == delegate.id
        and t.stage_position == task.stage_position
        for t in doc.tasks
    ):
        raise ConflictError(f"{delegate.full_name} đã có việc này.")
    session.add(
        Delegation(
            from_user_id=actor.id,
            to_user_id=delegate.id,
            starts_at=now,
            ends_at=until,
            actions=[task.action],
            doc_types=[doc.doc_type],
            task_id=task.id,
            reason=text or "",
        )
    )
    stage = routing.stage_at(doc, task.stage_position)
    new_task = routing.add_task(session, doc, stage, delegate.id, now, on_behalf_of_id=actor.id)
    doc.updated_at = now
    session.flush()
    audit.append(
        session,
        AuditAction.DELEGATED,
        actor_id=actor.id,
        object_type="document",
        object_id=doc.id,
        details={
            "task": task.id,
            "delegate_task": new_task.id,
            "to": delegate.username,
            "until": until.isoformat(),
            "reason": text,
        },
    )
    return new_task


def _delegate_user(session: Session, actor: User, username: str) -> User:
    delegate = session.scalars(
        select(User).where(User.username == (username or "").strip())
    ).first()
    if delegate is None or not delegate.active:
        raise InvalidInputError("Không tìm thấy người nhận ủy quyền.")
    if delegate.id == actor.id:
        raise InvalidInputError("Không thể tự ủy quyền cho chính mình.")
    return delegate


def create_delegation(
    session: Session,
    actor: User,
    to_username: str,
    starts_at: datetime,
    ends_at: datetime,
    actions: list[str] | None,
    doc_types: list[str] | None,
    reason: str | None,
) -> Delegation:
    """A standing delegation for a period and a scope (new tasks go to the delegate too)."""
    delegate = _delegate_user(session, actor, to_username)
    if ends_at <= starts_at:
        raise InvalidInputError("Thời điểm kết thúc ủy quyền phải sau thời điểm bắt đầu.")
    if actions and not set(actions) <= {a.value for a in StageAction}:
        raise InvalidInputError("Phạm vi ủy quyền có thao tác không hợp lệ.")
    text = _comment(reason, "Hãy ghi nội dung ủy quyền (căn cứ, phạm vi).")
    delegation = Delegation(
        from_user_id=actor.id,
        to_user_id=delegate.id,
        starts_at=starts_at,
        ends_at=ends_at,
        actions=actions or None,
        doc_types=doc_types or None,
        reason=text or "",
    )
    session.add(delegation)
    session.flush()
    audit.append(
        session,
        AuditAction.DELEGATED,
        actor_id=actor.id,
        object_type="delegation",
        object_id=delegation.id,
        details={
            "to": delegate.username,
            "from": starts_at.isoformat(),
            "until": ends_at.isoformat(),
            "actions": actions,
            "doc_types": doc_types,
        },
    )
    return delegation


def reassign(session: Session, actor: User, task_id: int, to_username: str) -> Task:
    """An administrator gives an open task to someone else."""
    if not actor.has_role(Role.ADMIN):
        raise ForbiddenError("Chỉ quản trị hệ thống được giao lại việc.")
    task = session.get(Task, task_id)
    if task is None:
        raise NotFoundError("Không tìm thấy việc cần xử lý này.")
    if task.state != TaskState.OPEN:
        raise ConflictError("Việc này đã được xử lý; không thể giao lại.")
    user = session.scalars(select(User).where(User.username == (to_username or "").strip())).first()
    if user is None or not user.active:
        raise InvalidInputError("Không tìm thấy người được giao lại việc.")
    doc = task.document
    task.state = TaskState.CANCELLED
    new_task = routing.add_task(
        session, doc, routing.stage_at(doc, task.stage_position), user.id, utcnow()
    )
    doc.updated_at = utcnow()
    session.flush()
    audit.append(
        session,
        AuditAction.REASSIGNED,
        actor_id=actor.id,
        object_type="document",
        object_id=doc.id,
        details={
            "task": task.id,
            "new_task": new_task.id,
            "from": task.assignee.username,
            "to": user.username,
        },
    )
    return new_task


def add_comment(session: Session, actor: User, document_id: int, body: str | None) -> Comment:
    """A comment, at any time, by anyone party to the document (not an auditor reading it)."""
    doc = access.get_party_document(session, actor, document_id)
    text = _comment(body, "Nội dung ý kiến không được để trống.")
    comment = Comment(document_id=doc.id, user_id=actor.id, body=text or "")
    session.add(comment)
    session.flush()
    audit.append(
        session,
        AuditAction.COMMENTED,
        actor_id=actor.id,
        object_type="document",
        object_id=doc.id,
        details={"comment": comment.id},
    )
    return comment
