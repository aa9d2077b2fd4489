"""workflow: use-cases (upload, submit, approve, sign, download, validate).

Each takes the session and the services it needs, changes state, appends the audit
entry in the same transaction, and never commits: the view or CLI does, once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from signing.errors import KeyLoadError, PdfInputError, SigningError, WrongPassphraseError
from signing.keys import load_signer
from signing.pades import inspect_pdf, sign_pdf_file
from signing.profiles import SigningProfile, TrustConfig
from signing.stamps import StampContent
from signing.validate import ValidationReport, validate_pdf
from storage import audit
from storage.audit import AuditAction
from storage.blobs import FilesystemBlobStore, StagedBlob
from storage.models import (
    Certificate,
    Document,
    Revision,
    Role,
    Route,
    RouteStage,
    Signature,
    Task,
    Unit,
    User,
)
from storage.types import utcnow
from workflow import access
from workflow.errors import (
    ConflictError,
    ForbiddenError,
    InvalidInputError,
    LockedError,
    NotFoundError,
    WorkflowError,
)
from workflow.states import (
    DocState,
    Event,
    InvalidTransitionError,
    StageAction,
    TaskState,
    event_for,
    next_state,
)
from workflow.vocab import DOC_TYPES, STATE_LABELS, normalise_doc_type

MAX_SUBJECT = 1000


class BadPassphraseError(WorkflowError):
    """Wrong key passphrase; the failure counter was updated and must be committed."""

    status = 403
    code = "wrong_passphrase"


class SigningFailedError(WorkflowError):
    """The server could not produce a signature its own validator accepts."""

    status = 500
    code = "signing_failed"


# --- upload and submit -------------------------------------------------------------


def create_document(
    session: Session,
    blobs: FilesystemBlobStore,
    actor: User,
    *,
    staged: StagedBlob,
    filename: str,
    subject: str,
    doc_type: str,
    route_code: str | None = None,
) -> Document:
    """Check an uploaded PDF and register it as a draft on a route.

    The staged blob is published only once every check has passed; on any error it is
    discarded, so a refused upload leaves neither a file nor a row.

    :raises InvalidInputError: bad subject, type, route or PDF.
    :raises ForbiddenError: the actor may not draft documents.
    """
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
        route = _pick_route(session, route_code)
        if staged.size == 0:
            raise InvalidInputError("Tệp tải lên rỗng (0 byte). Hãy chọn lại tệp PDF.")
        try:
            info = inspect_pdf(staged.path)
        except PdfInputError as exc:
            raise InvalidInputError(str(exc), code=f"pdf_{exc.code}") from exc
    except BaseException:
        blobs.discard(staged)
        raise
    sha = blobs.publish(staged)
    now = utcnow()
    doc = Document(
        unit_id=min(drafter_units),
        created_by_id=actor.id,
        subject=subject,
        doc_type=code,
        state=DocState.DRAFT,
        route_id=route.id,
        created_at=now,
        updated_at=now,
    )
    session.add(doc)
    session.flush()
    rev = Revision(
        number=1,
        blob_sha256=sha,
        size=staged.size,
        filename=_safe_name(filename),
        kind="upload",
        created_by_id=actor.id,
        created_at=now,
    )
    doc.revisions.append(rev)
    session.flush()
    audit.append(
        session,
        AuditAction.UPLOADED,
        actor_id=actor.id,
        object_type="document",
        object_id=doc.id,
        details={"sha256": sha, "size": staged.size, "pages": info.pages, "route": route.code},
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


def _safe_name(filename: str) -> str:
    name = Path((filename or "").replace("\\", "/")).name.strip() or "van-ban.pdf"
    return name[:200]


def submit(session: Session, actor: User, document_id: int) -> Document:
    """Put a draft (or a returned document) on its route: open the first stage's tasks.

    :raises ForbiddenError: only the drafter submits.
    :raises ConflictError: not in a state that can be submitted.
    """
    doc = access.get_visible_document(session, actor, document_id)
    if doc.created_by_id != actor.id:
        raise ForbiddenError("Chỉ người soạn thảo mới được trình văn bản này.")
    first = doc.route.stages[0] if doc.route.stages else None
    _transition(doc, Event.SUBMIT, first)
    assert first is not None  # noqa: S101 - next_state refuses an empty route
    _open_stage(session, doc, first)
    now = utcnow()
    doc.submitted_at = now
    doc.updated_at = now
    audit.append(
        session,
        AuditAction.SUBMITTED,
        actor_id=actor.id,
        object_type="document",
        object_id=doc.id,
        details={"route": doc.route.code, "route_version": doc.route.version},
    )
    return doc


def _transition(doc: Document, event: Event, next_stage: RouteStage | None) -> None:
    action = StageAction(next_stage.action) if next_stage else None
    try:
        doc.state = next_state(DocState(doc.state), event, next_stage=action)
    except InvalidTransitionError as exc:
        label = STATE_LABELS.get(doc.state, doc.state)
        raise ConflictError(
            f"Không thể thực hiện thao tác này: văn bản đang ở trạng thái «{label}»."
        ) from exc


def stage_assignees(session: Session, doc: Document, stage: RouteStage) -> list[User]:
    """:returns: the users who hold the stage's role in the stage's unit."""
    if stage.assignee_unit_code:
        unit = session.scalars(select(Unit).where(Unit.code == stage.assignee_unit_code)).first()
        unit_id = unit.id if unit else -1
    else:
        unit_id = doc.unit_id
    users = session.scalars(select(User).where(User.active.is_(True)).order_by(User.id)).all()
    return [u for u in users if u.has_role(Role(stage.assignee_role), unit_id)]


def _open_stage(session: Session, doc: Document, stage: RouteStage) -> None:
    assignees = stage_assignees(session, doc, stage)
    if not assignees:
        raise InvalidInputError(
            f"Bước «{stage.name}» của tuyến trình chưa có người xử lý. "
            "Hãy báo quản trị hệ thống phân công."
        )
    doc.current_stage = stage.position
    for user in assignees:
        session.add(
            Task(
                document_id=doc.id,
                stage_position=stage.position,
                stage_name=stage.name,
                action=stage.action,
                assignee_id=user.id,
                state=TaskState.OPEN,
            )
        )


# --- acting on tasks ---------------------------------------------------------------


def open_tasks(session: Session, actor: User) -> list[Task]:
    """:returns: the actor's open tasks, oldest first."""
    query = (
        select(Task)
        .where(Task.assignee_id == actor.id, Task.state == TaskState.OPEN)
        .order_by(Task.created_at, Task.id)
    )
    return list(session.scalars(query))


