"""workflow: route machinery: applicable stages, assignees, delegates, tasks, deadlines."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import Document, Role, RoleAssignment, RouteStage, Task, Unit, User
from storage.registry_models import Delegation, Notification
from storage.types import utcnow
from workflow.accounts import access
from workflow.documents.states import (
    DocState,
    Event,
    InvalidTransitionError,
    StageAction,
    TaskState,
    event_for,
    next_state,
)
from workflow.errors import ConflictError, ForbiddenError, InvalidInputError
from workflow.vocab import ACTION_LABELS, STATE_LABELS, VN_TZ, vn_iso
from workflow.webhooks import events as webhook_events


def stage_applies(doc: Document, stage: RouteStage) -> bool:
    """:returns: whether the stage's conditions include this document."""
    if stage.when_doc_types and doc.doc_type not in stage.when_doc_types:
        return False
    if stage.when_urgencies and (doc.urgency or "thuong") not in stage.when_urgencies:
        return False
    return not (stage.when_units and doc.unit.code not in stage.when_units)


def stages_of(doc: Document) -> list[RouteStage]:
    """:returns: the route's stages that apply to the document, in order."""
    if doc.route is None:
        return []
    return [s for s in doc.route.stages if stage_applies(doc, s)]


def stage_at(doc: Document, position: int) -> RouteStage:
    """:returns: the stage at ``position`` of the document's route."""
    return next(s for s in stages_of(doc) if s.position == position)


def stage_after(doc: Document, position: int | None) -> RouteStage | None:
    """:returns: the applicable stage after ``position`` (the first one for ``None``)."""
    return next((s for s in stages_of(doc) if position is None or s.position > position), None)


def transition(
    doc: Document, event: Event, next_stage: RouteStage | None, signed: bool = False
) -> None:
    """Apply the state machine, turning a refusal into a clear 409."""
    action = StageAction(next_stage.action) if next_stage else None
    try:
        doc.state = next_state(DocState(doc.state), event, next_stage=action, signed=signed)
    except InvalidTransitionError as exc:
        label = STATE_LABELS.get(doc.state, doc.state)
        raise ConflictError(
            f"Không thể thực hiện thao tác này: văn bản đang ở trạng thái «{label}»."
        ) from exc


def stage_assignees(session: Session, doc: Document, stage: RouteStage) -> list[User]:
    """:returns: the named user, or the holders of the stage's role in its unit."""
    if stage.assignee_user_id is not None:
        user = session.get(User, stage.assignee_user_id)
        return [user] if user is not None and user.active else []
    if stage.assignee_unit_code:
        unit = session.scalars(select(Unit).where(Unit.code == stage.assignee_unit_code)).first()
        unit_id = unit.id if unit else -1
    else:
        unit_id = doc.unit_id
    holders = (
        select(RoleAssignment.user_id)
        .where(RoleAssignment.role == Role(stage.assignee_role), RoleAssignment.unit_id == unit_id)
        .scalar_subquery()
    )
    return list(
        session.scalars(
            select(User).where(User.active.is_(True), User.id.in_(holders)).order_by(User.id)
        )
    )


def add_working_days(start: datetime, days: int) -> datetime:
    """:returns: ``start`` plus ``days`` working days (Monday to Friday, Vietnam time)."""
    local = start.astimezone(VN_TZ)
    added = 0
    while added < days:
        local += timedelta(days=1)
        if local.weekday() < 5:
            added += 1
    return local


def active_delegations(
    session: Session,
    principal_id: int,
    now: datetime,
    action: str | None = None,
    doc_type: str | None = None,
) -> list[Delegation]:
    """:returns: the principal's standing delegations in force now for this scope."""
    rows = session.scalars(
        select(Delegation).where(
            Delegation.from_user_id == principal_id,
            Delegation.revoked_at.is_(None),
            Delegation.task_id.is_(None),
            Delegation.starts_at <= now,
            Delegation.ends_at >= now,
        )
    ).all()
    return [
        d
        for d in rows
        if (not d.actions or action is None or action in d.actions)
        and (not d.doc_types or doc_type is None or doc_type in d.doc_types)
    ]


def notify(
    session: Session, user_id: int, kind: str, message: str, document_id: int | None
) -> None:
    """Add an in-app notification (e-mailed later by the reminder job)."""
    session.add(Notification(user_id=user_id, kind=kind, message=message, document_id=document_id))


def add_task(
    session: Session,
    doc: Document,
    stage: RouteStage,
    assignee_id: int,
    now: datetime,
    on_behalf_of_id: int | None = None,
) -> Task:
    """Create one open task on ``stage`` (with its deadline) and notify the assignee."""
    task = Task(
        document_id=doc.id,
        stage_position=stage.position,
        stage_name=stage.name,
        action=stage.action,
        assignee_id=assignee_id,
        on_behalf_of_id=on_behalf_of_id,
        state=TaskState.OPEN,
        created_at=now,
        due_at=add_working_days(now, stage.deadline_days) if stage.deadline_days else None,
    )
    # Relationships, not only ids: the response is built from this session's objects.
    task.assignee = session.get(User, assignee_id)  # type: ignore[assignment]
    task.on_behalf_of = session.get(User, on_behalf_of_id) if on_behalf_of_id else None
    doc.tasks.append(task)
    label = ACTION_LABELS.get(stage.action, stage.action)
    kind = "delegated" if on_behalf_of_id else "task"
    notify(session, assignee_id, kind, f"Việc mới ({label}): {doc.subject or doc.doc_type}", doc.id)
    webhook_events.emit(
        session,
        "task_assigned",
        lambda: {"task": task_facts(task)},
        document=doc,
        now=now,
    )
    return task


