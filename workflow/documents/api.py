"""workflow: the JSON API under /api/v1 (blueprint; bearer tokens, problem+json)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, g, jsonify, request, send_file
from werkzeug.utils import secure_filename

from storage import audit
from storage.audit import AuditAction
from storage.models import Document, User
from workflow.accounts import access
from workflow.accounts import service as accounts
from workflow.documents import recipients
from workflow.documents import usecases as service
from workflow.signatures import flow as signing_flow
from workflow.documents import presenters as views
from workflow.errors import AuthenticationError, InvalidInputError, LockedError, WorkflowError
from workflow.openapi import openapi_document
from workflow.services import get_services, get_session
from workflow.uploads import stage_upload
from workflow.vocab import vn_iso

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
def token() -> Any:
    """Exchange a username and password for a bearer token."""
    body = _json_body()
    username, password = body.get("username"), body.get("password")
    if not isinstance(username, str) or not isinstance(password, str):
        raise InvalidInputError("Cần 'username' và 'password' (chuỗi).")
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
    return jsonify({"token": value, "token_type": "Bearer", "expires_at": vn_iso(expires)})


@bp.get("/openapi.json")
def openapi() -> Any:
    """The OpenAPI 3.1 description of this API."""
    rules = []
    for rule in current_app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/") or rule.endpoint == "static":
            continue
        path = rule.rule[len("/api/v1") :]
        for arg in rule.arguments:
            path = path.replace(f"<int:{arg}>", "{" + arg + "}").replace(
                f"<{arg}>", "{" + arg + "}"
            )
        view = current_app.view_functions[rule.endpoint]
        summary = (view.__doc__ or "").strip().splitlines()[0] if view.__doc__ else ""
        rules.append((path, set(rule.methods or ()) - {"HEAD", "OPTIONS"}, summary))
    return jsonify(openapi_document(rules))


@bp.get("/me")
def me() -> Any:
    """The caller and their roles."""
    user = _actor()
    return jsonify(
        {
            "id": user.id,
            "username": user.username,
            "full_name": user.full_name,
            "title": user.title,
            "roles": [{"role": r.role, "unit": r.unit.code} for r in user.roles],
        }
    )


@bp.post("/documents")
def create_document() -> Any:
    """Upload a PDF (multipart: file, subject, doc_type, route, urgency, recipients,
    external) as a draft, or register a classified document as metadata only."""
    if request.form.get("classification") or (request.is_json and "classification" in _json_body()):
        from workflow.documents.actions_api import create_classified

        return create_classified()
    db = get_session()
    plan = recipients.from_form(db, request.form)  # before the file: a refusal stores nothing
    staged, filename = stage_upload()
    doc = service.create_document(
        db,
        get_services().blobs,
        _actor(),
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
    query = access.visible_documents(_actor()).order_by(Document.updated_at.desc())
    state = request.args.get("state")
    if state:
        query = query.where(Document.state == state)
    limit = min(max(request.args.get("limit", 50, type=int) or 50, 1), 500)
    return jsonify({"documents": [views.document_json(d) for d in db.scalars(query.limit(limit))]})


@bp.post("/documents/<int:document_id>/submit")
def submit(document_id: int) -> Any:
    """Put a draft on its route."""
    db = get_session()
    doc = service.submit(db, _actor(), document_id)
    db.commit()
    return jsonify(views.document_json(doc))


@bp.get("/documents/<int:document_id>")
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
    return jsonify(views.document_json(doc, views.history(db, doc)))


@bp.get("/documents/<int:document_id>/file")
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
    body = views.validation_json(report)
    body["document_id"] = doc.id
    body["revision"] = doc.current_revision.number
    return jsonify(body)


@bp.get("/tasks")
def tasks() -> Any:
    """The caller's open tasks."""
    items = service.open_tasks(get_session(), _actor())
    return jsonify({"tasks": [views.task_json(t) for t in items]})


@bp.post("/tasks/<int:task_id>/approve")
def approve(task_id: int) -> Any:
    """Approve a step (optional comment); a consultation also needs ``answer``."""
    body = _json_body()
    comment, answer = body.get("comment"), body.get("answer")
    if comment is not None and not isinstance(comment, str):
        raise InvalidInputError("'comment' phải là chuỗi.")
    if answer is not None and not isinstance(answer, str):
        raise InvalidInputError("'answer' phải là chuỗi.")
    db = get_session()
    task = service.approve(db, _actor(), task_id, comment, answer)
    db.commit()
    return jsonify({"task": views.task_json(task), "document": views.document_json(task.document)})


@bp.post("/tasks/<int:task_id>/sign")
def sign(task_id: int) -> Any:
    """Sign the document of a signing task with the key's passphrase."""
    body = _json_body()
    passphrase = body.get("passphrase")
    if not isinstance(passphrase, str) or not passphrase:
        raise InvalidInputError("Cần 'passphrase': mật khẩu của khóa ký số.")
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
