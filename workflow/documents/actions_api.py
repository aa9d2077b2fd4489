"""workflow: JSON API for routes and the administrative actions (on the /api/v1 blueprint)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import jsonify, request

from storage.types import utcnow
from workflow import http
from workflow.accounts import access
from workflow.coverage import ledger as coverage
from workflow.documents import actions, route_templates
from workflow.documents import presenters as views
from workflow.errors import InvalidInputError
from workflow.http import api_blueprint
from workflow.registry import issuance
from workflow.services import get_services, get_session
from workflow.uploads import stage_upload
from workflow.vocab import VN_TZ, vn_iso

bp = api_blueprint("actions_api", __name__)


def _text(body: dict[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is not None and not isinstance(value, str):
        raise InvalidInputError(f"'{key}' phải là chuỗi.")
    return value


def _when(value: Any, key: str) -> datetime:
    if not isinstance(value, str):
        raise InvalidInputError(
            f"'{key}' phải là thời điểm ISO 8601, ví dụ 2026-12-01T17:00:00+07:00."
        )
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise InvalidInputError(f"'{key}' không phải thời điểm ISO 8601 hợp lệ.") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=VN_TZ)


@bp.get("/routes")
def list_routes() -> Any:
    """Route templates (newest version of each; ?all=1 for every version)."""
    routes = route_templates.list_routes(get_session(), bool(request.args.get("all")))
    return jsonify({"routes": [route_templates.route_json(r) for r in routes]})


@bp.post("/routes")
def save_route() -> Any:
    """Create a route template or a new version of one (administrators)."""
    db = get_session()
    route = route_templates.save_route(db, http.actor(), http.json_body())
    db.commit()
    return jsonify(route_templates.route_json(route)), 201


def _task_response(task: Any) -> Any:
    return jsonify({"task": views.task_json(task), "document": views.document_json(task.document)})


@bp.post("/tasks/<int:task_id>/return")
def return_task(task_id: int) -> Any:
    """Return for revision to an earlier stage, with a comment."""
    body = http.json_body()
    to_stage = body.get("to_stage")
    if to_stage is not None and (not isinstance(to_stage, int) or isinstance(to_stage, bool)):
        raise InvalidInputError("'to_stage' phải là số thứ tự của một bước trước đó.")
    db = get_session()
    task = actions.return_for_revision(db, http.actor(), task_id, _text(body, "comment"), to_stage)
    db.commit()
    return _task_response(task)


@bp.post("/tasks/<int:task_id>/reject")
def reject_task(task_id: int) -> Any:
    """Reject: the route ends."""
    db = get_session()
    task = actions.reject(db, http.actor(), task_id, _text(http.json_body(), "comment"))
    db.commit()
    return _task_response(task)


@bp.post("/tasks/<int:task_id>/delegate")
def delegate_task(task_id: int) -> Any:
    """Delegate the task to a named person until a time (never sub-delegated)."""
    body = http.json_body()
    to = body.get("to") or body.get("to_user") or body.get("username")
    if not isinstance(to, str):
        raise InvalidInputError("Cần 'to': tên đăng nhập của người nhận ủy quyền.")
    db = get_session()
    task = actions.delegate_task(
        db, http.actor(), task_id, to, _when(body.get("until"), "until"), _text(body, "reason")
    )
    db.commit()
    return jsonify({"task": views.task_json(task)}), 201


@bp.post("/tasks/<int:task_id>/reassign")
def reassign_task(task_id: int) -> Any:
    """Give an open task to someone else (administrators)."""
    body = http.json_body()
    to = body.get("to")
    if not isinstance(to, str):
        raise InvalidInputError("Cần 'to': tên đăng nhập của người được giao.")
    db = get_session()
    task = actions.reassign(db, http.actor(), task_id, to)
    db.commit()
    return jsonify({"task": views.task_json(task)}), 201


@bp.post("/tasks/<int:task_id>/issue")
def issue_task(task_id: int) -> Any:
    """The clerk issues: number, date and the organisation's seal signature."""
    db = get_session()
    services = get_services()
    issued = issuance.issue(
        db,
        services.blobs,
        services.trust,
        http.actor(),
        task_id,
        services.seal_passphrase,
        level=services.settings.level_for,
        services=services.trust_services,
        seal_token=services.settings.seal_pkcs11,
        base_url=services.settings.public_url or request.host_url,
    )
    db.commit()
    return jsonify(
        {
            "number": issued.number,
            "symbol": issued.symbol,
            "issued_at": vn_iso(issued.issued_at),
            "document": views.document_json(issued.document),
        }
    )


