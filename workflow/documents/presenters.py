"""workflow: what the document page shows about a document (the API's answers are the
models of :mod:`workflow.schemas.documents`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload, lazyload

from storage.audit import AuditAction
from storage.models import AuditEvent, Document, User
from storage.registry_models import Comment, Notification
from workflow.documents import routing
from workflow.documents.states import DocState, TaskState
from workflow.vocab import AUDIT_LABELS, IN_REVIEW_LABELS, vn_iso


@dataclass(frozen=True)
class HistoryEntry:
    """One line of a document's history."""

    seq: int
    at: Any
    actor: str
    action: str
    label: str
    details: dict[str, Any]


def history(session: Session, doc: Document, *, views: bool = True) -> list[HistoryEntry]:
    """:returns: every audit entry about the document, oldest first (``views``: the views
    too, else every other entry: see :func:`readers` for those)."""
    query = (
        select(AuditEvent, User.full_name)
        .outerjoin(User, User.id == AuditEvent.actor_id)
        .where(AuditEvent.object_type == "document", AuditEvent.object_id == str(doc.id))
        .order_by(AuditEvent.seq)
    )
    if not views:
        query = query.where(AuditEvent.action != AuditAction.VIEWED)
    rows = session.execute(query).all()
    return [
        HistoryEntry(
            ev.seq, ev.at, name or "", ev.action, AUDIT_LABELS.get(ev.action, ev.action), ev.details
        )
        for ev, name in rows
    ]


@dataclass(frozen=True)
class Reader:
    """Someone who viewed a document: how often, and when last."""

    name: str
    views: int
    last_at: Any


def readers(session: Session, doc: Document) -> list[Reader]:
    """:returns: who viewed the document, the latest reader first: one line per person
    however often they looked (a document read by many people is read every second, and
    its page must not grow with every view; each view stays in the audit log)."""
    last = func.max(AuditEvent.at)
    rows = session.execute(
        select(User.full_name, func.count(), last)
        .select_from(AuditEvent)
        .outerjoin(User, User.id == AuditEvent.actor_id)
        .where(
            AuditEvent.object_type == "document",
            AuditEvent.object_id == str(doc.id),
            AuditEvent.action == AuditAction.VIEWED,
        )
        .group_by(AuditEvent.actor_id, User.full_name)
        .order_by(last.desc(), User.full_name)
    ).all()
    return [Reader(name or "", int(count), at) for name, count, at in rows]


def stage_timeline(doc: Document) -> list[dict[str, Any]]:
    """:returns: the route's stages with their tasks and status (done/current/next)."""
    timeline = []
    for stage in routing.stages_of(doc):
        tasks = [t for t in doc.tasks if t.stage_position == stage.position]
        latest = [t for t in tasks if t.state != TaskState.CANCELLED] or tasks
        last = max(latest, key=lambda t: t.id, default=None)
        if doc.current_stage == stage.position:
            status = "current"
        elif (
            doc.current_stage is None
            and last is not None
            and last.state == TaskState.DONE
            and last.outcome in ("returned", "rejected")
            and doc.state in (DocState.RETURNED, DocState.REJECTED)
        ):
            status = last.outcome  # the stage that sent it back did not finish
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
        session.scalars(
            select(Comment)
            .where(Comment.document_id == doc.id)
            .options(joinedload(Comment.user).options(lazyload(User.roles)))
            .order_by(Comment.id)
        )
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


@dataclass(frozen=True)
class ReturnNote:
    """Why a document came back to its drafter: the last return's comment."""

    comment: str
    by: str
    """Who returned it (full name)."""
    stage: str
    at: Any


def return_note(doc: Document) -> ReturnNote | None:
    """:returns: the comment of the return that sent ``doc`` back, while it is returned."""
    if doc.state != DocState.RETURNED:
        return None
    returns = [t for t in doc.tasks if t.outcome == "returned" and t.acted_at is not None]
    if not returns:
        return None
    task = max(returns, key=lambda t: (t.acted_at, t.id))
    who = task.acted_by.full_name if task.acted_by is not None else ""
    return ReturnNote(task.comment or "", who, task.stage_name, task.acted_at)


def state_code_label(doc: Document, labels: dict[str, str]) -> str:
    """:returns: the untranslated label of the document's state, named after the stage
    it stands at while in review (a format check is not a request for approval)."""
    if doc.state == DocState.IN_REVIEW and doc.current_stage is not None:
        stage = next((s for s in routing.stages_of(doc) if s.position == doc.current_stage), None)
        if stage is not None and stage.action in IN_REVIEW_LABELS:
            return IN_REVIEW_LABELS[stage.action]
    return labels.get(doc.state, doc.state)
