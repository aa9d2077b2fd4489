"""workflow: web pages for documents and tasks (blueprint)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required
from flask_wtf import FlaskForm
from sqlalchemy import select
from werkzeug.utils import secure_filename
from wtforms import SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, Length

from storage import audit
from storage.audit import AuditAction
from storage.db import begin_write
from storage.models import Certificate, Document, Role
from storage.types import utcnow
from workflow.accounts import access
from workflow.documents import drafts, presenters, recipients, route_templates
from workflow.documents import usecases as service
from workflow.documents.intake import original_file
from workflow.documents.page import PAGE_LOAD, ActionForm, EmptyForm, SignForm, render_detail
from workflow.documents.states import DocState, StageAction
from workflow.errors import WorkflowError
from workflow.http import current_actor
from workflow.i18n import translate
from workflow.registry import incoming_queries
from workflow.services import get_services, get_session
from workflow.signatures import flow as signing_flow
from workflow.signatures.certificates import expiry_warning
from workflow.uploads import send_blob, stage_upload, stage_uploads
from workflow.vocab import DOC_TYPES, STATE_LABELS

bp = Blueprint("documents", __name__)


class UploadForm(FlaskForm):
    """Upload a PDF as a new document."""

    subject = StringField("Trích yếu nội dung", validators=[DataRequired(), Length(max=1000)])
    doc_type = SelectField("Loại văn bản", choices=[], default="CV")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The names of the types in the page's language; the codes are the official ones.
        self.doc_type.choices = [SelectChoice(k, f"{_(v)} ({k})") for k, v in DOC_TYPES.items()]


@bp.route("/")
@login_required
def home() -> Any:
    """Inbox: my open tasks and the documents I am party to."""
    actor = current_actor()
    db = get_session()
    tasks = service.open_tasks(db, actor)
    docs = db.scalars(
        access.visible_documents(actor).order_by(Document.updated_at.desc()).limit(50)
    ).all()
    certs = db.scalars(
        select(Certificate).where(
            Certificate.user_id == actor.id,
            Certificate.status == "active",
            Certificate.purpose == "personal",
        )
    ).all()
    # A document returned for revision is the drafter's work to do, though no task says so.
    to_revise = db.scalars(
        select(Document)
        .where(Document.created_by_id == actor.id, Document.state == DocState.RETURNED)
        .order_by(Document.updated_at)
    ).all()
    now = utcnow()
    sign_tasks = [t for t in tasks if t.action == StageAction.SIGN]
    return render_template(
        "documents/home.html",
        cert_warnings=[w for w in (expiry_warning(c, now) for c in certs) if w],
        actor=actor,
        tasks=tasks,
        overdue={t.id for t in tasks if t.due_at is not None and t.due_at < now},
        bulk_sign=sign_tasks if len(sign_tasks) > 1 else [],
        to_revise=to_revise,
        returned={d.id: presenters.return_note(d) for d in to_revise},
        incoming_waiting=[
            (unit, count) for unit, count in incoming_queries.waiting_units(db, actor) if count
        ],
        now=now,
        documents=docs,
        state_labels={d.id: presenters.state_code_label(d, STATE_LABELS) for d in docs},
        can_draft=bool(actor.units_with(Role.DRAFTER)),
    )


@bp.route("/documents/new", methods=["GET", "POST"])
@login_required
def new() -> Any:
    """Upload a PDF, then (by default) submit it on the default route."""
    form = UploadForm()
    if request.method == "POST":
        if not form.validate_on_submit():
            return _new_page(form, 400)
        try:
            db = get_session()
            actor = current_actor()
            plan = recipients.from_form(db, request.form)  # before the file: nothing stored
            staged, filename = stage_upload()
            extras = stage_uploads("appendices")
            doc = service.create_document(
                db,
                get_services().blobs,
                actor,
                staged=staged,
                filename=filename,
                subject=form.subject.data or "",
                doc_type=form.doc_type.data or "",
                route_code=request.form.get("route") or None,
                urgency=request.form.get("urgency") or None,
                plan=plan,
                appendices=extras,
            )
            if request.form.get("submit_now"):
                service.submit(db, actor, doc.id)
            db.commit()
        except WorkflowError as exc:
            file_error = _file_error(exc)
            if file_error is None:
                flash(translate(exc.message), "error")
            return _new_page(form, exc.status, file_error)
        flash(
            _("Đã tải lên văn bản. Văn bản đã được trình.")
            if doc.submitted_at
            else _("Đã tải lên văn bản."),
            "ok",
        )
        return redirect(url_for("documents.detail", document_id=doc.id))
    return _new_page(form)


_FILE_ERRORS = ("missing_file", "too_large", "bad_draft", "conversion_failed")


def _file_error(exc: WorkflowError) -> str | None:
    """The refusal of the uploaded file, said next to the file field with what to do (None:
    the refusal is about something else)."""
    if exc.code not in _FILE_ERRORS and not exc.code.startswith("pdf_"):
        return None
    if exc.code == "pdf_not_pdf":
        text = _("Tệp đã chọn không phải PDF, cũng không phải văn bản Word/OpenDocument.")
    else:
        text = translate(exc.message)
    if exc.code in ("missing_file", "too_large"):
        return str(text)
    return " ".join(
        (
            str(text),
            _(
                "Cách khắc phục: mở tệp bằng Word hoặc LibreOffice, chọn Lưu thành (Save As) "
                "với định dạng PDF, rồi chọn tệp PDF vừa lưu."
            ),
        )
    )


def _new_page(form: UploadForm, status: int = 200, file_error: str | None = None) -> Any:
    """The upload form; after a refusal, the recipients ticked and typed stay filled in and
    a refused file is explained next to its field."""
    posted = request.form if request.method == "POST" else None
    return render_template(
        "documents/new.html",
        form=form,
        file_error=file_error,
        routes=_routes(),
        recipient_groups=recipients.choices(get_session()),
        picked=set(posted.getlist("recipients")) if posted else set(),
        external_text=posted.get("external", "") if posted else "",
    ), status


def _routes() -> list[Any]:
    return [r for r in route_templates.list_routes(get_session()) if r.kind != "incoming"]


@bp.route("/documents/<int:document_id>")
@login_required
def detail(document_id: int) -> Any:
    """The document page: metadata, route, history, signatures, actions."""
    db = get_session()
    # The view is recorded in the transaction that checks access: a short one (SQLite's
    # write lock from its start, the chain head's row on PostgreSQL from the audit row
    # on, until the commit); the page is read after, in a transaction that locks nothing.
    begin_write(db)
    actor = current_actor()
    access.check_visible(db, actor, document_id)
    audit.append(
        db,
        AuditAction.VIEWED,
        actor_id=actor.id,
        object_type="document",
        object_id=document_id,
        details={"via": "web"},
    )
    db.commit()
    doc = access.get_visible_document(db, actor, document_id, PAGE_LOAD)
    return render_detail(doc, actor)


@bp.route("/documents/<int:document_id>/files/<int:file_id>")
@login_required
def file_download(document_id: int, file_id: int) -> Any:
    """Download the Word draft or an appendix as it was uploaded."""
    db = get_session()
    found = drafts.file_for_download(db, current_actor(), document_id, file_id)
    db.commit()
    name = secure_filename(found.filename) or f"tep-{found.id}"
    return send_blob(found.blob_sha256, name, mimetype=drafts.media_type(found.filename))


@bp.route("/documents/<int:document_id>/submit", methods=["POST"])
@login_required
def submit(document_id: int) -> Any:
    """Submit a draft on its route."""
    if not EmptyForm().validate_on_submit():
        return redirect(url_for("documents.detail", document_id=document_id))
    db = get_session()
    actor = current_actor()
    try:
        service.submit(db, actor, document_id)
        db.commit()
    except WorkflowError as exc:
        db.rollback()
        flash(translate(exc.message), "error")
        doc = access.get_visible_document(db, actor, document_id)
        return render_detail(doc, actor, exc.status)
    flash(_("Đã trình văn bản."), "ok")
    return redirect(url_for("documents.detail", document_id=document_id))


@bp.route("/tasks/<int:task_id>/approve", methods=["POST"])
@login_required
def approve(task_id: int) -> Any:
    """Approve a review step."""
    form = ActionForm()
    db = get_session()
    actor = current_actor()
    task = access.get_own_task(db, actor, task_id)
    document_id = task.document_id
    if not form.validate_on_submit():
        return render_detail(task.document, actor, 400, approve_form=form)
    try:
        service.approve(db, actor, task_id, form.comment.data, request.form.get("answer"))
        db.commit()
    except WorkflowError as exc:
        db.rollback()
        flash(translate(exc.message), "error")
        return render_detail(access.get_visible_document(db, actor, document_id), actor, exc.status)
    flash(_("Đã duyệt. Văn bản được chuyển sang bước tiếp theo."), "ok")
    return redirect(url_for("documents.home"))


@bp.route("/tasks/<int:task_id>/sign", methods=["POST"])
@login_required
def sign(task_id: int) -> Any:
    """Sign with the passphrase of the signing key."""
    form = SignForm()
    db = get_session()
    actor = current_actor()
    task = access.get_own_task(db, actor, task_id)
    document_id = task.document_id
    if not form.validate_on_submit():
        flash(_("Vui lòng nhập mật khẩu khóa ký số."), "error")
        return render_detail(task.document, actor, 400, sign_form=form)
    services = get_services()
    try:
        signing_flow.run(
            db,
            services.blobs,
            services.trust,
            actor,
            task_id,
            form.passphrase.data or "",
            key_max_failures=services.settings.key_max_failures,
            key_lock_seconds=services.settings.key_lock_seconds,
            level=services.settings.level_for,
            services=services.trust_services,
        )
    except WorkflowError as exc:
        db.rollback()
        flash(translate(exc.message), "error")
        return render_detail(access.get_visible_document(db, actor, document_id), actor, exc.status)
    flash(_("Đã ký số văn bản. Chữ ký đã được kiểm tra hợp lệ."), "ok")
    return redirect(url_for("documents.detail", document_id=document_id))


@bp.route("/documents/<int:document_id>/file")
@login_required
def download(document_id: int) -> Any:
    """Download the current PDF."""
    db = get_session()
    doc, rev = service.document_file(db, get_services().blobs, current_actor(), document_id)
    db.commit()
    name = secure_filename(rev.filename) or f"van-ban-{doc.id}.pdf"
    if not name.lower().endswith(".pdf"):
        name += ".pdf"
    if rev.kind == "signed" and not name.endswith("-signed.pdf"):
        name = name[:-4] + "-signed.pdf"
    return send_blob(rev.blob_sha256, name)


@bp.route("/documents/<int:document_id>/revisions/<int:number>/original")
@login_required
def original(document_id: int, number: int) -> Any:
    """Download the file as uploaded, kept beside a repaired or decrypted revision."""
    db = get_session()
    doc, rev = original_file(db, get_services().blobs, current_actor(), document_id, number)
    db.commit()
    name = secure_filename(rev.filename) or f"van-ban-{doc.id}.pdf"
    stem = name[:-4] if name.lower().endswith(".pdf") else name
    assert rev.original_sha256 is not None  # noqa: S101 - checked by original_file
    return send_blob(rev.original_sha256, f"{stem}-goc.pdf")
