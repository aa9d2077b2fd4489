"""workflow: the document page: its forms, and what it shows of a document to the actor,
computed here (permissions, flags, labels) so that the template only presents it (also
rendered by the viewer and the task pages after a refused action)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask import render_template
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload, lazyload, selectinload
from sqlalchemy.orm.interfaces import ORMOption
from wtforms import PasswordField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from signing.pages import PageGeometry
from signing.validate import SignatureReport, ValidationReport
from storage.models import Document, Revision, Role, RouteStage, Task, User
from storage.registry_models import HandSignature
from storage.types import utcnow
from workflow.documents import drafts, presenters, routing
from workflow.documents.states import DocState, StageAction, TaskState
from workflow.i18n import translate
from workflow.registry import issuance, number_line, publishing
from workflow.services import get_services, get_session
from workflow.verification import reports
from workflow.verification import service as verification
from workflow.viewer import geometry
from workflow.vocab import (
    CLASSIFICATION_LABELS,
    CONVERSION_LABELS,
    DOC_TYPES,
    MODIFICATION_LABELS,
    REVISION_KIND_LABELS,
    SIGNATURE_COVERAGE_LABELS,
    STAGE_STATUS_LABELS,
    STATE_LABELS,
    TASK_OUTCOME_LABELS,
    TASK_STATE_LABELS,
    URGENCY_LABELS,
    vn_iso,
    vn_sort_key,
)

PAGE_LOAD: tuple[ORMOption, ...] = (
    joinedload(Document.created_by).options(lazyload(User.roles)),
    joinedload(Document.route),  # its stages follow (selectin)
    selectinload(Document.revisions).options(
        joinedload(Revision.created_by).options(lazyload(User.roles))
    ),
    selectinload(Document.tasks).options(
        joinedload(Task.assignee).options(lazyload(User.roles)),
        joinedload(Task.acted_by).options(lazyload(User.roles)),
        joinedload(Task.on_behalf_of).options(lazyload(User.roles)),
    ),
)
"""How the page loads a document: with its route, and the people on it without their
roles, which the page reads only for the actor and, when a task may be delegated, the
delegates (loaded on access then), instead of a query of everybody's roles for each of
its lists."""


class ActionForm(FlaskForm):
    """Approve a step, with an optional comment."""

    comment = TextAreaField("Ý kiến", validators=[Optional(), Length(max=4000)])


class SignForm(FlaskForm):
    """Sign with the key's passphrase."""

    passphrase = PasswordField("Mật khẩu khóa ký số", validators=[DataRequired(), Length(max=256)])


class EmptyForm(FlaskForm):
    """A form that carries only the CSRF token."""


@dataclass(frozen=True)
class TaskCard:
    """One of the actor's open tasks, with the form it needs."""

    task: Task
    form: str
    """Which form to show: ``approve``, ``consult``, ``sign``, ``issue``, ``handle`` or ``""``."""
    button: str
    """The label of the form's main button (or link)."""
    overdue: bool
    """Past its deadline."""
    can_delegate: bool
    """May be passed on (a delegated task is never delegated again)."""
    return_stages: list[RouteStage]
    """The stages the document may be returned to: this one and those before it."""


@dataclass(frozen=True)
class TimelineTask:
    """A task of a stage, as the timeline tells it."""

    task: Task
    done: bool
    """Acted upon (then who, when and the comment are shown)."""
    label: str
    """The outcome (done) or the state (waiting, no longer needed)."""


@dataclass(frozen=True)
class TimelineStage:
    """A stage of the route, where the document stands at it."""

    stage: RouteStage
    status: str
    """``done``, ``current`` or ``next`` (a CSS class too)."""
    status_label: str
    tasks: list[TimelineTask]
    upcoming: list[User]
    """Who a stage not reached yet will go to."""


@dataclass(frozen=True)
class SignatureCard:
    """One signature of the validation report."""

    sig: SignatureReport
    verdict: str
    intact: str
    valid: str
    trusted: str
    coverage: str
    changes: str


