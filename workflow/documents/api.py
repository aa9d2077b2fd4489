"""workflow: the documents' JSON API under /api/v1: upload, list, submit, read, download,
validate, tasks, approve, sign."""

from __future__ import annotations

from typing import Any

from flask import request
from werkzeug.utils import secure_filename

from storage import audit
from storage.audit import AuditAction
from storage.models import Document
from storage.types import utcnow
from workflow import http
from workflow.accounts import access
from workflow.documents import drafts, recipients
from workflow.documents import presenters as views
from workflow.documents import usecases as service
from workflow.documents.actions_api import create_classified
from workflow.documents.intake import converted_source
from workflow.http import api_blueprint
from workflow.schemas import documents as schemas
from workflow.schemas.base import parse, parse_form
from workflow.schemas.openapi import File, operation
from workflow.services import get_services, get_session
from workflow.signatures import flow as signing_flow
from workflow.uploads import send_blob, stage_upload, stage_uploads
from workflow.verification import reports

bp = api_blueprint("documents_api", __name__)


@bp.post("/documents")
@operation(
    form=schemas.DocumentUploadForm,
    body=schemas.ClassifiedRequest,
    responses={201: schemas.Document},
)
def create_document() -> Any:
    """Upload a PDF as a draft (multipart), or register a classified document as metadata
    only (``classification``, multipart or JSON; no file)."""
    if request.form.get("classification") or (
        request.is_json and "classification" in http.json_body()
    ):
        return create_classified()
    form = parse_form(schemas.DocumentUploadForm, request.form)
    db = get_session()
    plan = recipients.from_form(db, request.form)  # before the file: a refusal stores nothing
    staged, filename = stage_upload()
    extras = stage_uploads("appendices")
    doc = service.create_document(
        db,
        get_services().blobs,
        http.actor(),
        staged=staged,
        filename=filename,
        subject=form.subject or "",
        doc_type=form.doc_type or "",
        route_code=form.route or None,
        urgency=form.urgency or None,
        plan=plan,
        appendices=extras,
    )
    db.commit()
    return schemas.Document.of(doc, utcnow()).dump(), 201


@bp.get("/documents")
@operation(query=schemas.DocumentListQuery, responses={200: schemas.DocumentList})
def list_documents() -> Any:
    """The documents the caller is party to, newest first."""
    db = get_session()
    query = access.visible_documents(http.actor()).order_by(Document.updated_at.desc())
    state = request.args.get("state")
    if state:
        query = query.where(Document.state == state)
    limit = min(max(request.args.get("limit", 50, type=int) or 50, 1), 500)
    now = utcnow()
    documents = [schemas.Document.of(d, now) for d in db.scalars(query.limit(limit))]
    return schemas.DocumentList(documents=documents).dump()


@bp.post("/documents/<int:document_id>/submit")
@operation(responses={200: schemas.Document})
def submit(document_id: int) -> Any:
    """Put a draft on its route."""
    db = get_session()
    doc = service.submit(db, http.actor(), document_id)
    db.commit()
    return schemas.Document.of(doc, utcnow()).dump()


@bp.get("/documents/<int:document_id>")
@operation(responses={200: schemas.Document})
def get_document(document_id: int) -> Any:
    """Metadata, state and history of a document."""
    db = get_session()
    actor = http.actor()
    doc = access.get_visible_document(db, actor, document_id)
    audit.append(
        db,
        AuditAction.VIEWED,
        actor_id=actor.id,
        object_type="document",
        object_id=doc.id,
        details={"via": "api"},
    )
    db.commit()
    history = [
        schemas.HistoryEntry(
            seq=e.seq, at=e.at, actor=e.actor, action=e.action, label=e.label, details=e.details
        )
        for e in views.history(db, doc)
    ]
    return schemas.Document.of(doc, utcnow(), history).dump()


