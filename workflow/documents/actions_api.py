"""workflow: JSON API for routes and the administrative actions (on the /api/v1 blueprint)."""

from __future__ import annotations

from typing import Any

from flask import request

from storage.types import utcnow
from workflow import http
from workflow.accounts import access
from workflow.coverage import ledger as coverage
from workflow.documents import actions, route_templates
from workflow.documents import presenters as views
from workflow.errors import InvalidInputError
from workflow.http import api_blueprint
from workflow.registry import issuance, publishing
from workflow.schemas import documents as schemas
from workflow.schemas.base import parse, parse_form
from workflow.schemas.openapi import operation
from workflow.services import get_services, get_session
from workflow.uploads import stage_upload

bp = api_blueprint("actions_api", __name__)


@bp.get("/routes")
@operation(query=schemas.RouteListQuery, responses={200: schemas.RouteList})
def list_routes() -> Any:
    """Route templates (newest version of each; ?all=1 for every version)."""
    routes = route_templates.list_routes(get_session(), bool(request.args.get("all")))
    return schemas.RouteList(routes=[schemas.RouteTemplate.of(r) for r in routes]).dump()


@bp.post("/routes")
@operation(body=schemas.RouteRequest, responses={201: schemas.RouteTemplate})
def save_route() -> Any:
    """Create a route template or a new version of one (administrators)."""
    body = parse(schemas.RouteRequest, http.json_body())
    db = get_session()
    route = route_templates.save_route(db, http.actor(), body.model_dump(exclude_none=True))
    db.commit()
    return schemas.RouteTemplate.of(route).dump(), 201


@bp.post("/tasks/<int:task_id>/return")
@operation(body=schemas.ReturnRequest, responses={200: schemas.TaskAndDocument})
def return_task(task_id: int) -> Any:
    """Return for revision to an earlier stage, with a comment."""
    body = parse(schemas.ReturnRequest, http.json_body())
    db = get_session()
    task = actions.return_for_revision(db, http.actor(), task_id, body.comment, body.to_stage)
    db.commit()
    return schemas.TaskAndDocument.of(task, utcnow()).dump()


@bp.post("/tasks/<int:task_id>/reject")
@operation(body=schemas.CommentRequest, responses={200: schemas.TaskAndDocument})
def reject_task(task_id: int) -> Any:
    """Reject: the route ends."""
    body = parse(schemas.CommentRequest, http.json_body())
    db = get_session()
    task = actions.reject(db, http.actor(), task_id, body.comment)
    db.commit()
    return schemas.TaskAndDocument.of(task, utcnow()).dump()


@bp.post("/tasks/<int:task_id>/delegate")
@operation(body=schemas.DelegateTaskRequest, responses={201: schemas.TaskOnly})
def delegate_task(task_id: int) -> Any:
    """Delegate the task to a named person until a time (never sub-delegated)."""
    body = parse(schemas.DelegateTaskRequest, http.json_body())
    db = get_session()
    task = actions.delegate_task(db, http.actor(), task_id, body.to, body.until, body.reason)
    db.commit()
    return schemas.TaskOnly.of(task, utcnow()).dump(), 201


@bp.post("/tasks/<int:task_id>/reassign")
@operation(body=schemas.ReassignRequest, responses={201: schemas.TaskOnly})
def reassign_task(task_id: int) -> Any:
    """Give an open task to someone else (administrators)."""
    body = parse(schemas.ReassignRequest, http.json_body())
    db = get_session()
    task = actions.reassign(db, http.actor(), task_id, body.to)
    db.commit()
    return schemas.TaskOnly.of(task, utcnow()).dump(), 201


@bp.post("/tasks/<int:task_id>/issue")
@operation(body=schemas.IssueRequest, responses={200: schemas.Issued})
def issue_task(task_id: int) -> Any:
    """The clerk issues: number, date and the organisation's seal signature; with
    `{"public": true}` the document is also published on the public portal."""
    body = parse(schemas.IssueRequest, http.json_body())
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
        public=body.public,
    )
    db.commit()
    return schemas.Issued(
        number=issued.number,
        symbol=issued.symbol,
        issued_at=issued.issued_at,
        document=schemas.Document.of(issued.document, utcnow()),
    ).dump()


@bp.post("/documents/<int:document_id>/publish")
@operation(body=schemas.PublishRequest, responses={200: schemas.Document}, errors=(409,))
def publish(document_id: int) -> Any:
    """Publish an issued document on the public portal (`{"public": true}`) or take it
    down (`false`): a clerk or signer of the issuing unit, or an administrator; never a
    classified or recalled document. Audited."""
    body = parse(schemas.PublishRequest, http.json_body())
    db = get_session()
    doc = publishing.publish(db, http.actor(), document_id, body.public)
    db.commit()
    return schemas.Document.of(doc, utcnow()).dump()


