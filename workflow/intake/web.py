"""workflow: the clerk's e-mail intake page (hộp thư văn bản đến): each message with its
attachments, and the receive, return and discard buttons (blueprint)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required
from flask_wtf import FlaskForm

from storage.models import Unit
from workflow.errors import WorkflowError
from workflow.http import current_actor
from workflow.i18n import translate
from workflow.intake import service
from workflow.mail import mailer_for
from workflow.registry import dispatch as dispatching
from workflow.services import get_services, get_session
from workflow.uploads import send_blob

bp = Blueprint("intake", __name__)

STATE_LABELS = {
    "pending": "Chờ xử lý",
    "received": "Đã tiếp nhận",
    "returned": "Đã trả lại",
    "discarded": "Đã loại bỏ",
}


class CsrfForm(FlaskForm):
    """A form that carries only the CSRF token (the action buttons)."""


def _unit_arg() -> int | None:
    raw = request.values.get("unit") or ""
    return int(raw) if raw.isdigit() else None


@bp.route("/intake")
@login_required
def queue_page() -> Any:
    """The unit's e-mails: pending ones first to act on."""
    actor = current_actor()
    db = get_session()
    state = request.args.get("state", "pending") or None
    messages = service.queue(db, actor, _unit_arg(), state)
    unit_id = dispatching.check_register_access(db, actor, _unit_arg())
    clerk = unit_id in dispatching.clerk_units(db, actor)
    return render_template(
        "intake/queue.html",
        messages=messages,
        entries={m.id: service.entries_of(db, m) for m in messages},
        unit=db.get(Unit, unit_id),
        state=state,
        can_act=clerk,
        state_labels=STATE_LABELS,
        form=CsrfForm(),
    )


@bp.route("/intake/<int:message_id>/eml")
@login_required
def eml(message_id: int) -> Any:
    """The message as received (evidence)."""
    message = service.get_message(get_session(), current_actor(), message_id)
    return send_blob(message.sha256, f"thu-{message.id}.eml", mimetype="message/rfc822")


def _act(message_id: int, run: Any, done: str) -> Any:
    if not CsrfForm().validate_on_submit():
        flash(_("Phiên làm việc của biểu mẫu đã hết hạn. Hãy tải lại trang và thử lại."), "error")
        return redirect(url_for("intake.queue_page"))
    db = get_session()
    try:
        run(db, current_actor())
        db.commit()
    except WorkflowError as exc:
        db.rollback()
        flash(translate(exc.message), "error")
    else:
        flash(done, "ok")
    return redirect(url_for("intake.queue_page", unit=request.form.get("unit") or None))


@bp.route("/intake/<int:message_id>/receive", methods=["POST"])
@login_required
def receive(message_id: int) -> Any:
    """Receive the message's attachments into the incoming register."""
    services = get_services()
    return _act(
        message_id,
        lambda db, actor: service.receive(db, services.blobs, services.trust, actor, message_id),
        _("Đã tiếp nhận: xem số đến trong danh sách."),
    )


@bp.route("/intake/<int:message_id>/return", methods=["POST"])
@login_required
def return_to_sender(message_id: int) -> Any:
    """Return the message to its sender with the reason typed."""
    settings = get_services().settings
    reason = request.form.get("reason")
    return _act(
        message_id,
        lambda db, actor: service.return_to_sender(
            db, mailer_for(settings), actor, message_id, reason, settings.org_name
        ),
        _("Đã trả lại thư cho người gửi, kèm lý do."),
    )


@bp.route("/intake/<int:message_id>/discard", methods=["POST"])
@login_required
def discard(message_id: int) -> Any:
    """Discard the message as spam."""
    reason = request.form.get("reason")
    return _act(
        message_id,
        lambda db, actor: service.discard(db, actor, message_id, reason),
        _("Đã loại bỏ thư (vẫn lưu làm bằng chứng)."),
    )