@bp.get("/documents/<int:document_id>/file")
@operation(responses={200: File(("application/pdf",), "the current PDF")})
def get_file(document_id: int) -> Any:
    """The current PDF of the document."""
    db = get_session()
    doc, rev = service.document_file(db, get_services().blobs, http.actor(), document_id)
    db.commit()
    name = secure_filename(rev.filename) or f"van-ban-{doc.id}.pdf"
    response = send_blob(rev.blob_sha256, name)
    response.headers["X-Content-SHA256"] = rev.blob_sha256
    return response


@bp.get("/documents/<int:document_id>/files")
@operation(responses={200: schemas.DocumentFiles})
def list_files(document_id: int) -> Any:
    """The document's source draft (when converted) and its appendices."""
    found = drafts.files_of(get_session(), http.actor(), document_id)
    return schemas.DocumentFiles(
        files=[
            schemas.DocumentFile(
                id=f.id,
                role=f.role,
                position=f.position,
                filename=f.filename,
                sha256=f.blob_sha256,
                pdf_sha256=f.pdf_sha256,
                first_page=f.first_page,
                pages=f.pages,
            )
            for f in found
        ]
    ).dump()


@bp.get("/documents/<int:document_id>/files/<int:file_id>")
@operation(responses={200: File(tuple(drafts.MEDIA_TYPES.values()), "the file as uploaded")})
def get_document_file(document_id: int, file_id: int) -> Any:
    """One file of the document, as it was uploaded (a .docx, an appendix's PDF)."""
    db = get_session()
    found = drafts.file_for_download(db, http.actor(), document_id, file_id)
    db.commit()
    name = secure_filename(found.filename) or f"tep-{found.id}"
    return send_blob(found.blob_sha256, name, mimetype=drafts.media_type(found.filename))


@bp.get("/documents/<int:document_id>/validation")
@operation(responses={200: schemas.DocumentValidation})
def validation(document_id: int) -> Any:
    """Validation of every signature in the current PDF, and an overall verdict."""
    db = get_session()
    services = get_services()
    actor = http.actor()
    doc = access.get_visible_document(db, actor, document_id)
    service.require_content(doc)
    report = reports.report_of(services, db, doc.current_revision.blob_sha256)
    audit.append(
        db,
        AuditAction.VALIDATED,
        actor_id=actor.id,
        object_type="document",
        object_id=doc.id,
        details={"verdict": report.verdict, "revision": doc.current_revision.number},
    )
    db.commit()
    return schemas.DocumentValidation.of_document(
        report, doc.id, doc.current_revision.number, converted_source(doc)
    ).dump()


@bp.get("/tasks")
@operation(responses={200: schemas.TaskList})
def tasks() -> Any:
    """The caller's open tasks."""
    items = service.open_tasks(get_session(), http.actor())
    now = utcnow()
    return schemas.TaskList(tasks=[schemas.Task.of(t, now) for t in items]).dump()


@bp.post("/tasks/<int:task_id>/approve")
@operation(body=schemas.ApproveRequest, responses={200: schemas.TaskAndDocument})
def approve(task_id: int) -> Any:
    """Approve a step (optional comment); a consultation also needs ``answer``."""
    body = parse(schemas.ApproveRequest, http.json_body())
    db = get_session()
    task = service.approve(db, http.actor(), task_id, body.comment, body.answer)
    db.commit()
    return schemas.TaskAndDocument.of(task, utcnow()).dump()


@bp.post("/tasks/<int:task_id>/sign")
@operation(body=schemas.SignRequest, responses={200: schemas.SignOutcome}, errors=(429,))
def sign(task_id: int) -> Any:
    """Sign the document of a signing task with the key's passphrase (PAdES, visible
    stamp)."""
    passphrase = parse(schemas.SignRequest, http.json_body()).passphrase
    db = get_session()
    services = get_services()
    outcome = signing_flow.run(
        db,
        services.blobs,
        services.trust,
        http.actor(),
        task_id,
        passphrase,
        key_max_failures=services.settings.key_max_failures,
        key_lock_seconds=services.settings.key_lock_seconds,
        level=services.settings.level_for,
        services=services.trust_services,
    )
    return schemas.SignOutcome.of(outcome, utcnow()).dump()
