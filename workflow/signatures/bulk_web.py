"""workflow: bulk signing routes: ``/api/v1/bulk-sign`` on the API blueprint (bearer
tokens) and the ``bulk`` web blueprint (session cookie: start from the inbox, progress
page, its JSON)."""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import login_required
from flask_wtf import FlaskForm
from sqlalchemy import select
from sqlalchemy.orm import Session
from wtforms import PasswordField
from wtforms.validators import DataRequired, Length

from storage.job_models import BulkJob
from storage.models import Task, User
from workflow import http
from workflow.documents.states import StageAction, TaskState
from workflow.errors import InvalidInputError, WorkflowError
from workflow.http import api_blueprint, current_actor
from workflow.i18n import translate
from workflow.schemas import signatures as schemas
from workflow.schemas.base import Problem, RefusedTask, parse
from workflow.schemas.openapi import operation
from workflow.services import get_services, get_session
from workflow.signatures import bulk
from workflow.signatures import flow as signing_flow
from workflow.vocab import DOC_TYPES

api_bp = api_blueprint("bulk_api", __name__)

bp = Blueprint("bulk", __name__)


def start_job(db: Session, actor: User, task_ids: list[int], passphrase: str) -> BulkJob:
    """Accept a job (commit), then run it in a background thread of this process."""
    services = get_services()
    try:
        accepted = bulk.accept(
            db,
            services.trust,
            actor,
            task_ids,
            passphrase,
            level=services.settings.level_for,
            key_max_failures=services.settings.key_max_failures,
            key_lock_seconds=services.settings.key_lock_seconds,
            blobs=services.blobs,
        )
    except signing_flow.BadPassphraseError:
        db.commit()  # keep the failure count (and a lock, after too many)
        raise
    db.commit()
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    bulk.runner_for(app, services).start(accepted.job.id, accepted.signer)
    return accepted.job


def _job_body(db: Session, actor: User, job_id: str) -> dict[str, Any]:
    job = bulk.get_job(db, actor, job_id)
    body = bulk.job_json(db, job)
    db.commit()  # a stale job was just marked failed
    return body


# --- API (bearer tokens) -------------------------------------------------------------


@api_bp.post("/bulk-sign")
@operation(body=schemas.BulkSignRequest, responses={202: schemas.BulkAccepted}, errors=(429,))
def bulk_sign() -> Any:
    """Sign many signing tasks with one passphrase; runs in the background (202)."""
    body = parse(schemas.BulkSignRequest, http.json_body())
    task_ids = bulk.parse_task_ids(body.task_ids)
    job = start_job(get_session(), http.actor(), task_ids, body.passphrase)
    status_url = url_for("bulk_api.bulk_sign_status", job_id=job.id)
    return schemas.BulkAccepted(job_id=job.id, total=job.total, status_url=status_url).dump(), 202


@api_bp.get("/bulk-sign/<job_id>")
@operation(responses={200: schemas.BulkJob})
def bulk_sign_status(job_id: str) -> Any:
    """Progress of one of the caller's bulk signing jobs."""
    return schemas.BulkJob.model_validate(_job_body(get_session(), http.actor(), job_id)).dump()


@api_bp.errorhandler(bulk.InvalidTasksError)
def _on_invalid_tasks(exc: bulk.InvalidTasksError) -> Any:
    """problem+json that also lists each refused task and why."""
    body = Problem(
        type="about:blank",
        title="Yêu cầu không hợp lệ",
        status=exc.status,
        detail=exc.message,
        code=exc.code,
        invalid=[RefusedTask(task_id=t, reason=reason) for t, reason in exc.invalid],
    )
    response = jsonify(body.dump())
    response.status_code = exc.status
    response.mimetype = "application/problem+json"
    return response


# --- web (session cookie) ------------------------------------------------------------


class BulkSignForm(FlaskForm):
    """The inbox's bulk signing: selected task ids (``task_ids``) and the passphrase."""

    passphrase = PasswordField("Mật khẩu khóa ký số", validators=[DataRequired(), Length(max=256)])