@dataclass(frozen=True)
class DocumentPage:
    """Everything the document page shows, decided for the actor."""

    doc: Document
    state_label: str
    classification_label: str | None
    urgency_label: str | None
    doc_type_label: str
    planned_units: list[dict[str, Any]]
    planned_outside: list[dict[str, str]]
    verification_code: str | None
    hand: HandSignature | None
    """Who signed a paper document by hand, and when (with its scan, if any)."""
    can_dispatch: bool
    """An issued document with content or signed by hand, and the actor is a clerk."""
    pages: list[PageGeometry]
    """The pages for the viewer (none: the page offers the download only)."""
    tasks: list[TaskCard]
    number_preview: str | None
    """The number and symbol an issuance now would give (for the clerk's issue task)."""
    number_line: bool
    """Issuing would write the number and date into the document's own "Số:" line."""
    can_revise: bool
    """The drafter may upload a revision and submit (draft or returned)."""
    revise_title: str
    can_withdraw: bool
    """The drafter may take the document back while nobody has acted."""
    can_recall: bool
    """An issued document, and the actor may recall it (clerk or signer)."""
    can_publish: bool
    """An issued, unclassified, unrecalled document with a file, and the actor decides
    its publication on the public portal (clerk or signer of the issuer, administrator)."""
    revisions: list[tuple[Revision, str]]
    """Each revision with the label of its kind."""
    conversion_labels: dict[int, str]
    """Revision number → what was done to the uploaded file (repaired, decrypted)."""
    report: ValidationReport | None
    signatures: list[SignatureCard]
    earlier_signatures: int
    """Signatures the current revision already carries (shown to a signer before signing)."""
    comments: list[dict[str, Any]]
    timeline: list[TimelineStage]
    events: list[presenters.HistoryEntry]
    """The document's history, views aside."""
    readers: list[presenters.Reader]
    """Who viewed it, how often and when last."""
    view_count: int
    people: list[User]
    """Whom the actor may delegate to."""
    return_note: presenters.ReturnNote | None
    """Why the document came back to its drafter (while it is returned)."""
    now: datetime
    """When the page was computed (deadlines, the date of a number preview)."""
    files: list[dict[str, Any]]
    """The Word draft the PDF was converted from, and the appendices (label, name, pages)."""
    active_content: list[str] = field(default_factory=list)
    """Active content of the current file (JavaScript, XFA...), shown before signing."""


def _files(db: Session, doc: Document) -> list[dict[str, Any]]:
    rows = []
    for f in drafts.files_of_document(db, doc.id):
        if f.role == "source":
            label = _("Bản gốc (đã chuyển sang PDF)")
        else:
            label = _("Phụ lục %(n)s", n=f.position)
        pages = (
            _(
                "trang %(first)s–%(last)s của tệp PDF",
                first=f.first_page,
                last=f.first_page + f.pages - 1,
            )
            if f.role == "appendix" and f.first_page and f.pages
            else ""
        )
        rows.append({"id": f.id, "label": label, "filename": f.filename, "pages": pages})
    return rows


def _label(labels: dict[str, str], code: str | None) -> str | None:
    return translate(labels.get(code, code)) if code else None


def _task_card(task: Task, stages: list[RouteStage], now: datetime) -> TaskCard:
    action = task.action
    if action in (StageAction.APPROVE, StageAction.REVIEW):
        form = "approve"
        button = _("Đồng ý thể thức") if action == StageAction.REVIEW else _("Duyệt")
    elif action == StageAction.CONSULT:
        form, button = "consult", _("Gửi ý kiến")
    elif action == StageAction.SIGN:
        form, button = "sign", _("Ký số")
    elif action == StageAction.ISSUE:
        form, button = "issue", _("Ban hành")
    elif action in (StageAction.ASSIGN, StageAction.HANDLE):
        form = "handle"
        button = (
            _("Phân công xử lý") if action == StageAction.ASSIGN else _("Báo cáo kết quả xử lý")
        )
    else:
        form, button = "", ""
    return TaskCard(
        task=task,
        form=form,
        button=button,
        overdue=task.due_at is not None and task.due_at < now,
        can_delegate=task.on_behalf_of is None,
        return_stages=[s for s in stages if s.position <= task.stage_position],
    )


def _timeline(db: Session, doc: Document) -> list[TimelineStage]:
    timeline = []
    for item in presenters.stage_timeline(doc):
        status: str = item["status"]
        tasks = []
        for task in item["tasks"]:
            if task.state == TaskState.DONE:
                outcome = task.outcome or ""
                if outcome == "approved" and task.action == StageAction.REVIEW:
                    outcome = "reviewed"
                label = translate(TASK_OUTCOME_LABELS.get(outcome, outcome))
            else:
                label = translate(
                    TASK_STATE_LABELS.get(task.state, TASK_STATE_LABELS[TaskState.CANCELLED])
                )
            tasks.append(TimelineTask(task, task.state == TaskState.DONE, label))
        upcoming = (
            routing.stage_assignees(db, doc, item["stage"])
            if not tasks and status == "next"
            else []
        )
        timeline.append(
            TimelineStage(
                item["stage"], status, translate(STAGE_STATUS_LABELS[status]), tasks, upcoming
            )
        )
    return timeline


def _signature_card(sig: SignatureReport) -> SignatureCard:
    return SignatureCard(
        sig=sig,
        verdict=_("Hợp lệ") if sig.bottom_line else _("Không hợp lệ"),
        intact=_("có") if sig.intact else _("không"),
        valid=_("đúng") if sig.valid else _("sai"),
        trusted=_("có") if sig.trusted else _("không"),
        coverage=translate(SIGNATURE_COVERAGE_LABELS.get(sig.coverage, sig.coverage)),
        changes=translate(MODIFICATION_LABELS.get(sig.modification_level, sig.modification_level)),
    )


