"""workflow: the webhooks page of the administration (/admin/webhooks): register an
endpoint (generic, Zalo OA, Facebook Page), switch it off, read its delivery log and
redeliver. Thin views over :mod:`workflow.webhooks.service`."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from workflow.admin.blueprint import bp
from workflow.errors import WorkflowError
from workflow.http import current_actor
from workflow.services import get_session
from workflow.vocab import vn_display
from workflow.webhooks import events, service, wire
from workflow.webhooks.runtime import vault_of

STATUS_LABELS = {
    "pending": "Chờ gửi",
    "delivered": "Đã gửi",
    "failed": "Thất bại",
}


@bp.route("/webhooks", methods=["GET", "POST"])
def webhooks() -> Any:
    """Every endpoint and the form to register one."""
    db, actor = get_session(), current_actor()
    status = 200
    form = request.form
    if request.method == "POST":
        kind = form.get("kind", "generic")
        options = {
            key: form.get(f"option_{key}", "")
            for key in ("access_token", "user_id", "group_id")
            if form.get(f"option_{key}")
        }
        try:
            service.register(
                db,
                vault_of(),
                actor,
                url=form.get("url", ""),
                secret=form.get("secret", ""),
                events_wanted=form.getlist("events"),
                kind=kind,
                options=options,
                description=form.get("description", ""),
            )
            db.commit()
        except WorkflowError as exc:
            db.rollback()
            flash(exc.message, "error")
            status = exc.status
        else:
            flash(_("Đã đăng ký điểm nhận webhook."), "ok")
            return redirect(url_for("admin.webhooks"))
    return render_template(
        "admin/webhooks.html",
        endpoints=service.endpoints(db, actor),
        events=events.EVENTS,
        kinds=wire.KINDS,
        form=form,
    ), status


@bp.post("/webhooks/<int:endpoint_id>/off")
def webhook_off(endpoint_id: int) -> Any:
    """Switch an endpoint off."""
    db = get_session()
    try:
        service.deactivate(db, current_actor(), endpoint_id)
        db.commit()
    except WorkflowError as exc:
        db.rollback()
        flash(exc.message, "error")
    else:
        flash(_("Đã tắt điểm nhận webhook."), "ok")
    return redirect(url_for("admin.webhooks"))


@bp.get("/webhooks/<int:endpoint_id>")
def webhook_log(endpoint_id: int) -> Any:
    """One endpoint's delivery log."""
    db, actor = get_session(), current_actor()
    wanted = request.args.get("status") or None
    if wanted not in (None, *STATUS_LABELS):
        abort(400)
    try:
        endpoint = service.get_endpoint(db, actor, endpoint_id)
        rows = service.deliveries(db, actor, endpoint_id, wanted)
    except WorkflowError as exc:
        abort(exc.status)
    return render_template(
        "admin/webhook_log.html",
        endpoint=endpoint,
        rows=rows,
        wanted=wanted,
        status_labels=STATUS_LABELS,
        events=events.EVENTS,
        kinds=wire.KINDS,
        when=vn_display,
    )


@bp.post("/webhooks/<int:endpoint_id>/deliveries/<int:delivery_id>/redeliver")
def webhook_redeliver(endpoint_id: int, delivery_id: int) -> Any:
    """Send one delivery again."""
    db = get_session()
    try:
        service.redeliver(db, current_actor(), endpoint_id, delivery_id)
        db.commit()
    except WorkflowError as exc:
        db.rollback()
        flash(exc.message, "error")
    else:
        flash(_("Đã xếp lịch gửi lại."), "ok")
    return redirect(url_for("admin.webhook_log", endpoint_id=endpoint_id))
