"""workflow: web actions beside approve/sign: return, reject, delegate, issue, withdraw,
comment, revision, recall; classified registration; route templates (blueprint)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required
from sqlalchemy import select

from storage.models import Role, Task, Unit, User
from storage.types import utcnow
from workflow.accounts import access
from workflow.coverage import ledger as coverage
from workflow.documents import actions, route_templates
from workflow.documents.page import render_detail
from workflow.errors import InvalidInputError, WorkflowError
from workflow.http import current_actor
from workflow.i18n import N_, translate
from workflow.registry import issuance, publishing
from workflow.services import get_services, get_session
from workflow.uploads import stage_upload
from workflow.vocab import VN_TZ

bp = Blueprint("tasks", __name__)


def _document_of_task(task_id: int) -> int:
    task = get_session().get(Task, task_id)
    return task.document_id if task is not None else 0


def _perform(document_id: int, action: Callable[[], Any], done: str, to_home: bool = False) -> Any:
    """Run one use-case, commit, redirect; on a refusal show the page with the reason."""
    db = get_session()
    actor = current_actor()
    try:
        action()
        db.commit()
    except WorkflowError as exc:
        db.rollback()
        flash(translate(exc.message), "error")
        if not document_id:
            return render_template(
                "errors/error.html",
                status=exc.status,
                title=N_("Không thực hiện được"),
                message=translate(exc.message),
            ), exc.status
        doc = access.get_visible_document(db, actor, document_id)
        return render_detail(doc, actor, exc.status)
    flash(done, "ok")
    if to_home:
        return redirect(url_for("documents.home"))
    return redirect(url_for("documents.detail", document_id=document_id))


def _int_or_none(value: str | None) -> int | None:
    value = (value or "").strip()
    if not value:
        return None
    if not value.isdigit():
        raise InvalidInputError(_("Giá trị số không hợp lệ."))
    return int(value)


def _local_time(value: str | None, what: str) -> datetime:
    try:
        moment = datetime.fromisoformat((value or "").strip())
    except ValueError as exc:
        raise InvalidInputError(_("Chọn %(what)s hợp lệ (ngày và giờ).", what=what)) from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=VN_TZ)


@bp.post("/tasks/<int:task_id>/return")
@login_required
def return_task(task_id: int) -> Any:
    """Return for revision to an earlier stage."""
    db, actor = get_session(), current_actor()
    return _perform(
        _document_of_task(task_id),
        lambda: actions.return_for_revision(
            db,
            actor,
            task_id,
            request.form.get("comment"),
            _int_or_none(request.form.get("to_stage")),
        ),
        _("Đã trả lại văn bản cho người soạn thảo."),
        to_home=True,
    )


@bp.post("/tasks/<int:task_id>/reject")
@login_required
def reject_task(task_id: int) -> Any:
    """Reject: the route ends."""
    db, actor = get_session(), current_actor()
    return _perform(
        _document_of_task(task_id),
        lambda: actions.reject(db, actor, task_id, request.form.get("comment")),
        _("Đã từ chối văn bản."),
        to_home=True,
    )


@bp.post("/tasks/<int:task_id>/delegate")
@login_required
def delegate_task(task_id: int) -> Any:
    """Delegate the task to a named person until a time."""
    db, actor = get_session(), current_actor()
    return _perform(
        _document_of_task(task_id),
        lambda: actions.delegate_task(
            db,
            actor,
            task_id,
            request.form.get("to", ""),
            _local_time(request.form.get("until"), _("thời hạn ủy quyền")),
            request.form.get("reason"),
        ),
        _("Đã ủy quyền xử lý việc này."),
    )


@bp.post("/tasks/<int:task_id>/issue")
@login_required
def issue_task(task_id: int) -> Any:
    """Issue: number, date and the organisation's seal signature."""
    db, actor, services = get_session(), current_actor(), get_services()
    document_id = _document_of_task(task_id)
    result: list[issuance.Issued] = []

    def run() -> None:
        result.append(
            issuance.issue(
                db,
                services.blobs,
                services.trust,
                actor,
                task_id,
                services.seal_passphrase,
                level=services.settings.level_for,
                services=services.trust_services,
                seal_token=services.settings.seal_pkcs11,
                base_url=services.settings.public_url or request.host_url,
                public=request.form.get("public") == "1",
            )
        )

    response = _perform(document_id, run, _("Đã ban hành văn bản."))
    if result:
        flash(_("Số, ký hiệu: %(symbol)s", symbol=result[0].symbol), "ok")
    return response


@bp.post("/documents/<int:document_id>/withdraw")
@login_required
def withdraw(document_id: int) -> Any:
    """The drafter takes the document back before anyone acted."""
    db, actor = get_session(), current_actor()
    return _perform(
        document_id,
        lambda: actions.withdraw(db, actor, document_id),
        _("Đã rút văn bản về dự thảo."),
    )


@bp.post("/documents/<int:document_id>/comments")
@login_required
def comment(document_id: int) -> Any:
    """Comment on a document."""
    db, actor = get_session(), current_actor()
    return _perform(
        document_id,
        lambda: actions.add_comment(db, actor, document_id, request.form.get("body")),
        _("Đã gửi ý kiến."),
    )