def _claim(session: Session, actor: User, task_id: int, action: StageAction) -> Task:
    task = access.get_own_task(session, actor, task_id)
    if task.state != TaskState.OPEN:
        raise ConflictError("Việc này đã được xử lý trước đó; không thể xử lý lại.")
    if task.action != action:
        raise ConflictError(
            f"Việc này là bước «{task.stage_name}», không phải thao tác bạn vừa chọn."
        )
    return task


def _complete(session: Session, actor: User, task: Task, outcome: str, comment: str | None) -> None:
    """Close the task and its siblings and move the document to the next stage."""
    doc = task.document
    now = utcnow()
    task.state = TaskState.DONE
    task.outcome = outcome
    task.acted_by_id = actor.id
    task.acted_at = now
    task.comment = (comment or "").strip() or None
    stage = next(s for s in doc.route.stages if s.position == task.stage_position)
    siblings = [t for t in doc.tasks if t.stage_position == stage.position and t.id != task.id]
    if stage.mode == "all" and any(t.state == TaskState.OPEN for t in siblings):
        doc.updated_at = now  # bump the version: concurrent actors serialise on it
        return
    for sibling in siblings:
        if sibling.state == TaskState.OPEN:
            sibling.state = TaskState.CANCELLED
    following = next((s for s in doc.route.stages if s.position > stage.position), None)
    _transition(doc, event_for(StageAction(stage.action)), following)
    doc.current_stage = following.position if following else None
    doc.updated_at = now
    if following is not None:
        _open_stage(session, doc, following)