def task_facts(task: Task) -> dict[str, object]:
    """:returns: what a webhook event says of a task."""
    return {
        "id": task.id,
        "stage": task.stage_name,
        "action": task.action,
        "assignee": task.assignee.full_name if task.assignee is not None else None,
        "due_at": vn_iso(task.due_at) if task.due_at else None,
    }


def open_stage(session: Session, doc: Document, stage: RouteStage) -> None:
    """Make ``stage`` current: a task per assignee, plus one per standing delegate."""
    assignees = stage_assignees(session, doc, stage)
    if not assignees:
        raise InvalidInputError(
            f"Bước «{stage.name}» của tuyến trình chưa có người xử lý. "
            "Hãy báo quản trị hệ thống phân công."
        )
    now = utcnow()
    doc.current_stage = stage.position
    for user in assignees:
        add_task(session, doc, stage, user.id, now)
        for delegation in active_delegations(session, user.id, now, stage.action, doc.doc_type):
            add_task(session, doc, stage, delegation.to_user_id, now, on_behalf_of_id=user.id)


def principal_of(task: Task) -> int:
    """:returns: whose responsibility the task is (the delegator for a delegate)."""
    return task.on_behalf_of_id or task.assignee_id


def claim(session: Session, actor: User, task_id: int, actions: set[StageAction]) -> Task:
    """:returns: the actor's open task, checked for kind and delegation.

    :raises ConflictError: already acted on, or another kind of task.
    :raises ForbiddenError: someone else's, or the delegation has ended.
    """
    task = access.get_own_task(session, actor, task_id)
    if task.state != TaskState.OPEN:
        raise ConflictError("Việc này đã được xử lý trước đó; không thể xử lý lại.")
    if StageAction(task.action) not in actions:
        raise ConflictError(
            f"Việc này là bước «{task.stage_name}», không phải thao tác bạn vừa chọn."
        )
    check_delegation(session, actor, task)
    return task


def check_delegation(session: Session, actor: User, task: Task) -> None:
    """A delegate's task needs the delegation still in force.

    :raises ForbiddenError: the delegation has ended or was revoked.
    """
    if task.on_behalf_of_id is not None:
        now = utcnow()
        in_force = session.scalars(
            select(Delegation.id).where(
                Delegation.from_user_id == task.on_behalf_of_id,
                Delegation.to_user_id == actor.id,
                Delegation.revoked_at.is_(None),
                Delegation.starts_at <= now,
                Delegation.ends_at >= now,
            )
        ).first()
        if in_force is None:
            raise ForbiddenError(
                "Ủy quyền cho việc này đã hết hiệu lực; việc thuộc về người ủy quyền."
            )


def close_task(task: Task, actor: User, outcome: str, comment: str | None) -> None:
    """Mark a task done by ``actor``."""
    task.state = TaskState.DONE
    task.outcome = outcome
    task.acted_by = actor
    task.acted_at = utcnow()
    task.comment = (comment or "").strip() or None


def cancel_open_tasks(doc: Document, position: int | None = None) -> None:
    """Cancel the open tasks of the document (of one stage if ``position`` is given)."""
    for task in doc.tasks:
        if task.state == TaskState.OPEN and (position is None or task.stage_position == position):
            task.state = TaskState.CANCELLED


def advance(session: Session, doc: Document, task: Task, *, signed: bool = False) -> bool:
    """After ``task`` was closed, move on if its stage is complete.

    In "any" mode the first answer completes the stage; in "all" mode every principal
    (an assignee, or the delegate acting for them) must have answered.

    :returns: whether the document moved to another stage or state.
    """
    now = utcnow()
    doc.updated_at = now  # bumps the version: concurrent actors on one stage serialise on it
    stage = stage_at(doc, task.stage_position)
    siblings = [t for t in doc.tasks if t.stage_position == stage.position and t.id != task.id]
    principal = principal_of(task)
    for sibling in siblings:
        if sibling.state == TaskState.OPEN and principal_of(sibling) == principal:
            sibling.state = TaskState.CANCELLED
    if stage.mode == "all" and any(t.state == TaskState.OPEN for t in siblings):
        return False
    cancel_open_tasks(doc, stage.position)
    following = stage_after(doc, stage.position)
    transition(doc, event_for(StageAction(stage.action)), following, signed=signed)
    doc.current_stage = following.position if following else None
    if following is not None:
        open_stage(session, doc, following)
    return True