@bp.post("/documents/<int:document_id>/revisions")
@login_required
def revision(document_id: int) -> Any:
    """Upload a revised PDF (after a return)."""
    db, actor = get_session(), current_actor()

    def run() -> None:
        staged, filename = stage_upload()
        actions.upload_revision(db, get_services().blobs, actor, document_id, staged, filename)

    return _perform(document_id, run, _("Đã tải lên bản chỉnh sửa. Hãy trình lại văn bản."))


@bp.post("/documents/<int:document_id>/recall")
@login_required
def recall(document_id: int) -> Any:
    """Thu hồi an issued document."""
    db, actor = get_session(), current_actor()
    return _perform(
        document_id,
        lambda: issuance.recall(db, actor, document_id, request.form.get("reason")),
        _("Đã thu hồi văn bản."),
    )


@bp.post("/documents/<int:document_id>/publish")
@login_required
def publish(document_id: int) -> Any:
    """Publish an issued document on the public portal, or take it down."""
    db, actor = get_session(), current_actor()
    public = request.form.get("public") == "1"
    return _perform(
        document_id,
        lambda: publishing.publish(db, actor, document_id, public),
        _("Đã công khai văn bản trên cổng thông tin.")
        if public
        else _("Đã gỡ văn bản khỏi cổng thông tin."),
    )


@bp.route("/documents/classified/new", methods=["GET", "POST"])
@login_required
def classified() -> Any:
    """Register a classified document as metadata only (clerks)."""
    if request.method == "GET":
        return render_template("documents/classified.html")
    db, actor = get_session(), current_actor()
    try:
        if request.files.get("file") is not None and request.files["file"].filename:
            raise InvalidInputError(
                _(
                    "Văn bản mật không được tải nội dung lên hệ thống; "
                    "chỉ đăng ký số, ngày và độ mật."
                )
            )
        doc = issuance.register_classified(
            db,
            actor,
            classification=request.form.get("classification", ""),
            doc_type=request.form.get("doc_type", ""),
            subject=request.form.get("subject"),
            urgency=request.form.get("urgency"),
        )
        services = get_services()
        coverage.record_document(db, services.blobs, services.trust, doc, now=utcnow())
        db.commit()
    except WorkflowError as exc:
        db.rollback()
        flash(translate(exc.message), "error")
        return render_template("documents/classified.html"), exc.status
    flash(_("Đã đăng ký văn bản mật số %(symbol)s.", symbol=doc.symbol), "ok")
    return redirect(url_for("documents.detail", document_id=doc.id))


STAGE_ROWS = 8
STAGE_ACTIONS = ("approve", "review", "consult", "sign", "issue")
"""The actions a stage may take, in the order offered (the first is a new stage's)."""


@bp.route("/routes", methods=["GET", "POST"])
@login_required
def routes() -> Any:
    """Route templates: the list, and a form for a new one or a new version (administrators)."""
    db, actor = get_session(), current_actor()
    is_admin = actor.has_role(Role.ADMIN)
    status = 200
    if request.method == "POST":
        try:
            stages = []
            for i in range(STAGE_ROWS):
                name = request.form.get(f"stage-{i}-name", "").strip()
                if not name:
                    continue
                stages.append(
                    {
                        "name": name,
                        "action": request.form.get(f"stage-{i}-action"),
                        "assignee_role": request.form.get(f"stage-{i}-role") or None,
                        "assignee_unit": request.form.get(f"stage-{i}-unit") or None,
                        "assignee_user": request.form.get(f"stage-{i}-user") or None,
                        "mode": request.form.get(f"stage-{i}-mode") or "any",
                        "deadline_days": _int_or_none(request.form.get(f"stage-{i}-deadline")),
                        "when": {"doc_types": request.form.getlist(f"stage-{i}-types") or None},
                    }
                )
            route = route_templates.save_route(
                db,
                actor,
                {
                    "code": request.form.get("code"),
                    "name": request.form.get("name"),
                    "kind": request.form.get("kind"),
                    "description": request.form.get("description"),
                    "is_default": bool(request.form.get("is_default")),
                    "stages": stages,
                },
            )
            db.commit()
            flash(
                _(
                    "Đã lưu tuyến trình %(code)s, phiên bản %(version)s.",
                    code=route.code,
                    version=route.version,
                ),
                "ok",
            )
            return redirect(url_for("tasks.routes"))
        except WorkflowError as exc:
            db.rollback()
            flash(translate(exc.message), "error")
            status = exc.status
    units = db.scalars(select(Unit).order_by(Unit.id)).all()
    users = db.scalars(select(User).where(User.active.is_(True)).order_by(User.full_name)).all()
    edit = request.args.get("edit")
    current = next((r for r in route_templates.list_routes(db) if r.code == edit), None)
    return render_template(
        "routes/index.html",
        routes=route_templates.list_routes(db),
        is_admin=is_admin,
        units=units,
        users=users,
        rows=STAGE_ROWS,
        stage_actions=STAGE_ACTIONS,
        current=current,
    ), status
