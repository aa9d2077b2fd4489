"""workflow: what the document page and the API show about a document."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from signing.validate import ValidationReport
from storage.models import AuditEvent, Document, Task, User
from storage.registry_models import Comment, Notification
from storage.types import utcnow
from workflow.documents import routing
from workflow.documents.states import TaskState
from workflow.vocab import AUDIT_LABELS, STATE_LABELS, vn_iso


@dataclass(frozen=True)
class HistoryEntry:
    """One line of a document's history."""

    seq: int
    at: Any
    actor: str
    action: str
    label: str
    details: dict[str, Any]


def history(session: Session, doc: Document) -> list[HistoryEntry]:
    """:returns: every audit entry about the document, oldest first."""
    rows = session.execute(
        select(AuditEvent, User.full_name)
        .outerjoin(User, User.id == AuditEvent.actor_id)
        .where(AuditEvent.object_type == "document", AuditEvent.object_id == str(doc.id))
        .order_by(AuditEvent.seq)
    ).all()
    return [
        HistoryEntry(
            ev.seq, ev.at, name or "", ev.action, AUDIT_LABELS.get(ev.action, ev.action), ev.details
        )
        for ev, name in rows
    ]


def stage_timeline(doc: Document) -> list[dict[str, Any]]:
    """:returns: the route's stages with their tasks and status (done/current/next)."""
    timeline = []
    for stage in routing.stages_of(doc):
        tasks = [t for t in doc.tasks if t.stage_position == stage.position]
        latest = [t for t in tasks if t.state != TaskState.CANCELLED] or tasks
        if doc.current_stage == stage.position:
            status = "current"
        elif (
            latest
            and all(t.state == TaskState.DONE for t in latest)
            and (doc.current_stage is None or stage.position < doc.current_stage)
        ):
            status = "done"
        else:
            status = "next"
        timeline.append({"stage": stage, "tasks": tasks, "status": status})
    return timeline


def task_json(task: Task) -> dict[str, Any]:
    """:returns: the API form of a task."""
    now = utcnow()
    return {
        "id": task.id,
        "document_id": task.document_id,
        "action": task.action,
        "step": task.stage_position,
        "step_name": task.stage_name,
        "state": task.state,
        "assignee": task.assignee.username,
        "outcome": task.outcome,
        "acted_by": task.acted_by.username if task.acted_by else None,
        "acted_at": vn_iso(task.acted_at),
        "comment": task.comment,
        "answer": task.answer,
        "on_behalf_of": task.on_behalf_of.username if task.on_behalf_of else None,
        "created_at": vn_iso(task.created_at),
        "due_at": vn_iso(task.due_at),
        "overdue": bool(task.state == "open" and task.due_at is not None and task.due_at < now),
        "subject": task.document.subject,
    }


def planned_json(doc: Document) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """:returns: the recipients the drafter planned: units, and outside recipients."""
    units = [
        {"id": p.unit.id, "code": p.unit.code, "name": p.unit.name}
        for p in doc.planned_recipients
        if p.unit is not None
    ]
    outside = [
        {"name": p.name or "", "email": p.email or ""}
        for p in doc.planned_recipients
        if p.unit is None
    ]
    return units, outside


def document_json(doc: Document, entries: list[HistoryEntry] | None = None) -> dict[str, Any]:
    """:returns: the API form of a document (with its history when given)."""
    rev = doc.current_revision if doc.has_content else None
    route = doc.route
    body: dict[str, Any] = {
        "id": doc.id,
        "subject": doc.subject,
        "doc_type": doc.doc_type,
        "state": doc.state,
        "state_label": STATE_LABELS.get(doc.state, doc.state),
        "unit": {"id": doc.unit.id, "code": doc.unit.code, "name": doc.unit.name},
        "created_by": doc.created_by.username,
        "created_at": vn_iso(doc.created_at),
        "submitted_at": vn_iso(doc.submitted_at),
        "route": {"code": route.code, "version": route.version, "name": route.name}
        if route
        else None,
        "current_step": doc.current_stage,
        "urgency": doc.urgency,
        "classification": doc.classification,
        "metadata_only": doc.metadata_only,
        "form": doc.form,
        "number": doc.number,
        "symbol": doc.symbol,
        "issued_at": vn_iso(doc.issued_at),
        "issuer": doc.issuer_unit.code if doc.issuer_unit else None,
        "register": doc.register,
        "recalled_at": vn_iso(doc.recalled_at),
        "recall_reason": doc.recall_reason,
        "revision": {
            "number": rev.number,
            "sha256": rev.blob_sha256,
            "size": rev.size,
            "filename": rev.filename,
            "kind": rev.kind,
        }
        if rev
        else None,
        "revisions": len(doc.revisions),
        "tasks": [task_json(t) for t in doc.tasks],
    }
    body["recipients"], body["external_recipients"] = planned_json(doc)
    if entries is not None:
        body["history"] = [
            {
                "seq": e.seq,
                "at": vn_iso(e.at),
                "actor": e.actor,
                "action": e.action,
                "label": e.label,
                "details": e.details,
            }
            for e in entries
        ]
    return body


def comments_json(session: Session, doc: Document) -> list[dict[str, Any]]:
    """:returns: the document's comments, oldest first."""
    rows = session.scalars(
        select(Comment).where(Comment.document_id == doc.id).order_by(Comment.id)
    ).all()
    return [
        {
            "id": c.id,
            "author": c.user.username,
            "author_name": c.user.full_name,
            "body": c.body,
            "created_at": vn_iso(c.created_at),
        }
        for c in rows
    ]


def notifications_json(session: Session, user: User, limit: int = 50) -> list[dict[str, Any]]:
    """:returns: the user's newest notifications."""
    rows = session.scalars(
        select(Notification)
        .where(Notification.user_id == user.id)
        .order_by(Notification.id.desc())
        .limit(limit)
    ).all()
    return [
        {
            "id": n.id,
            "kind": n.kind,
            "message": n.message,
            "document_id": n.document_id,
            "created_at": vn_iso(n.created_at),
            "read": n.read_at is not None,
        }
        for n in rows
    ]


def validation_json(report: ValidationReport) -> dict[str, Any]:
    """:returns: the API form of a validation report."""
    body = report.to_dict()
    body["verdict"] = report.verdict
    return body
