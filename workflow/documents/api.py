"""workflow: the documents' JSON API under /api/v1: upload, list, submit, read, download,
validate, tasks, approve, sign."""

from __future__ import annotations

from typing import Any

from flask import jsonify, request
from werkzeug.utils import secure_filename

from storage import audit
from storage.audit import AuditAction
from storage.models import Document
from workflow import http
from workflow.accounts import access
from workflow.documents import presenters as views
from workflow.documents import recipients
from workflow.documents import usecases as service
from workflow.documents.actions_api import create_classified
from workflow.errors import InvalidInputError
from workflow.http import api_blueprint
from workflow.services import get_services, get_session
from workflow.signatures import flow as signing_flow
from workflow.uploads import send_blob, stage_upload
from workflow.vocab import vn_iso

bp = api_blueprint("documents_api", __name__)


@bp.post("/documents")
def create_document() -> Any:
    """Upload a PDF (multipart: file, subject, doc_type, route, urgency, recipients,
    external) as a draft, or register a classified document as metadata only."""
    if request.form.get("classification") or (
        request.is_json and "classification" in http.json_body()
    ):
        return create_classified()
    db = get_session()
    plan = recipients.from_form(db, request.form)  # before the file: a refusal stores nothing
    staged, filename = stage_upload()
    doc = service.create_document(
        db,
        get_services().blobs,
        http.actor(),
        staged=staged,
        filename=filename,
        subject=request.form.get("subject", ""),
        doc_type=request.form.get("doc_type", ""),
        route_code=request.form.get("route") or None,
        urgency=request.form.get("urgency") or None,
        plan=plan,
    )
    db.commit()
    return jsonify(views.document_json(doc)), 201


@bp.get("/documents")
def list_documents() -> Any:
    """The documents the caller is party to, newest first."""
    db = get_session()
    query = access.visible_documents(http.actor()).order_by(Document.updated_at.desc())
    state = request.args.get("state")
    if state:
        query = query.where(Document.state == state)
    limit = min(max(request.args.get("limit", 50, type=int) or 50, 1), 500)
    return jsonify({"documents": [views.document_json(d) for d in db.scalars(query.limit(limit))]})


@bp.post("/documents/<int:document_id>/submit")
def submit(document_id: int) -> Any:
    """Put a draft on its route."""
    db = get_session()
    doc = service.submit(db, http.actor(), document_id)
    db.commit()
    return jsonify(views.document_json(doc))


@bp.get("/documents/<int:document_id>")
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
    return jsonify(views.document_json(doc, views.history(db, doc)))


@bp.get("/documents/<int:document_id>/file")
def get_file(document_id: int) -> Any:
    """The current PDF of the document."""
    db = get_session()
    doc, rev = service.document_file(db, get_services().blobs, http.actor(), document_id)
    db.commit()
    name = secure_filename(rev.filename) or f"van-ban-{doc.id}.pdf"
    response = send_blob(rev.blob_sha256, name)
    response.headers["X-Content-SHA256"] = rev.blob_sha256
    return response


@bp.get("/documents/<int:document_id>/validation")
def validation(document_id: int) -> Any:
    """Validation of every signature in the current PDF, and an overall verdict."""
    db = get_session()
    services = get_services()
    actor = http.actor()
    doc = access.get_visible_document(db, actor, document_id)
    report = service.validate_document(
        services.blobs, services.trust, doc, services.trust_services.revocation_source()
    )
    audit.append(
        db,
        AuditAction.VALIDATED,
        actor_id=actor.id,
        object_type="document",
        object_id=doc.id,
        details={"verdict": report.verdict, "revision": doc.current_revision.number},
    )
    db.commit()
    body = views.validation_json(report)
    body["document_id"] = doc.id
    body["revision"] = doc.current_revision.number
    return jsonify(body)


@bp.get("/tasks")
def tasks() -> Any:
    """The caller's open tasks."""
    items = service.open_tasks(get_session(), http.actor())
    return jsonify({"tasks": [views.task_json(t) for t in items]})


@bp.post("/tasks/<int:task_id>/approve")
def approve(task_id: int) -> Any:
    """Approve a step (optional comment); a consultation also needs ``answer``."""
    body = http.json_body()
    comment, answer = body.get("comment"), body.get("answer")
    if comment is not None and not isinstance(comment, str):
        raise InvalidInputError("'comment' phải là chuỗi.")
    if answer is not None and not isinstance(answer, str):
        raise InvalidInputError("'answer' phải là chuỗi.")
    db = get_session()
    task = service.approve(db, http.actor(), task_id, comment, answer)
    db.commit()
    return jsonify({"task": views.task_json(task), "document": views.document_json(task.document)})


@bp.post("/tasks/<int:task_id>/sign")
def sign(task_id: int) -> Any:
    """Sign the document of a signing task with the key's passphrase."""
    body = http.json_body()
    passphrase = body.get("passphrase")
    if not isinstance(passphrase, str) or not passphrase:
        raise InvalidInputError("Cần 'passphrase': mật khẩu của khóa ký số.")
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
    return jsonify(
        {
            "task": views.task_json(outcome.task),
            "document": views.document_json(outcome.task.document),
            "signature": {
                "field": outcome.signature.field_name,
                "level": outcome.signature.pades_level,
                "revision": outcome.revision.number,
                "sha256": outcome.revision.blob_sha256,
                "signed_at": vn_iso(outcome.signature.signed_at),
            },
            "validation": views.validation_json(outcome.report),
        }
    )
