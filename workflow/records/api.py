"""workflow: JSON API for work files, the reporting regime, reminders and notifications
(on the /api/v1 blueprint)."""

from __future__ import annotations

from typing import Any

from flask import current_app, request

from storage.models import Role
from storage.registry_models import WorkFile
from storage.types import utcnow
from workflow import http
from workflow.errors import ForbiddenError
from workflow.http import api_blueprint
from workflow.mail import mailer_from_config
from workflow.records import paper, reminders, reporting, workfiles
from workflow.schemas import documents as document_schemas
from workflow.schemas import records as schemas
from workflow.schemas.base import parse
from workflow.schemas.openapi import operation
from workflow.services import get_session

bp = api_blueprint("records_api", __name__)

# --- work files ---------------------------------------------------------------------


@bp.get("/workfiles")
@operation(query=schemas.WorkFileQuery, responses={200: schemas.WorkFileList})
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
    return schemas.WorkFileList.model_validate(
        {"workfiles": [workfiles.workfile_json(db, wf, False) for wf in rows]}
    ).dump()


@bp.post("/workfiles")
@operation(body=schemas.WorkFileRequest, responses={201: schemas.WorkFile})
def create_workfile() -> Any:
    """Open a work file: ``{"title", "code"?, "unit"?, "classified"?}``."""
    body = parse(schemas.WorkFileRequest, http.json_body())
    db = get_session()
    wf = workfiles.create_workfile(
        db,
        http.actor(),
        title=body.title,
        code=body.code,
        unit_code=body.unit,
        classified=body.classified,
        now=utcnow(),
    )
    db.commit()
    return schemas.WorkFile.model_validate(workfiles.workfile_json(db, wf)).dump(), 201


@bp.post("/workfiles/paper")
@operation(body=schemas.PaperWorkFileRequest, responses={201: schemas.WorkFile})
def register_paper_workfile() -> Any:
    """Register a work file kept on paper: ``{"title", "code"?, "unit"?, "classified"?,
    "closed_on"?: "YYYY-MM-DD"}`` (closed that day: a miss of T3)."""
    body = parse(schemas.PaperWorkFileRequest, http.json_body())
    db = get_session()
    wf = paper.register_paper_workfile(
        db,
        http.actor(),
        title=body.title,
        code=body.code,
        unit_code=body.unit,
        classified=body.classified,
        closed_on=body.closed_on,
        now=utcnow(),
    )
    db.commit()
    return schemas.WorkFile.model_validate(workfiles.workfile_json(db, wf)).dump(), 201


@bp.get("/workfiles/<int:workfile_id>")
@operation(responses={200: schemas.WorkFile})
def get_workfile(workfile_id: int) -> Any:
    """A work file with its items and the live (or recorded) online flag."""
    db = get_session()
    wf = workfiles.get_visible_workfile(db, http.actor(), workfile_id)
    return schemas.WorkFile.model_validate(workfiles.workfile_json(db, wf)).dump()


@bp.post("/workfiles/<int:workfile_id>/items")
@operation(body=schemas.AttachRequest, responses={201: schemas.WorkFile})
def attach_item(workfile_id: int) -> Any:
    """Attach ``{"document_id"}`` or record ``{"offline_note"}`` (a step on paper)."""
    body = parse(schemas.AttachRequest, http.json_body())
    db = get_session()
    workfiles.attach(
        db,
        http.actor(),
        workfile_id,
        document_id=body.document_id,
        offline_note=body.offline_note,
        now=utcnow(),
    )
    db.commit()
    wf = workfiles.get_visible_workfile(db, http.actor(), workfile_id)
    return schemas.WorkFile.model_validate(workfiles.workfile_json(db, wf)).dump(), 201


@bp.post("/workfiles/<int:workfile_id>/close")
@operation(responses={200: schemas.WorkFile})
def close_workfile(workfile_id: int) -> Any:
    """Close the file; ``processed_online`` is derived and recorded."""
    db = get_session()
    wf = workfiles.close(db, http.actor(), workfile_id, now=utcnow())
    db.commit()
    return schemas.WorkFile.model_validate(workfiles.workfile_json(db, wf)).dump()


# --- reporting regime ----------------------------------------------------------------


@bp.get("/reports/obligations")
@operation(query=schemas.ObligationQuery, responses={200: schemas.ObligationList})
def list_obligations() -> Any:
    """Report obligations (``?unit=&period=``) with their status now."""
    db = get_session()
    rows = reporting.list_obligations(
        db, http.actor(), request.args.get("unit") or None, request.args.get("period") or None
    )
    now = utcnow()
    return schemas.ObligationList.model_validate(
        {"obligations": [reporting.obligation_json(o, now) for o in rows]}
    ).dump()


@bp.post("/reports/obligations/<int:obligation_id>/submit")
@operation(body=schemas.SubmitReportRequest, responses={200: schemas.Obligation})
def submit_report(obligation_id: int) -> Any:
    """Link the caller's submitted report document: ``{"document_id"}``."""
    document_id = parse(schemas.SubmitReportRequest, http.json_body()).document_id
    db = get_session()
    now = utcnow()
    obligation = reporting.submit_report(db, http.actor(), obligation_id, document_id, now)
    db.commit()
    return schemas.Obligation.model_validate(reporting.obligation_json(obligation, now)).dump()


@bp.post("/reports/obligations/<int:obligation_id>/paper")
@operation(body=schemas.PaperReportRequest, responses={200: schemas.Obligation})
def record_paper_report(obligation_id: int) -> Any:
    """A clerk records the report as delivered on paper: ``{"delivered_on"?}`` (a miss
    of T4)."""
    body = parse(schemas.PaperReportRequest, http.json_body())
    db = get_session()
    now = utcnow()
    obligation = paper.record_paper_report(
        db, http.actor(), obligation_id, delivered_on=body.delivered_on, now=now
    )
    db.commit()
    return schemas.Obligation.model_validate(reporting.obligation_json(obligation, now)).dump()


# --- reminders and notifications ----------------------------------------------------


@bp.post("/reminders/run")
@operation(responses={200: schemas.ReminderRun})
def run_reminders() -> Any:
    """Run the reminder job now (administrators)."""
    if not http.actor().has_role(Role.ADMIN):
        raise ForbiddenError("Chỉ quản trị hệ thống được chạy đôn đốc việc quá hạn.")
    db = get_session()
    report = reminders.send_reminders(db, mailer_from_config(current_app.config), utcnow())
    db.commit()
    return schemas.ReminderRun(
        reminded=report.reminded, emailed=report.emailed, failed=report.failed
    ).dump()


@bp.post("/notifications/<int:notification_id>/read")
@operation(responses={200: document_schemas.Notification})
def read_notification(notification_id: int) -> Any:
    """Mark one of the caller's notifications as read."""
    db = get_session()
    note = reminders.mark_read(db, http.actor(), notification_id, utcnow())
    db.commit()
    return document_schemas.Notification(
        id=note.id,
        kind=note.kind,
        message=note.message,
        document_id=note.document_id,
        created_at=note.created_at,
        read=True,
        read_at=note.read_at,
    ).dump()