def approve(session: Session, actor: User, task_id: int, comment: str | None = None) -> Task:
    """Approve a review step; the route moves on.

    :raises ConflictError: already acted on, or not an approval step.
    """
    task = _claim(session, actor, task_id, StageAction.APPROVE)
    _complete(session, actor, task, "approved", comment)
    audit.append(
        session,
        AuditAction.STEP_APPROVED,
        actor_id=actor.id,
        object_type="document",
        object_id=task.document_id,
        details={"task": task.id, "stage": task.stage_name, "comment": task.comment},
    )
    return task


@dataclass(frozen=True)
class SignOutcome:
    """What signing produced."""

    task: Task
    revision: Revision
    signature: Signature
    report: ValidationReport


def active_certificate(session: Session, user: User, now: datetime) -> Certificate:
    """:returns: the user's current personal signing certificate.

    :raises ConflictError: none, expired or revoked.
    """
    cert = session.scalars(
        select(Certificate)
        .where(Certificate.user_id == user.id, Certificate.purpose == "personal")
        .order_by(Certificate.id.desc())
    ).first()
    if cert is None:
        raise ConflictError("Bạn chưa được cấp chứng thư số để ký. Hãy liên hệ quản trị hệ thống.")
    if cert.status != "active":
        raise ConflictError("Chứng thư số của bạn đã bị thu hồi; không thể ký.")
    if not (cert.not_before <= now <= cert.not_after):
        raise ConflictError("Chứng thư số của bạn đã hết hạn hoặc chưa có hiệu lực; không thể ký.")
    return cert


