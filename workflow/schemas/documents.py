"""workflow: API schemas of documents, their tasks and the actions on them."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar, Literal

from pydantic import AliasChoices, ConfigDict, Field

from signing.validate import ValidationReport
from storage.models import Document as DocumentRow
from storage.models import Revision as RevisionRow
from storage.models import Route as RouteRow
from storage.models import Task as TaskRow
from storage.registry_models import Comment as CommentRow
from storage.registry_models import Notification as NotificationRow
from workflow.schemas.base import MAX_LIST, Bool, Form, Int, Moment, Request, Response, When
from workflow.vocab import STATE_LABELS

# --- shared pieces ---------------------------------------------------------------------


class UnitRef(Response):
    """A unit (cơ quan, đơn vị)."""

    id: int
    code: str
    name: str


class RouteRef(Response):
    """The approval route (tuyến trình) a document follows."""

    code: str
    version: int
    name: str


class RevisionInfo(Response):
    """The current revision (file) of a document."""

    number: int
    sha256: str
    size: int
    filename: str
    kind: str = Field(description="upload, signed, sealed, ...")
    conversion: str | None = Field(
        default=None,
        description="repaired (rewritten by qpdf) or decrypted (empty password) at upload",
    )
    original_sha256: str | None = Field(
        default=None, description="the file as uploaded, kept beside a converted revision"
    )


class OutsideRecipient(Response):
    """A planned recipient outside the system (by e-mail)."""

    name: str
    email: str


class HistoryEntry(Response):
    """One audit entry about the document."""

    seq: int
    at: Moment
    actor: str
    action: str
    label: str
    details: dict[str, Any]


# --- tasks -----------------------------------------------------------------------------


class Task(Response):
    """A step of a route given to one person (xử lý, ký, phân công...)."""

    id: int
    document_id: int
    action: str = Field(description="review, approve, consult, sign, issue, assign, handle")
    step: int = Field(description="the position of the route's stage")
    step_name: str
    state: str = Field(description="open, done, cancelled")
    assignee: str = Field(description="username")
    outcome: str | None
    acted_by: str | None
    acted_at: Moment | None
    comment: str | None
    answer: str | None = Field(description="a consultation's answer")
    on_behalf_of: str | None = Field(description="the delegating person's username")
    created_at: Moment
    due_at: Moment | None
    overdue: bool
    subject: str = Field(description="the document's subject line")

    @classmethod
    def of(cls, task: TaskRow, now: datetime) -> Task:
        return cls(
            id=task.id,
            document_id=task.document_id,
            action=task.action,
            step=task.stage_position,
            step_name=task.stage_name,
            state=task.state,
            assignee=task.assignee.username,
            outcome=task.outcome,
            acted_by=task.acted_by.username if task.acted_by else None,
            acted_at=task.acted_at,
            comment=task.comment,
            answer=task.answer,
            on_behalf_of=task.on_behalf_of.username if task.on_behalf_of else None,
            created_at=task.created_at,
            due_at=task.due_at,
            overdue=bool(task.state == "open" and task.due_at is not None and task.due_at < now),
            subject=task.document.subject,
        )


class TaskList(Response):
    """``GET /tasks``."""

    tasks: list[Task]


# --- documents -------------------------------------------------------------------------


class Document(Response):
    """A document (văn bản): metadata, state, route, number, current file and tasks."""

    id: int
    subject: str
    doc_type: str = Field(examples=["CV", "BC"])
    state: str
    state_label: str
    unit: UnitRef
    created_by: str
    created_at: Moment
    submitted_at: Moment | None
    route: RouteRef | None
    current_step: int | None
    urgency: str | None = Field(description="khan, thuong_khan, hoa_toc")
    classification: str | None = Field(description="mat, toi_mat, tuyet_mat")
    metadata_only: bool
    form: str = Field(description="electronic, or paper (signed by hand)")
    number: int | None
    symbol: str | None
    issued_at: Moment | None
    issuer: str | None = Field(description="the issuing unit's code")
    register_: str | None = Field(alias="register", description="the register it is in")
    recalled_at: Moment | None
    recall_reason: str | None
    revision: RevisionInfo | None = Field(description="null for a metadata-only document")
    revisions: int = Field(description="how many revisions the document has")
    tasks: list[Task]
    recipients: list[UnitRef] = Field(description="planned recipient units (nơi nhận dự kiến)")
    external_recipients: list[OutsideRecipient] = Field(description="planned outside recipients")
    history: list[HistoryEntry] | None = Field(
        default=None, description="only in GET /documents/{document_id}"
    )

    @classmethod
    def of(
        cls, doc: DocumentRow, now: datetime, history: list[HistoryEntry] | None = None
    ) -> Document:
        rev = doc.current_revision if doc.has_content else None
        route = doc.route
        planned = doc.planned_recipients
        fields: dict[str, Any] = {}
        if history is not None:
            fields["history"] = history
        return cls(
            id=doc.id,
            subject=doc.subject,
            doc_type=doc.doc_type,
            state=doc.state,
            state_label=STATE_LABELS.get(doc.state, doc.state),
            unit=UnitRef(id=doc.unit.id, code=doc.unit.code, name=doc.unit.name),
            created_by=doc.created_by.username,
            created_at=doc.created_at,
            submitted_at=doc.submitted_at,
            route=RouteRef(code=route.code, version=route.version, name=route.name)
            if route
            else None,
            current_step=doc.current_stage,
            urgency=doc.urgency,
            classification=doc.classification,
            metadata_only=doc.metadata_only,
            form=doc.form,
            number=doc.number,
            symbol=doc.symbol,
            issued_at=doc.issued_at,
            issuer=doc.issuer_unit.code if doc.issuer_unit else None,
            register=doc.register,
            recalled_at=doc.recalled_at,
            recall_reason=doc.recall_reason,
            revision=RevisionInfo(
                number=rev.number,
                sha256=rev.blob_sha256,
                size=rev.size,
                filename=rev.filename,
                kind=rev.kind,
                conversion=rev.conversion,
                original_sha256=rev.original_sha256,
            )
            if rev
            else None,
            revisions=len(doc.revisions),
            tasks=[Task.of(t, now) for t in doc.tasks],
            recipients=[
                UnitRef(id=p.unit.id, code=p.unit.code, name=p.unit.name)
                for p in planned
                if p.unit is not None
            ],
            external_recipients=[
                OutsideRecipient(name=p.name or "", email=p.email or "")
                for p in planned
                if p.unit is None
            ],
            **fields,
        )


class DocumentList(Response):
    """``GET /documents``."""

    documents: list[Document]


class DocumentListQuery(Request):
    """``GET /documents`` query."""

    state: str | None = Field(default=None, description="only documents in this state")
    limit: int | None = Field(
        default=None, description="1..500, default 50 (a bad value counts as the default)"
    )


class DocumentUploadForm(Form):
    """``POST /documents`` (multipart): a PDF as a draft. With ``classification`` set, a
    classified document registered as metadata only (then no file may be sent; the same
    fields may also come as a JSON body)."""

    files: ClassVar[dict[str, str]] = {"file": "application/pdf"}
    subject: str | None = Field(default=None, title="trích yếu")
    doc_type: str | None = Field(default=None, title="loại văn bản", examples=["CV", "BC"])
    route: str | None = Field(default=None, description="a route template's code")
    urgency: str | None = Field(default=None, description="khan, thuong_khan or hoa_toc")
    recipients: list[str] | None = Field(
        default=None,
        max_length=MAX_LIST,
        description="Planned recipient units (nơi nhận dự kiến): unit ids, the field "
        "repeated or comma-separated. An unknown or deactivated unit is refused (422), "
        "nothing is stored. The clerk finds them ticked when dispatching.",
    )
    external: str | None = Field(
        default=None,
        description="Planned outside recipients: lines `Name; e-mail`, or a JSON array of "
        '`{"name", "email"}`.',
    )
    classification: str | None = Field(
        default=None,
        description="mat, toi_mat or tuyet_mat: register a classified document as metadata "
        "only (no file: its content never reaches the server)",
    )


class ClassifiedRequest(Request):
    """``POST /documents`` as JSON: a classified document, metadata only."""

    classification: str = Field(title="độ mật", description="mat, toi_mat or tuyet_mat")
    doc_type: str | None = None
    subject: str | None = None
    urgency: str | None = None


class RevisionForm(Form):
    """``POST /documents/{document_id}/revisions`` (multipart): the revised PDF."""

    files: ClassVar[dict[str, str]] = {"file": "application/pdf"}


class RevisionCreated(Response):
    """A new revision."""

    number: int
    sha256: str
    size: int


# --- validation of a document's signatures ---------------------------------------------


class SignatureCheck(Response):
    """The validation of one embedded signature or document timestamp."""

    field_name: str
    signer_name: str
    signer_subject: str
    issuer_subject: str
    cert_fingerprint_sha256: str
    intact: bool
    valid: bool
    trusted: bool
    revoked: bool
    coverage: str = Field(description="entire_file, entire_revision or partial")
    modification_level: str
    signing_time: str | None = Field(json_schema_extra={"format": "date-time"})
    timestamp_time: str | None = Field(json_schema_extra={"format": "date-time"})
    pades_level: str = Field(description="B-B, B-T, B-LT, B-LTA, or DTS")
    subfilter: str
    docmdp_ok: bool | None
    summary: str
    bottom_line: bool
    problems: list[str] = Field(description="Vietnamese reasons when bottom_line is false")
    trust_list: str = Field(
        default="", description="the trust list the signer's chain ended in ('' if untrusted)"
    )


class Validation(Response):
    """Validation of every signature of a PDF, and an overall verdict."""

    verdict: Literal["valid", "invalid", "unsigned", "unreadable"]
    bottom_line: bool
    error: str | None
    signatures: list[SignatureCheck]
    active_content: list[str] = Field(
        default_factory=list,
        description="active content in the file (JavaScript, XFA, launch actions, embedded "
        "files, automatic actions), each in Vietnamese with where it is; empty: none",
    )

    @classmethod
    def of(cls, report: ValidationReport) -> Validation:
        return cls.model_validate(report.to_dict())


class DocumentValidation(Validation):
    """``GET /documents/{document_id}/validation``."""

    document_id: int
    revision: int
    repaired: bool = Field(
        default=False, description="the file was repaired at upload (qpdf) before signing"
    )
    conversion: str | None = Field(
        default=None, description="repaired or decrypted at upload; null if stored as sent"
    )
    original_sha256: str | None = Field(
        default=None, description="the file as uploaded, when it was converted"
    )

    @classmethod
    def of_document(
        cls,
        report: ValidationReport,
        document_id: int,
        revision: int,
        converted: RevisionRow | None = None,
    ) -> DocumentValidation:
        """:param converted: the upload revision this one descends from, if converted."""
        extra: dict[str, Any] = {}
        if converted is not None:
            extra = {
                "repaired": converted.conversion == "repaired",
                "conversion": converted.conversion,
                "original_sha256": converted.original_sha256,
            }
        return cls.model_validate(
            {**report.to_dict(), "document_id": document_id, "revision": revision, **extra}
        )


# --- actions on tasks ------------------------------------------------------------------


class ApproveRequest(Request):
    """``POST /tasks/{task_id}/approve``."""

    comment: str | None = None
    answer: str | None = Field(
        default=None, description="a consultation's answer (agree, disagree, ...)"
    )


class SignRequest(Request):
    """``POST /tasks/{task_id}/sign``."""

    passphrase: str = Field(min_length=1, title="mật khẩu của khóa ký số")


class SignatureMade(Response):
    """The signature just made."""

    field: str
    level: str
    revision: int
    sha256: str
    signed_at: Moment


class EarlierSignature(Response):
    """A signature the document carried before this one (countersigning): reported,
    never blocking."""

    field_name: str
    signer_name: str
    issuer_subject: str
    trusted: bool
    trust_list: str = Field(description="the trust list its chain ended in ('' if untrusted)")
    intact: bool
    kept_intact: bool = Field(
        description="the new signature's incremental update left it intact and within its "
        "certification (DocMDP) permissions"
    )
    problems: list[str]


class SignOutcome(Response):
    """A signing task done: the task, the document, the signature and its validation."""

    task: Task
    document: Document
    signature: SignatureMade
    validation: Validation
    earlier_signatures: list[EarlierSignature] = Field(
        default_factory=list, description="signatures the document carried before"
    )

    @classmethod
    def of(cls, outcome: Any, now: datetime) -> SignOutcome:
        """:param outcome: a :class:`workflow.signatures.flow.SignOutcome`."""
        task, signature, revision = outcome.task, outcome.signature, outcome.revision
        return cls(
            task=Task.of(task, now),
            document=Document.of(task.document, now),
            signature=SignatureMade(
                field=signature.field_name,
                level=signature.pades_level,
                revision=revision.number,
                sha256=revision.blob_sha256,
                signed_at=signature.signed_at,
            ),
            validation=Validation.of(outcome.report),
            earlier_signatures=[
                EarlierSignature.model_validate(e.to_dict())
                for e in getattr(outcome, "earlier", ())
            ],
        )


class TaskAndDocument(Response):
    """A task acted on, and its document."""

    task: Task
    document: Document

    @classmethod
    def of(cls, task: TaskRow, now: datetime) -> TaskAndDocument:
        return cls(task=Task.of(task, now), document=Document.of(task.document, now))


class TaskOnly(Response):
    """A task (delegated or given to someone else)."""

    task: Task

    @classmethod
    def of(cls, task: TaskRow, now: datetime) -> TaskOnly:
        return cls(task=Task.of(task, now))


class CommentRequest(Request):
    """An optional comment (``POST /tasks/{task_id}/reject``)."""

    comment: str | None = None


class ReturnRequest(Request):
    """``POST /tasks/{task_id}/return``: back for revision."""

    comment: str | None = None
    to_stage: Int | None = Field(
        default=None, description="the position of an earlier stage (default: the drafter)"
    )


def _older_names_of_to(schema: dict[str, Any]) -> None:
    """Document the older names of ``to`` (accepted, deprecated) beside it."""
    for name in ("to_user", "username"):
        schema["properties"][name] = {"type": "string", "deprecated": True, "description": "= to"}


class DelegateTaskRequest(Request):
    """``POST /tasks/{task_id}/delegate``. ``to`` is the canonical name of the delegate;
    ``to_user`` and ``username`` are still accepted for it (older clients)."""

    model_config = ConfigDict(json_schema_extra=_older_names_of_to)

    to: str = Field(
        validation_alias=AliasChoices("to", "to_user", "username"),
        title="tên đăng nhập của người nhận ủy quyền",
    )
    until: When = Field(title="thời điểm ISO 8601, ví dụ 2026-12-01T17:00:00+07:00")
    reason: str | None = None


class ReassignRequest(Request):
    """``POST /tasks/{task_id}/reassign`` (administrators)."""

    to: str = Field(title="tên đăng nhập của người được giao")


class IssueRequest(Request):
    """``POST /tasks/{task_id}/issue``: optionally publish the issued document."""

    public: Bool = Field(
        default=False,
        title="công khai",
        description="also list it on the public portal (never a classified document)",
    )


class PublishRequest(Request):
    """``POST /documents/{document_id}/publish``."""

    public: Bool = Field(title="công khai", description="true: publish; false: take down")


class Issued(Response):
    """``POST /tasks/{task_id}/issue``: the number, date and the sealed document."""

    number: int
    symbol: str
    issued_at: Moment
    document: Document


class RecallRequest(Request):
    """``POST /documents/{document_id}/recall``."""

    reason: str | None = None


# --- comments, delegations, notifications ----------------------------------------------


class NewComment(Request):
    """``POST /documents/{document_id}/comments``."""

    body: str | None = Field(default=None, description="the comment (required, not blank)")


class CommentCreated(Response):
    """A comment just added."""

    id: int
    body: str
    created_at: Moment


class Comment(Response):
    """A comment on a document."""

    id: int
    author: str
    author_name: str
    body: str
    created_at: Moment

    @classmethod
    def of(cls, row: CommentRow) -> Comment:
        return cls(
            id=row.id,
            author=row.user.username,
            author_name=row.user.full_name,
            body=row.body,
            created_at=row.created_at,
        )


class CommentList(Response):
    """``GET /documents/{document_id}/comments``, oldest first."""

    comments: list[Comment]


class DelegationRequest(Request):
    """``POST /delegations``: a standing delegation (ủy quyền) for a period and a scope."""

    to: str = Field(title="tên đăng nhập của người nhận ủy quyền")
    starts: When = Field(alias="from", title="thời điểm ISO 8601, ví dụ 2026-12-01T08:00:00+07:00")
    until: When = Field(title="thời điểm ISO 8601, ví dụ 2026-12-01T17:00:00+07:00")
    actions: list[str] | None = Field(
        default=None, max_length=50, description="default: every action"
    )
    doc_types: list[str] | None = Field(
        default=None, max_length=50, description="default: every type"
    )
    reason: str | None = None


class Delegation(Response):
    """A standing delegation."""

    id: int
    to: str
    starts: Moment = Field(alias="from")
    until: Moment


class Notification(Response):
    """An in-app notification."""

    id: int
    kind: str
    message: str
    document_id: int | None
    created_at: Moment
    read: bool
    read_at: Moment | None = Field(
        default=None, description="only in POST /notifications/{notification_id}/read"
    )

    @classmethod
    def of(cls, row: NotificationRow) -> Notification:
        return cls(
            id=row.id,
            kind=row.kind,
            message=row.message,
            document_id=row.document_id,
            created_at=row.created_at,
            read=row.read_at is not None,
        )


class NotificationList(Response):
    """``GET /notifications``, newest first."""

    notifications: list[Notification]


# --- route templates -------------------------------------------------------------------


class StageWhen(Response):
    """When a stage applies (null: always)."""

    doc_types: list[str] | None
    urgencies: list[str] | None
    units: list[str] | None


class RouteStage(Response):
    """A stage of a route template."""

    position: int
    name: str
    action: str
    assignee_role: str
    assignee_unit: str | None
    assignee_user_id: int | None
    mode: str = Field(description="any (one person) or all")
    deadline_days: int | None
    when: StageWhen


class RouteTemplate(Response):
    """A route template (tuyến trình), one version of it."""

    id: int
    code: str
    version: int
    name: str
    kind: str = Field(description="outgoing, report or incoming")
    description: str
    is_default: bool
    active: bool
    stages: list[RouteStage]

    @classmethod
    def of(cls, route: RouteRow) -> RouteTemplate:
        return cls(
            id=route.id,
            code=route.code,
            version=route.version,
            name=route.name,
            kind=route.kind,
            description=route.description,
            is_default=route.is_default,
            active=route.active,
            stages=[
                RouteStage(
                    position=s.position,
                    name=s.name,
                    action=s.action,
                    assignee_role=s.assignee_role,
                    assignee_unit=s.assignee_unit_code,
                    assignee_user_id=s.assignee_user_id,
                    mode=s.mode,
                    deadline_days=s.deadline_days,
                    when=StageWhen(
                        doc_types=s.when_doc_types,
                        urgencies=s.when_urgencies,
                        units=s.when_units,
                    ),
                )
                for s in route.stages
            ],
        )


class RouteList(Response):
    """``GET /routes``."""

    routes: list[RouteTemplate]


class RouteListQuery(Request):
    """``GET /routes`` query."""

    all: str | None = Field(default=None, description="any value: every version")


class StageWhenRequest(Request):
    """When a stage applies."""

    doc_types: list[str] | None = Field(default=None, max_length=50)
    urgencies: list[str] | None = Field(default=None, max_length=10)
    units: list[str] | None = Field(default=None, max_length=MAX_LIST)


class RouteStageRequest(Request):
    """A stage of a new route template (its rules are checked by
    :func:`workflow.route_templates.save_route`, shared with the visual editor)."""

    name: str | None = Field(default=None, description="required")
    action: str | None = Field(
        default=None, description="required: review, approve, consult, sign or issue"
    )
    assignee_role: str | None = Field(default=None, description="required without assignee_user")
    assignee_unit: str | None = Field(default=None, description="a unit's code")
    assignee_user: str | None = Field(default=None, description="a username")
    mode: str | None = Field(default=None, description="any (default) or all")
    deadline_days: Int | None = Field(default=None, description="working days, 1..365")
    when: StageWhenRequest | None = None


class RouteRequest(Request):
    """``POST /routes`` (administrators): a route template, or a new version of a code."""

    code: str | None = Field(default=None, description="required: letters, digits, - and _")
    name: str | None = Field(default=None, description="required")
    kind: str | None = Field(default=None, description="outgoing (default), report, incoming")
    description: str | None = None
    is_default: bool | None = None
    stages: list[RouteStageRequest] | None = Field(
        default=None, max_length=50, description="at least one"
    )


class DocumentFile(Response):
    """A file of a document besides its PDF: the Word/OpenDocument draft it was converted
    from (``source``), or an appendix (``appendix``) merged into the PDF from
    ``first_page`` on (so the one signature covers it)."""

    id: int
    role: str = Field(description="source or appendix")
    position: int = Field(description="appendix number (1, 2…); 0 for the source")
    filename: str
    sha256: str = Field(description="SHA-256 of the file as uploaded")
    pdf_sha256: str | None = Field(description="SHA-256 of its PDF form")
    first_page: int | None = Field(description="1-based page of the document's PDF")
    pages: int | None


class DocumentFiles(Response):
    """``GET /documents/{id}/files``."""

    files: list[DocumentFile]
