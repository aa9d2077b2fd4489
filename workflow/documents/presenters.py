"""workflow: what the document page shows about a document (the API's answers are the
models of :mod:`workflow.schemas.documents`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import AuditEvent, Document, User
from storage.registry_models import Comment, Notification
from workflow.documents import routing
from workflow.documents.states import TaskState
from workflow.vocab import AUDIT_LABELS, vn_iso


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


def comments_of(session: Session, doc: Document) -> list[Comment]:
    """:returns: the document's comments, oldest first."""
    return list(
        session.scalars(select(Comment).where(Comment.document_id == doc.id).order_by(Comment.id))
    )


def comments_json(session: Session, doc: Document) -> list[dict[str, Any]]:
    """:returns: the document's comments, oldest first, for its page."""
    rows = comments_of(session, doc)
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


def latest_notifications(session: Session, user: User, limit: int = 50) -> list[Notification]:
    """:returns: the user's newest notifications."""
    return list(
        session.scalars(
            select(Notification)
            .where(Notification.user_id == user.id)
            .order_by(Notification.id.desc())
            .limit(limit)
        )
    )