def sign(
    session: Session,
    blobs: FilesystemBlobStore,
    trust: TrustConfig,
    actor: User,
    task_id: int,
    passphrase: str,
    *,
    key_max_failures: int,
    key_lock_seconds: int,
) -> SignOutcome:
    """Sign the document's current revision with the actor's key (PAdES, visible stamp).

    The signed file is validated before it is stored; nothing is stored otherwise.

    :raises BadPassphraseError: wrong passphrase (the counter is updated: commit it).
    :raises LockedError: the key is locked after repeated wrong passphrases.
    :raises SigningFailedError: the result did not validate.
    """
    task = _claim(session, actor, task_id, StageAction.SIGN)
    doc = task.document
    now = utcnow()
    cert = active_certificate(session, actor, now)
    if cert.locked_until is not None and cert.locked_until > now:
        raise LockedError(
            "Khóa ký số của bạn đang tạm khóa do nhập sai mật khẩu nhiều lần. "
            f"Hãy thử lại sau {max(1, int((cert.locked_until - now).total_seconds() // 60))} phút."
        )
    try:
        signer = load_signer(
            cert.cert_pem.encode(),
            cert.encrypted_key_pem.encode(),
            passphrase,
            trust.other_certs_pem,
        )
    except WrongPassphraseError as exc:
        _record_key_failure(session, actor, cert, doc, now, key_max_failures, key_lock_seconds)
        raise BadPassphraseError("Mật khẩu khóa ký số không đúng. Văn bản chưa được ký.") from exc
    except KeyLoadError as exc:
        raise SigningFailedError(
            "Không đọc được khóa ký số của bạn. Hãy báo quản trị hệ thống."
        ) from exc
    cert.failed_unlocks = 0
    cert.locked_until = None

    source = doc.current_revision
    out = blobs.new_temp_path(".pdf")
    try:
        unit = _signing_unit(session, actor, doc, task)
        profile = SigningProfile(
            field_name=f"ChuKy{len(doc.revisions) + 1}_{actor.username}",
            reason=f"{task.stage_name}: {doc.subject[:120]}",
            location=unit.name if unit else None,
            stamp=StampContent(
                signer_name=actor.full_name,
                title=actor.title,
                unit=unit.name if unit else "",
                signed_at=now,
            ),
        )
        try:
            sign_pdf_file(blobs.path(source.blob_sha256), out, signer, profile)
        except PdfInputError as exc:
            raise InvalidInputError(str(exc), code=f"pdf_{exc.code}") from exc
        except SigningError as exc:
            raise SigningFailedError(
                "Không tạo được chữ ký số cho văn bản này. Văn bản chưa được ký."
            ) from exc
        report = validate_pdf(out, trust)
        if not report.bottom_line:
            raise SigningFailedError(
                "Chữ ký vừa tạo không vượt qua bước kiểm tra nên không được lưu: "
                + "; ".join(p for s in report.signatures for p in s.problems)
            )
        staged = blobs.stage_file(out)
    except BaseException:
        out.unlink(missing_ok=True)
        raise
    sha = blobs.publish(staged)
    rev = Revision(
        number=source.number + 1,
        blob_sha256=sha,
        size=staged.size,
        filename=source.filename,
        kind="signed",
        created_by_id=actor.id,
        created_at=now,
    )
    doc.revisions.append(rev)
    session.flush()
    sig = Signature(
        document_id=doc.id,
        revision_id=rev.id,
        signer_id=actor.id,
        certificate_id=cert.id,
        field_name=profile.field_name,
        pades_level=report.signatures[-1].pades_level,
        signed_at=now,
    )
    session.add(sig)
    _complete(session, actor, task, "signed", None)
    audit.append(
        session,
        AuditAction.SIGNED,
        actor_id=actor.id,
        object_type="document",
        object_id=doc.id,
        details={
            "task": task.id,
            "revision": rev.number,
            "sha256": sha,
            "certificate": cert.fingerprint,
            "field": profile.field_name,
            "level": sig.pades_level,
        },
    )
    return SignOutcome(task, rev, sig, report)


def _signing_unit(session: Session, actor: User, doc: Document, task: Task) -> Unit | None:
    stage = next(s for s in doc.route.stages if s.position == task.stage_position)
    if stage.assignee_unit_code:
        return session.scalars(select(Unit).where(Unit.code == stage.assignee_unit_code)).first()
    units = sorted(actor.units_with(Role(stage.assignee_role)))
    return session.get(Unit, units[0]) if units else None


def _record_key_failure(
    session: Session,
    actor: User,
    cert: Certificate,
    doc: Document,
    now: datetime,
    max_failures: int,
    lock_seconds: int,
) -> None:
    cert.failed_unlocks += 1
    locked = cert.failed_unlocks >= max_failures
    if locked:
        cert.failed_unlocks = 0
        cert.locked_until = now + timedelta(seconds=lock_seconds)
    audit.append(
        session,
        AuditAction.KEY_LOCKED if locked else AuditAction.SIGN_FAILED,
        actor_id=actor.id,
        object_type="document",
        object_id=doc.id,
        details={"reason": "wrong_passphrase", "certificate": cert.fingerprint},
    )


# --- reading -----------------------------------------------------------------------


def document_file(
    session: Session, blobs: FilesystemBlobStore, actor: User, document_id: int
) -> tuple[Document, Revision, Path]:
    """Resolve the current PDF of a document for download and audit the download.

    :raises NotFoundError: not party to it, or the blob is missing.
    """
    doc = access.get_visible_document(session, actor, document_id)
    rev = doc.current_revision
    path = blobs.path(rev.blob_sha256)
    if not path.is_file():
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
    return doc, rev, path


def validate_document(
    blobs: FilesystemBlobStore, trust: TrustConfig, doc: Document
) -> ValidationReport:
    """:returns: the validation report of the document's current revision."""
    return validate_pdf(blobs.path(doc.current_revision.blob_sha256), trust)
