"""workflow: JSON API for work files, the reporting regime, reminders and notifications
(on the /api/v1 blueprint)."""

from __future__ import annotations

from typing import Any

from flask import current_app, jsonify, request

from storage.models import Role
from storage.registry_models import WorkFile
from storage.types import utcnow
from workflow import http
from workflow.errors import ForbiddenError, InvalidInputError
from workflow.http import api_blueprint
from workflow.mail import mailer_from_config
from workflow.records import paper, reminders, reporting, workfiles
from workflow.services import get_session
from workflow.vocab import vn_iso

bp = api_blueprint("records_api", __name__)


def _str(body: dict[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is not None and not isinstance(value, str):
        raise InvalidInputError(f"'{key}' phải là chuỗi.")
    return value


def _int(body: dict[str, Any], key: str) -> int | None:
    value = body.get(key)
    if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
        raise InvalidInputError(f"'{key}' phải là số nguyên.")
    return value


# --- work files ---------------------------------------------------------------------


@bp.get("/workfiles")
def list_workfiles() -> Any:
    """Work files of the caller's units (all of them for auditors), newest first."""
    db = get_session()
    query = workfiles.visible_workfiles(http.actor()).order_by(WorkFile.id.desc())
    state = request.args.get("state")
    if state == "open":
        query = query.where(WorkFile.closed_at.is_(None))
    elif state == "closed":
        query = query.where(WorkFile.closed_at.is_not(None))
    rows = db.scalars(query.limit(500)).all()
    return jsonify({"workfiles": [workfiles.workfile_json(db, wf, False) for wf in rows]})


@bp.post("/workfiles")
def create_workfile() -> Any:
    """Open a work file: ``{"title", "code"?, "unit"?, "classified"?}``."""
    body = http.json_body()
    classified = body.get("classified", False)
    if not isinstance(classified, bool):
        raise InvalidInputError("'classified' phải là true hoặc false.")
    db = get_session()
    wf = workfiles.create_workfile(
        db,
        http.actor(),
        title=_str(body, "title"),
        code=_str(body, "code"),
        unit_code=_str(body, "unit"),
        classified=classified,
        now=utcnow(),
    )
    db.commit()
    return jsonify(workfiles.workfile_json(db, wf)), 201


@bp.post("/workfiles/paper")
def register_paper_workfile() -> Any:
    """Register a work file kept on paper: ``{"title", "code"?, "unit"?, "classified"?,
    "closed_on"?: "YYYY-MM-DD"}`` (closed that day: a miss of T3)."""
    body = http.json_body()
    classified = body.get("classified", False)
    if not isinstance(classified, bool):
        raise InvalidInputError("'classified' phải là true hoặc false.")
    db = get_session()
    wf = paper.register_paper_workfile(
        db,
        http.actor(),
        title=body.get("title"),
        code=body.get("code"),
        unit_code=body.get("unit"),
        classified=classified,
        closed_on=body.get("closed_on"),
        now=utcnow(),
    )
    db.commit()
    return jsonify(workfiles.workfile_json(db, wf)), 201


@bp.get("/workfiles/<int:workfile_id>")
def get_workfile(workfile_id: int) -> Any:
    """A work file with its items and the live (or recorded) online flag."""
    db = get_session()
    wf = workfiles.get_visible_workfile(db, http.actor(), workfile_id)
    return jsonify(workfiles.workfile_json(db, wf))


@bp.post("/workfiles/<int:workfile_id>/items")
def attach_item(workfile_id: int) -> Any:
    """Attach ``{"document_id"}`` or record ``{"offline_note"}`` (a step on paper)."""
    body = http.json_body()
    db = get_session()
    workfiles.attach(
        db,
        http.actor(),
        workfile_id,
        document_id=_int(body, "document_id"),
        offline_note=_str(body, "offline_note"),
        now=utcnow(),
    )
    db.commit()
    wf = workfiles.get_visible_workfile(db, http.actor(), workfile_id)
    return jsonify(workfiles.workfile_json(db, wf)), 201


@bp.post("/workfiles/<int:workfile_id>/close")
def close_workfile(workfile_id: int) -> Any:
    """Close the file; ``processed_online`` is derived and recorded."""
    db = get_session()
    wf = workfiles.close(db, http.actor(), workfile_id, now=utcnow())
    db.commit()
    return jsonify(workfiles.workfile_json(db, wf))


# --- reporting regime ----------------------------------------------------------------


@bp.get("/reports/obligations")
def list_obligations() -> Any:
    """Report obligations (``?unit=&period=``) with their status now."""
    db = get_session()
    rows = reporting.list_obligations(
        db, http.actor(), request.args.get("unit") or None, request.args.get("period") or None
    )
    now = utcnow()
    return jsonify({"obligations": [reporting.obligation_json(o, now) for o in rows]})


@bp.post("/reports/obligations/<int:obligation_id>/submit")
def submit_report(obligation_id: int) -> Any:
    """Link the caller's submitted report document: ``{"document_id"}``."""
    document_id = _int(http.json_body(), "document_id")
    if document_id is None:
        raise InvalidInputError("Cần 'document_id': văn bản báo cáo đã trình.")
    db = get_session()
    now = utcnow()
    obligation = reporting.submit_report(db, http.actor(), obligation_id, document_id, now)
    db.commit()
    return jsonify(reporting.obligation_json(obligation, now))


@bp.post("/reports/obligations/<int:obligation_id>/paper")
def record_paper_report(obligation_id: int) -> Any:
    """A clerk records the report as delivered on paper: ``{"delivered_on"?}`` (a miss
    of T4)."""
    body = http.json_body()
    db = get_session()
    now = utcnow()
    obligation = paper.record_paper_report(
        db, http.actor(), obligation_id, delivered_on=body.get("delivered_on"), now=now
    )
    db.commit()
    return jsonify(reporting.obligation_json(obligation, now))


# --- reminders and notifications ----------------------------------------------------


@bp.post("/reminders/run")
def run_reminders() -> Any:
    """Run the reminder job now (administrators)."""
    if not http.actor().has_role(Role.ADMIN):
        raise ForbiddenError("Chỉ quản trị hệ thống được chạy đôn đốc việc quá hạn.")
    db = get_session()
    report = reminders.send_reminders(db, mailer_from_config(current_app.config), utcnow())
    db.commit()
    return jsonify(
        {"reminded": report.reminded, "emailed": report.emailed, "failed": report.failed}
    )


@bp.post("/notifications/<int:notification_id>/read")
def read_notification(notification_id: int) -> Any:
    """Mark one of the caller's notifications as read."""
    db = get_session()
    note = reminders.mark_read(db, http.actor(), notification_id, utcnow())
    db.commit()
    return jsonify(
        {
            "id": note.id,
            "kind": note.kind,
            "message": note.message,
            "document_id": note.document_id,
            "created_at": vn_iso(note.created_at),
            "read": True,
            "read_at": vn_iso(note.read_at),
        }
    )
