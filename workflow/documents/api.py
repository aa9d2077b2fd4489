"""workflow: the JSON API under /api/v1 (blueprint; bearer tokens, problem+json)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, g, jsonify, request, send_file
from werkzeug.utils import secure_filename

from storage import audit
from storage.audit import AuditAction
from storage.models import Document, User
from storage.types import utcnow
from workflow.accounts import access
from workflow.accounts import service as accounts
from workflow.documents import presenters as views
from workflow.documents import recipients
from workflow.documents import usecases as service
from workflow.errors import AuthenticationError, InvalidInputError, LockedError, WorkflowError
from workflow.schemas import accounts as account_schemas
from workflow.schemas import documents as schemas
from workflow.schemas.base import parse, parse_form
from workflow.schemas.openapi import File, openapi_document, operation
from workflow.services import get_services, get_session
from workflow.signatures import flow as signing_flow
from workflow.uploads import stage_upload

bp = Blueprint("api", __name__, url_prefix="/api/v1")

PUBLIC_ENDPOINTS = {"api.token", "api.openapi"}


@bp.before_request
def _authenticate() -> None:
    if request.endpoint in PUBLIC_ENDPOINTS:
        return
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationError(
            "Thiếu mã truy cập: gửi tiêu đề 'Authorization: Bearer <token>' "
            "lấy từ POST /api/v1/auth/token."
        )
    user = accounts.user_for_token(get_session(), token.strip())
    if user is None:
        raise AuthenticationError("Mã truy cập không hợp lệ hoặc đã hết hạn; hãy lấy mã mới.")
    g.api_user = user


def _actor() -> User:
    user: User = g.api_user
    return user


def _json_body() -> dict[str, Any]:
    if not request.data:
        return {}
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InvalidInputError("Nội dung yêu cầu phải là một đối tượng JSON.")
    return body


@bp.post("/auth/token")
@operation(
    body=account_schemas.TokenRequest,
    responses={200: account_schemas.Token},
    public=True,
    errors=(429,),
)
def token() -> Any:
    """Exchange a username and password for a bearer token."""
    body = parse(account_schemas.TokenRequest, _json_body())
    username, password = body.username, body.password
    services = get_services()
    db = get_session()
    result = accounts.authenticate(
        db,
        services.hasher,
        username,
        password,
        max_failures=services.settings.login_max_failures,
        lock_seconds=services.settings.login_lock_seconds,
        via="api",
    )
    if result.user is None:
        db.commit()
        if result.locked:
            raise LockedError(result.error or "")
        raise AuthenticationError(result.error or accounts.BAD_CREDENTIALS)
    value, expires = accounts.issue_token(db, result.user, services.settings.token_ttl_seconds)
    db.commit()
    return account_schemas.Token.of(value, expires).dump()


@bp.get("/openapi.json")
@operation(responses={200: File(("application/json",), "this document")}, public=True)
def openapi() -> Any:
    """The OpenAPI 3.1 description of this API."""
    return jsonify(openapi_document(current_app))


@bp.get("/me")
@operation(responses={200: account_schemas.Me})
def me() -> Any:
    """The caller and their roles."""
    return account_schemas.Me.of(_actor()).dump()


@bp.post("/documents")
@operation(
    form=schemas.DocumentUploadForm,
    body=schemas.ClassifiedRequest,
    responses={201: schemas.Document},
)
def create_document() -> Any:
    """Upload a PDF as a draft (multipart), or register a classified document as metadata
    only (``classification``, multipart or JSON; no file)."""
    if request.form.get("classification") or (request.is_json and "classification" in _json_body()):
        from workflow.documents.actions_api import create_classified

        return create_classified()
    form = parse_form(schemas.DocumentUploadForm, request.form)
    db = get_session()
    plan = recipients.from_form(db, request.form)  # before the file: a refusal stores nothing
    staged, filename = stage_upload()
    doc = service.create_document(
        db,
        get_services().blobs,
        _actor(),
        staged=staged,
        filename=filename,
        subject=form.subject or "",
        doc_type=form.doc_type or "",
        route_code=form.route or None,
        urgency=form.urgency or None,
        plan=plan,
    )
    db.commit()
    return schemas.Document.of(doc, utcnow()).dump(), 201


@bp.get("/documents")
@operation(query=schemas.DocumentListQuery, responses={200: schemas.DocumentList})
def list_documents() -> Any:
    """The documents the caller is party to, newest first."""
    db = get_session()
    query = access.visible_documents(_actor()).order_by(Document.updated_at.desc())
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
    doc = service.submit(db, _actor(), document_id)
    db.commit()
    return schemas.Document.of(doc, utcnow()).dump()


@bp.get("/documents/<int:document_id>")
@operation(responses={200: schemas.Document})
def get_document(document_id: int) -> Any:
    """Metadata, state and history of a document."""
    db = get_session()
    actor = _actor()
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
    doc, rev, path = service.document_file(db, get_services().blobs, _actor(), document_id)
    db.commit()
    name = secure_filename(rev.filename) or f"van-ban-{doc.id}.pdf"
    response = send_file(path, mimetype="application/pdf", as_attachment=True, download_name=name)
    response.headers["X-Content-SHA256"] = rev.blob_sha256
    return response


@bp.get("/documents/<int:document_id>/validation")
@operation(responses={200: schemas.DocumentValidation})
def validation(document_id: int) -> Any:
    """Validation of every signature in the current PDF, and an overall verdict."""
    db = get_session()
    services = get_services()
    actor = _actor()
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
    return schemas.DocumentValidation.of_document(
        report, doc.id, doc.current_revision.number
    ).dump()


@bp.get("/tasks")
@operation(responses={200: schemas.TaskList})
def tasks() -> Any:
    """The caller's open tasks."""
    items = service.open_tasks(get_session(), _actor())
    now = utcnow()
    return schemas.TaskList(tasks=[schemas.Task.of(t, now) for t in items]).dump()