def _chosen_tasks(db: Session, actor: User, raw: list[str]) -> list[Task]:
    """The actor's open signing tasks among the ticked ones, in the order of the inbox.

    :raises InvalidInputError: none ticked, too many, or not ids.
    """
    task_ids = bulk.parse_task_ids(raw)
    return list(
        db.scalars(
            select(Task)
            .where(
                Task.id.in_(task_ids),
                Task.assignee_id == actor.id,
                Task.state == TaskState.OPEN,
                Task.action == StageAction.SIGN,
            )
            .order_by(Task.created_at, Task.id)
        )
    )


@bp.get("/bulk/confirm")
@login_required
def confirm() -> Any:
    """The ticked documents, named and counted, with the passphrase: the signer confirms
    what will be signed before anything is (nothing is ticked for them in the inbox)."""
    db = get_session()
    try:
        tasks = _chosen_tasks(db, current_actor(), request.args.getlist("task_ids"))
    except InvalidInputError:
        tasks = []
    if not tasks:
        flash(_("Hãy chọn ít nhất một văn bản cần ký (tối đa 200)."), "error")
        return redirect(url_for("documents.home"))
    return render_template(
        "bulk/confirm.html", tasks=tasks, form=BulkSignForm(), doc_types=DOC_TYPES
    )


@bp.route("/bulk", methods=["POST"])
@login_required
def start() -> Any:
    """Start a bulk signing job from the confirmation page, then show its progress."""
    form = BulkSignForm()
    if not form.validate_on_submit():
        flash(_("Vui lòng nhập mật khẩu khóa ký số để ký hàng loạt."), "error")
        return redirect(url_for("documents.home"))
    db = get_session()
    try:
        task_ids = bulk.parse_task_ids(request.form.getlist("task_ids"))
    except InvalidInputError:
        flash(_("Hãy chọn ít nhất một văn bản cần ký (tối đa 200)."), "error")
        return redirect(url_for("documents.home"))
    if request.form.get("confirm_count") != str(len(task_ids)):
        # Only the confirmation page, which names the count, starts a job.
        flash(_("Hãy xác nhận danh sách văn bản sẽ ký trước khi ký hàng loạt."), "error")
        return redirect(url_for("bulk.confirm", task_ids=task_ids))
    try:
        job = start_job(db, current_actor(), task_ids, form.passphrase.data or "")
    except bulk.InvalidTasksError as exc:
        db.rollback()
        flash(translate(exc.message), "error")
        for task_id, reason in exc.invalid:
            flash(_("Việc %(task)s: %(reason)s", task=task_id, reason=translate(reason)), "error")
        return redirect(url_for("documents.home"))
    except WorkflowError as exc:
        db.rollback()
        flash(translate(exc.message), "error")
        return redirect(url_for("documents.home"))
    flash(_("Đã bắt đầu ký hàng loạt %(n)s văn bản.", n=job.total), "ok")
    return redirect(url_for("bulk.page", job_id=job.id))


@bp.get("/bulk/<job_id>")
@login_required
def page(job_id: str) -> Any:
    """A bulk signing job's progress bar and per-document results."""
    db = get_session()
    body = _job_body(db, current_actor(), job_id)
    return render_template("bulk/job.html", job=body)


@bp.get("/bulk/<job_id>/progress.json")
@login_required
def progress(job_id: str) -> Any:
    """The progress page's JSON (same body as the API's), for its polling script."""
    db = get_session()
    body = _job_body(db, current_actor(), job_id)
    # The reasons are stored in Vietnamese (written by the background job): shown in the
    # page's language, like the page itself.
    body["error"] = translate(body.get("error"))
    for item in body.get("items", []):
        item["error"] = translate(item.get("error"))
    response = jsonify(body)
    response.headers["Cache-Control"] = "no-store"
    return response