@bp.post("/documents/<int:document_id>/withdraw")
def withdraw(document_id: int) -> Any:
    """The drafter takes the document back before anyone acted."""
    db = get_session()
    doc = actions.withdraw(db, http.actor(), document_id)
    db.commit()
    return jsonify(views.document_json(doc))


@bp.post("/documents/<int:document_id>/recall")
def recall(document_id: int) -> Any:
    """Thu hồi an issued document (freezes it; recipients are told)."""
    db = get_session()
    doc = issuance.recall(db, http.actor(), document_id, _text(http.json_body(), "reason"))
    db.commit()
    return jsonify(views.document_json(doc))


@bp.post("/documents/<int:document_id>/revisions")
def upload_revision(document_id: int) -> Any:
    """A revised PDF from the drafter (after a return); earlier revisions stay."""
    staged, filename = stage_upload()
    db = get_session()
    rev = actions.upload_revision(
        db, get_services().blobs, http.actor(), document_id, staged, filename
    )
    db.commit()
    return jsonify({"number": rev.number, "sha256": rev.blob_sha256, "size": rev.size}), 201


@bp.get("/documents/<int:document_id>/comments")
def list_comments(document_id: int) -> Any:
    """Comments on a document."""
    db = get_session()
    doc = access.get_visible_document(db, http.actor(), document_id)
    return jsonify({"comments": views.comments_json(db, doc)})


@bp.post("/documents/<int:document_id>/comments")
def add_comment(document_id: int) -> Any:
    """Comment at any time."""
    db = get_session()
    comment = actions.add_comment(db, http.actor(), document_id, _text(http.json_body(), "body"))
    db.commit()
    return jsonify(
        {"id": comment.id, "body": comment.body, "created_at": vn_iso(comment.created_at)}
    ), 201


@bp.post("/delegations")
def create_delegation() -> Any:
    """A standing delegation for a period and a scope."""
    body = http.json_body()
    to = body.get("to")
    if not isinstance(to, str):
        raise InvalidInputError("Cần 'to': tên đăng nhập của người nhận ủy quyền.")
    acts, types = body.get("actions"), body.get("doc_types")
    for key, value in (("actions", acts), ("doc_types", types)):
        if value is not None and (
            not isinstance(value, list) or not all(isinstance(v, str) for v in value)
        ):
            raise InvalidInputError(f"'{key}' phải là danh sách chuỗi.")
    db = get_session()
    delegation = actions.create_delegation(
        db,
        http.actor(),
        to,
        _when(body.get("from"), "from"),
        _when(body.get("until"), "until"),
        acts,
        types,
        _text(body, "reason"),
    )
    db.commit()
    return jsonify(
        {
            "id": delegation.id,
            "to": to,
            "from": vn_iso(delegation.starts_at),
            "until": vn_iso(delegation.ends_at),
        }
    ), 201


@bp.get("/notifications")
def notifications() -> Any:
    """The caller's latest in-app notifications."""
    return jsonify({"notifications": views.notifications_json(get_session(), http.actor())})


def create_classified() -> Any:
    """POST /documents with ``classification``: a metadata-only entry (no content)."""
    if request.files.get("file") is not None and request.files["file"].filename:
        raise InvalidInputError(
            "Văn bản mật (Mật, Tối mật, Tuyệt mật) không được tải nội dung lên hệ thống: "
            "chỉ đăng ký số, ngày và độ mật; văn bản được xử lý ngoài mạng.",
            code="classified_content",
        )
    form = request.form if request.form else http.json_body()
    db = get_session()
    doc = issuance.register_classified(
        db,
        http.actor(),
        classification=str(form.get("classification")),
        doc_type=str(form.get("doc_type") or ""),
        subject=form.get("subject"),
        urgency=form.get("urgency"),
    )
    services = get_services()
    coverage.record_document(db, services.blobs, services.trust, doc, now=utcnow())
    db.commit()
    return jsonify(views.document_json(doc)), 201
