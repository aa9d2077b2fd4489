"""workflow: web pages for work files, report obligations and notifications (blueprint),
and the records CLI commands (generate-obligations, send-reminders)."""

from __future__ import annotations

from typing import Any

import click
from flask import Blueprint, Flask, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import (
    BooleanField,
    DateField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from storage.models import Document, Unit
from storage.registry_models import Notification, WorkFile
from storage.types import utcnow
from workflow.accounts import access
from workflow.errors import WorkflowError
from workflow.http import current_actor
from workflow.i18n import translate
from workflow.mail import mailer_from_config
from workflow.records import paper, reminders, reporting, workfiles
from workflow.services import EXTENSION_KEY, Services, get_session

bp = Blueprint("records", __name__)


class WorkFileForm(FlaskForm):
    """Open a work file."""

    title = StringField("Tiêu đề hồ sơ", validators=[DataRequired(), Length(max=1000)])
    code = StringField("Mã hồ sơ (để trống: tự đánh)", validators=[Optional(), Length(max=64)])
    unit = SelectField("Đơn vị", choices=[])
    classified = BooleanField("Hồ sơ mật (bí mật nhà nước: không tính chỉ tiêu)")
    paper = BooleanField("Hồ sơ lưu trên giấy (không xử lý trên hệ thống)")
    closed_on = DateField("Ngày kết thúc, nếu hồ sơ giấy đã đóng", validators=[Optional()])


class AttachForm(FlaskForm):
    """Attach a document, or record a step done on paper."""

    document_id = IntegerField("Văn bản trên hệ thống", validators=[Optional(), NumberRange(min=1)])
    offline_note = TextAreaField("Bước xử lý trên giấy", validators=[Optional(), Length(max=4000)])


class PaperReportForm(FlaskForm):
    """Record a report delivered on paper."""

    delivered_on = DateField("Ngày nhận bản giấy", validators=[Optional()])


class EmptyForm(FlaskForm):
    """A form that carries only the CSRF token."""


# --- work files ---------------------------------------------------------------------


@bp.route("/workfiles")
@login_required
def workfile_list() -> Any:
    """Work files of my units."""
    db = get_session()
    rows = db.scalars(
        workfiles.visible_workfiles(current_actor()).order_by(WorkFile.id.desc()).limit(200)
    ).all()
    return render_template(
        "workfiles/list.html", rows=[(wf, workfiles.online_flag(db, wf)) for wf in rows]
    )


def _unit_choices() -> list[tuple[str, str]]:
    actor = current_actor()
    ids = {r.unit_id for r in actor.roles if r.role in workfiles.WORKING_ROLES}
    units = get_session().scalars(select(Unit).where(Unit.id.in_(ids)).order_by(Unit.id)).all()
    return [(u.code, u.name) for u in units]


@bp.route("/workfiles/new", methods=["GET", "POST"])
@login_required
def workfile_new() -> Any:
    """Open a work file."""
    form = WorkFileForm()
    form.unit.choices = _unit_choices()
    if request.method == "POST":
        if not form.validate_on_submit():
            flash(_("Vui lòng nhập tiêu đề hồ sơ (tối đa 1000 ký tự) và chọn đơn vị."), "error")
            return render_template("workfiles/new.html", form=form), 400
        db = get_session()
        try:
            if form.paper.data:
                closed_on = form.closed_on.data
                wf = paper.register_paper_workfile(
                    db,
                    current_actor(),
                    title=form.title.data,
                    code=form.code.data,
                    unit_code=form.unit.data,
                    classified=bool(form.classified.data),
                    closed_on=closed_on.isoformat() if closed_on else None,
                    now=utcnow(),
                )
            else:
                wf = workfiles.create_workfile(
                    db,
                    current_actor(),
                    title=form.title.data,
                    code=form.code.data,
                    unit_code=form.unit.data,
                    classified=bool(form.classified.data),
                    now=utcnow(),
                )
            db.commit()
        except WorkflowError as exc:
            db.rollback()
            flash(translate(exc.message), "error")
            return render_template("workfiles/new.html", form=form), exc.status
        flash(_("Đã lập hồ sơ %(code)s.", code=wf.code), "ok")
        return redirect(url_for("records.workfile_detail", workfile_id=wf.id))
    return render_template("workfiles/new.html", form=form)


def _render_detail(workfile_id: int, status: int = 200, form: AttachForm | None = None) -> Any:
    db = get_session()
    actor = current_actor()
    wf = workfiles.get_visible_workfile(db, actor, workfile_id)
    documents = db.scalars(
        access.visible_documents(actor).order_by(Document.id.desc()).limit(200)
    ).all()
    return (
        render_template(
            "workfiles/detail.html",
            wf=wf,
            online=workfiles.online_flag(db, wf),
            items=[(item, workfiles.check_item(db, item)) for item in wf.items],
            documents=documents,
            attach_form=form or AttachForm(),
            close_form=EmptyForm(),
        ),
        status,
    )


@bp.route("/workfiles/<int:workfile_id>")
@login_required
def workfile_detail(workfile_id: int) -> Any:
    """A work file: items, whether each was processed online, attach and close."""
    return _render_detail(workfile_id)


@bp.route("/workfiles/<int:workfile_id>/items", methods=["POST"])
@login_required
def workfile_attach(workfile_id: int) -> Any:
    """Attach a document or record a step on paper."""
    form = AttachForm()
    if not form.validate_on_submit():
        flash(_("Dữ liệu không hợp lệ; hãy chọn văn bản hoặc ghi bước xử lý trên giấy."), "error")
        return _render_detail(workfile_id, 400, form)
    db = get_session()
    try:
        workfiles.attach(
            db,
            current_actor(),
            workfile_id,
            document_id=form.document_id.data,
            offline_note=form.offline_note.data,
            now=utcnow(),
        )
        db.commit()
    except WorkflowError as exc:
        db.rollback()
        flash(translate(exc.message), "error")
        return _render_detail(workfile_id, exc.status, form)
    flash(_("Đã bổ sung vào hồ sơ."), "ok")
    return redirect(url_for("records.workfile_detail", workfile_id=workfile_id))


@bp.route("/workfiles/<int:workfile_id>/close", methods=["POST"])
@login_required
def workfile_close(workfile_id: int) -> Any:
    """Close the file (the online flag is derived)."""
    if not EmptyForm().validate_on_submit():
        return redirect(url_for("records.workfile_detail", workfile_id=workfile_id))
    db = get_session()
    try:
        wf = workfiles.close(db, current_actor(), workfile_id, now=utcnow())
        db.commit()
    except WorkflowError as exc:
        db.rollback()
        flash(translate(exc.message), "error")
        return _render_detail(workfile_id, exc.status)
    if wf.classified:
        flash(_("Đã đóng hồ sơ: hồ sơ mật, không tính chỉ tiêu."), "ok")
    elif wf.processed_online:
        flash(_("Đã đóng hồ sơ: xử lý trực tuyến."), "ok")
    else:
        flash(_("Đã đóng hồ sơ: chưa xử lý trực tuyến toàn trình."), "ok")
    return redirect(url_for("records.workfile_detail", workfile_id=workfile_id))


# --- reports and notifications ------------------------------------------------------


@bp.route("/reports")
@login_required
def obligations() -> Any:
    """Report obligations with their status (filters: unit, period)."""
    return _render_obligations()


def _render_obligations(status: int = 200) -> Any:
    db = get_session()
    actor = current_actor()
    unit, period = request.args.get("unit") or None, request.args.get("period") or None
    try:
        rows = reporting.list_obligations(db, actor, unit, period)
    except WorkflowError as exc:
        flash(translate(exc.message), "error")
        rows, status = [], exc.status
    now = utcnow()
    statuses = [(o, reporting.obligation_status(o, now)) for o in rows]
    # The clerk who receives a unit's reports records one delivered on paper.
    scope = reporting.clerk_scope(db, actor)
    return render_template(
        "reports/obligations.html",
        rows=statuses,
        labels=reporting.STATUS_LABELS,
        unit=unit or "",
        period=period or "",
        recordable={
            o.id for o, s in statuses if s in ("missing", "pending") and o.unit_id in scope
        },
        paper_form=PaperReportForm(),
    ), status


@bp.route("/reports/<int:obligation_id>/paper", methods=["POST"])
@login_required
def report_on_paper(obligation_id: int) -> Any:
    """A clerk records a report delivered on paper (a miss of T4)."""
    form = PaperReportForm()
    if not form.validate_on_submit():
        flash(
            _("Phiên làm việc của biểu mẫu đã hết hạn. Hãy tải lại trang và thử lại.")
            if "csrf_token" in form.errors
            else _("Ngày nhận bản giấy không hợp lệ."),
            "error",
        )
        return _render_obligations(400)
    db = get_session()
    day = form.delivered_on.data
    try:
        paper.record_paper_report(
            db,
            current_actor(),
            obligation_id,
            delivered_on=day.isoformat() if day else None,
            now=utcnow(),
        )
        db.commit()
    except WorkflowError as exc:
        db.rollback()
        flash(translate(exc.message), "error")
        return _render_obligations(exc.status)
    flash(_("Đã ghi nhận báo cáo nộp bằng bản giấy."), "ok")
    return redirect(
        url_for(
            "records.obligations",
            unit=request.args.get("unit") or None,
            period=request.args.get("period") or None,
        )
    )


@bp.route("/notifications")
@login_required
def notifications() -> Any:
    """My notifications, newest first."""
    rows = get_session().scalars(
        select(Notification)
        .where(Notification.user_id == current_actor().id)
        .order_by(Notification.id.desc())
        .limit(100)
    )
    return render_template("notifications/list.html", rows=rows.all(), form=EmptyForm())


@bp.route("/notifications/<int:notification_id>/read", methods=["POST"])
@login_required
def notification_read(notification_id: int) -> Any:
    """Mark a notification as read."""
    if EmptyForm().validate_on_submit():
        db = get_session()
        reminders.mark_read(db, current_actor(), notification_id, utcnow())
        db.commit()
    return redirect(url_for("records.notifications"))


# --- CLI ----------------------------------------------------------------------------


def register_records_cli(app: Flask) -> None:
    """Attach ``generate-obligations`` and ``send-reminders`` to ``app.cli``."""

    def services() -> Services:
        svc: Services = app.extensions[EXTENSION_KEY]
        return svc

    @app.cli.command("generate-obligations")
    @click.option("--period", required=True, help="2026 (năm), 2026-Q4 (quý) or 2026-09 (tháng).")
    def generate_obligations_command(period: str) -> None:
        """Create the report obligations of a period (idempotent)."""
        with services().session_factory() as session:
            try:
                result = reporting.generate_obligations(session, period)
            except WorkflowError as exc:
                raise click.ClickException(exc.message) from exc
            session.commit()
        click.echo(
            f"{result.period.label}: {len(result.created)} obligations created, "
            f"{result.existing} already present"
        )

    @app.cli.command("send-reminders")
    def send_reminders_command() -> None:
        """Remind the assignees of overdue tasks (in-app, and e-mail if configured)."""
        mailer = mailer_from_config(app.config)
        with services().session_factory() as session:
            report = reminders.send_reminders(session, mailer, utcnow())
            session.commit()
        click.echo(
            f"reminded {report.reminded} overdue tasks; e-mailed {report.emailed}, "
            f"failed {report.failed}"
        )