@bp.post("/documents/<int:document_id>/withdraw")
@operation(responses={200: schemas.Document})
def withdraw(document_id: int) -> Any:
    """The drafter takes the document back before anyone acted."""
    db = get_session()
    doc = actions.withdraw(db, http.actor(), document_id)
    db.commit()
    return schemas.Document.of(doc, utcnow()).dump()


@bp.post("/documents/<int:document_id>/recall")
@operation(body=schemas.RecallRequest, responses={200: schemas.Document})
def recall(document_id: int) -> Any:
    """Thu hồi an issued document (freezes it; recipients are told)."""
    body = parse(schemas.RecallRequest, http.json_body())
    db = get_session()
    doc = issuance.recall(db, http.actor(), document_id, body.reason)
    db.commit()
    return schemas.Document.of(doc, utcnow()).dump()


@bp.post("/documents/<int:document_id>/revisions")
@operation(form=schemas.RevisionForm, responses={201: schemas.RevisionCreated})
def upload_revision(document_id: int) -> Any:
    """A revised PDF from the drafter (after a return); earlier revisions stay."""
    staged, filename = stage_upload()
    db = get_session()
    rev = actions.upload_revision(
        db, get_services().blobs, http.actor(), document_id, staged, filename
    )
    db.commit()
    return schemas.RevisionCreated(
        number=rev.number, sha256=rev.blob_sha256, size=rev.size
    ).dump(), 201


@bp.get("/documents/<int:document_id>/comments")
@operation(responses={200: schemas.CommentList})
def list_comments(document_id: int) -> Any:
    """Comments on a document."""
    db = get_session()
    doc = access.get_visible_document(db, http.actor(), document_id)
    comments = [schemas.Comment.of(c) for c in views.comments_of(db, doc)]
    return schemas.CommentList(comments=comments).dump()


@bp.post("/documents/<int:document_id>/comments")
@operation(body=schemas.NewComment, responses={201: schemas.CommentCreated})
def add_comment(document_id: int) -> Any:
    """Comment at any time."""
    body = parse(schemas.NewComment, http.json_body())
    db = get_session()
    comment = actions.add_comment(db, http.actor(), document_id, body.body)
    db.commit()
    return schemas.CommentCreated(
        id=comment.id, body=comment.body, created_at=comment.created_at
    ).dump(), 201


@bp.post("/delegations")
@operation(body=schemas.DelegationRequest, responses={201: schemas.Delegation})
def create_delegation() -> Any:
    """A standing delegation for a period and a scope."""
    body = parse(schemas.DelegationRequest, http.json_body())
    db = get_session()
    delegation = actions.create_delegation(
        db,
        http.actor(),
        body.to,
        body.starts,
        body.until,
        body.actions,
        body.doc_types,
        body.reason,
    )
    db.commit()
    answer = {
        "id": delegation.id,
        "to": body.to,
        "from": delegation.starts_at,
        "until": delegation.ends_at,
    }
    return schemas.Delegation.model_validate(answer).dump(), 201


@bp.get("/notifications")
@operation(responses={200: schemas.NotificationList})
def notifications() -> Any:
    """The caller's latest in-app notifications."""
    rows = views.latest_notifications(get_session(), http.actor())
    return schemas.NotificationList(notifications=[schemas.Notification.of(n) for n in rows]).dump()


def create_classified() -> Any:
    """POST /documents with ``classification``: a metadata-only entry (no content)."""
    if request.files.get("file") is not None and request.files["file"].filename:
        raise InvalidInputError(
            "Văn bản mật (Mật, Tối mật, Tuyệt mật) không được tải nội dung lên hệ thống: "
            "chỉ đăng ký số, ngày và độ mật; văn bản được xử lý ngoài mạng.",
            code="classified_content",
        )
    if request.form:
        form = parse_form(schemas.ClassifiedRequest, request.form)
    else:
        form = parse(schemas.ClassifiedRequest, http.json_body())
    db = get_session()
    doc = issuance.register_classified(
        db,
        http.actor(),
        classification=form.classification,
        doc_type=form.doc_type or "",
        subject=form.subject,
        urgency=form.urgency,
    )
    services = get_services()
    coverage.record_document(db, services.blobs, services.trust, doc, now=utcnow())
    db.commit()
    return schemas.Document.of(doc, utcnow()).dump(), 201