def _delegates(db: Session, actor: User) -> list[User]:
    """Whom the actor may delegate to: the people of the actor's own units first (a deputy
    of the same board, not a clerk of another unit), each group in Vietnamese order."""
    own = {r.unit_id for r in actor.roles}
    people = db.scalars(select(User).where(User.active.is_(True), User.id != actor.id)).all()
    return sorted(
        people,
        key=lambda u: (not any(r.unit_id in own for r in u.roles), vn_sort_key(u.full_name)),
    )


def _exchange(db: Session, doc: Document) -> list[dict[str, Any]]:
    """The comments, and the comments given with an action (approve, return, reject,
    consult), in the order they were made: "Ý kiến trao đổi" shows every opinion given."""
    acted = [
        {
            "author_name": t.acted_by.full_name if t.acted_by else t.assignee.full_name,
            "body": t.comment,
            "created_at": vn_iso(t.acted_at),
            "label": translate(TASK_OUTCOME_LABELS.get(t.outcome or "", t.outcome or "")),
        }
        for t in doc.tasks
        if t.state == TaskState.DONE and t.comment and t.acted_at is not None
    ]
    return sorted(presenters.comments_json(db, doc) + acted, key=lambda c: c["created_at"])


def document_page(db: Session, doc: Document, actor: User) -> DocumentPage:
    """:returns: what the document page shows ``actor`` (who may see ``doc``)."""
    services = get_services()
    now = utcnow()
    readers = presenters.readers(db, doc)
    report = (
        reports.report_of(services, db, doc.current_revision.blob_sha256)
        if doc.has_content
        else None
    )
    stages = routing.stages_of(doc)
    mine = [t for t in doc.tasks if t.assignee_id == actor.id and t.state == TaskState.OPEN]
    own = doc.created_by_id == actor.id
    cards = [_task_card(t, stages, now) for t in mine]
    planned_units, planned_outside = presenters.planned_json(doc)
    hand = (
        db.scalars(select(HandSignature).where(HandSignature.document_id == doc.id)).first()
        if doc.form == "paper"
        else None
    )
    upload_label = REVISION_KIND_LABELS["upload"]
    return DocumentPage(
        doc=doc,
        state_label=translate(presenters.state_code_label(doc, STATE_LABELS)),
        classification_label=_label(CLASSIFICATION_LABELS, doc.classification),
        urgency_label=_label(URGENCY_LABELS, doc.urgency),
        doc_type_label=translate(DOC_TYPES.get(doc.doc_type, doc.doc_type)),
        planned_units=planned_units,
        planned_outside=planned_outside,
        verification_code=verification.code_of(db, doc),
        hand=hand,
        can_dispatch=doc.state == DocState.ISSUED
        and (doc.has_content or hand is not None)
        and actor.has_role(Role.CLERK),
        pages=geometry.document_pages(services.blobs, doc),
        tasks=cards,
        number_preview=(
            issuance.preview_number(db, doc)[1]
            if any(t.action == StageAction.ISSUE for t in mine)
            else None
        ),
        number_line=any(t.action == StageAction.ISSUE for t in mine)
        and number_line.planned(services.blobs, doc),
        can_revise=doc.state in (DocState.DRAFT, DocState.RETURNED)
        and own
        and not doc.metadata_only,
        revise_title=_("Chỉnh sửa và trình lại")
        if doc.state == DocState.RETURNED
        else _("Trình văn bản"),
        can_withdraw=doc.state in (DocState.IN_REVIEW, DocState.AWAITING_SIGNATURE) and own,
        can_recall=doc.state == DocState.ISSUED
        and (actor.has_role(Role.CLERK) or actor.has_role(Role.SIGNER)),
        can_publish=doc.state == DocState.ISSUED
        and not doc.classification
        and doc.has_content
        and doc.recalled_at is None
        and publishing.may_publish(actor, doc),
        revisions=[
            (rev, translate(REVISION_KIND_LABELS.get(rev.kind, upload_label)))
            for rev in doc.revisions
        ],
        conversion_labels={
            rev.number: translate(CONVERSION_LABELS.get(rev.conversion, rev.conversion))
            for rev in doc.revisions
            if rev.conversion
        },
        report=report,
        signatures=[_signature_card(s) for s in report.signatures] if report else [],
        earlier_signatures=len(report.signatures) if report else 0,
        comments=_exchange(db, doc),
        timeline=_timeline(db, doc),
        events=presenters.history(db, doc, views=False),
        readers=readers,
        view_count=sum(r.views for r in readers),
        people=_delegates(db, actor) if any(card.can_delegate for card in cards) else [],
        return_note=presenters.return_note(doc),
        now=now,
        files=_files(db, doc),
        active_content=[item.label for item in report.active_content] if report else [],
    )


def render_detail(doc: Document, actor: User, status: int = 200, **forms: Any) -> Any:
    """Render the document page (also with an error status after a refused action)."""
    return (
        render_template(
            "documents/detail.html",
            doc=doc,
            page=document_page(get_session(), doc, actor),
            approve_form=forms.get("approve_form") or ActionForm(),
            sign_form=forms.get("sign_form") or SignForm(),
            empty_form=EmptyForm(),
        ),
        status,
    )