@bp.post("/tasks/<int:task_id>/approve")
@operation(body=schemas.ApproveRequest, responses={200: schemas.TaskAndDocument})
def approve(task_id: int) -> Any:
    """Approve a step (optional comment); a consultation also needs ``answer``."""
    body = parse(schemas.ApproveRequest, _json_body())
    db = get_session()
    task = service.approve(db, _actor(), task_id, body.comment, body.answer)
    db.commit()
    return schemas.TaskAndDocument.of(task, utcnow()).dump()


@bp.post("/tasks/<int:task_id>/sign")
@operation(body=schemas.SignRequest, responses={200: schemas.SignOutcome}, errors=(429,))
def sign(task_id: int) -> Any:
    """Sign the document of a signing task with the key's passphrase (PAdES, visible
    stamp)."""
    passphrase = parse(schemas.SignRequest, _json_body()).passphrase
    db = get_session()
    services = get_services()
    outcome = signing_flow.run(
        db,
        services.blobs,
        services.trust,
        _actor(),
        task_id,
        passphrase,
        key_max_failures=services.settings.key_max_failures,
        key_lock_seconds=services.settings.key_lock_seconds,
        level=services.settings.level_for,
        services=services.trust_services,
    )
    return schemas.SignOutcome.of(outcome, utcnow()).dump()


@bp.errorhandler(WorkflowError)
def _on_error(exc: WorkflowError) -> Any:
    from workflow.app import log, problem

    if exc.status >= 500:
        log.error("API error %s: %s", exc.code, exc.message, exc_info=exc.__cause__)

    titles = {401: "Chưa xác thực", 403: "Không có quyền", 404: "Không tìm thấy", 409: "Xung đột"}
    response = problem(exc.status, titles.get(exc.status, "Lỗi"), exc.message, exc.code)
    if exc.status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="trinhky"'
    return response
