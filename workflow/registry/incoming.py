"""workflow: handling of incoming documents after receipt (xử lý văn bản đến).

A received entry is put on the incoming route (seed ``van-ban-den``): the receipt stage is
done by the clerk who received it, a leader of the receiving unit assigns it to a unit
(optionally a lead person, a deadline in working days and a note), and the assigned unit
handles it and marks it done (optionally naming a reply document and a work file).

The route runs on a *handling document*: a :class:`Document` whose ``direction`` is the
entry's source, whose only revision is the received PDF, and whose steps are ordinary
tasks. So the steps appear in "Việc cần xử lý" with their deadlines and overdue flags,
are reminded, may be delegated, and their history is the audit log.

Use-cases take the session and never commit; the views do.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from signing.profiles import TrustConfig
from storage import audit
from storage.blobs import BlobStore
from storage.models import Document, Revision, Route, RouteStage, Task, Unit, User
from storage.registry_models import IncomingEntry, WorkFileItem
from storage.types import utcnow
from workflow.accounts import access
from workflow.documents import routing
from workflow.documents.states import DocState, Event, StageAction, TaskState
from workflow.errors import ConflictError, ForbiddenError, InvalidInputError
from workflow.records import workfiles
from workflow.registry import dispatch as dispatching
from workflow.registry import incoming_queries as incoming_views
from workflow.setup.system import INCOMING_ROUTE
from workflow.vocab import vn_iso

MAX_NOTE = 4000
OPENED = "incoming:opened"
ASSIGNED = "incoming:assigned"
HANDLED = "incoming:handled"


def _unique(users: list[User]) -> list[User]:
    return list({u.id: u for u in users}.values())


def incoming_route(session: Session) -> Route | None:
    """:returns: the newest active incoming route (the seeded one first), if any."""
    routes = session.scalars(
        select(Route)
        .where(Route.kind == "incoming", Route.active.is_(True))
        .order_by(Route.version.desc(), Route.id.desc())
    ).all()
    return next((r for r in routes if r.code == INCOMING_ROUTE), routes[0] if routes else None)


def _stage(doc: Document, action: StageAction) -> RouteStage | None:
    return next((s for s in routing.stages_of(doc) if s.action == action), None)


def _assigners(session: Session, doc: Document, stage: RouteStage, unit: Unit) -> list[User]:
    if stage.assignee_user_id is not None or stage.assignee_unit_code:
        return routing.stage_assignees(session, doc, stage)
    return incoming_views.leaders_of(session, unit, stage.assignee_role)


def _open_for(session: Session, doc: Document, stage: RouteStage, users: list[User]) -> None:
    """Open ``stage`` for ``users``, plus one task per standing delegate (as open_stage)."""
    now = utcnow()
    doc.current_stage = stage.position
    for user in _unique(users):
        routing.add_task(session, doc, stage, user.id, now)
        for d in routing.active_delegations(session, user.id, now, stage.action, doc.doc_type):
            routing.add_task(session, doc, stage, d.to_user_id, now, on_behalf_of_id=user.id)


# --- starting the route at receipt ----------------------------------------------------


def start_handling(
    session: Session, blobs: BlobStore, entry: IncomingEntry, clerk: User
) -> Document | None:
    """Put a received entry on the incoming route: the receipt stage is done by ``clerk``
    and the receiving unit's leaders get the task of assigning it.

    :returns: the handling document, or ``None`` (the entry stays as received) when there
        is no incoming route with an assign stage, or nobody leads the receiving unit.
    """
    route = incoming_route(session)
    if route is None or entry.state != "received" or entry.handling_document_id is not None:
        return None
    now = utcnow()
    doc = Document(
        unit_id=entry.unit_id,
        created_by_id=clerk.id,
        subject=entry.subject,
        doc_type=entry.doc_type or "CV",
        state=DocState.DRAFT,
        route_id=route.id,
        created_at=now,
        updated_at=now,
        submitted_at=now,
        direction=entry.source,
    )
    doc.unit, doc.route, doc.created_by = entry.unit, route, clerk
    assign = _stage(doc, StageAction.ASSIGN)
    leaders = _assigners(session, doc, assign, entry.unit) if assign else []
    if assign is None or not leaders:
        return None
    session.add(doc)
    session.flush()
    if entry.blob_sha256 is not None:  # a paper entry may have no scan: no content then
        size = blobs.size(entry.blob_sha256) if blobs.exists(entry.blob_sha256) else 0
        doc.revisions.append(
            Revision(
                number=1,
                blob_sha256=entry.blob_sha256,
                size=size,
                filename=f"van-ban-den-{entry.number or entry.id}.pdf",
                kind="incoming",
                created_by_id=clerk.id,
                created_at=now,
            )
        )
    receipt = _stage(doc, StageAction.RECEIVE)
    if receipt is not None and receipt.position < assign.position:
        doc.tasks.append(
            Task(
                stage_position=receipt.position,
                stage_name=receipt.name,
                action=receipt.action,
                assignee=clerk,
                state=TaskState.DONE,
                outcome="received",
                acted_by=clerk,
                acted_at=entry.received_at or now,
                created_at=entry.received_at or now,
            )
        )
    routing.transition(doc, Event.SUBMIT, assign)
    _open_for(session, doc, assign, leaders)
    session.flush()
    entry.handling_document_id = doc.id
    audit.append(
        session,
        OPENED,
        actor_id=clerk.id,
        object_type="document",
        object_id=doc.id,
        details={
            "entry": entry.id,
            "unit": entry.unit.code,
            "number": entry.number,
            "route": route.code,
            "route_version": route.version,
            "leaders": [u.username for u in leaders],
        },
    )
    return doc


def receive(
    session: Session, blobs: BlobStore, trust: TrustConfig, actor: User, entry_id: int
) -> IncomingEntry:
    """Receive an entry after signature validation (see :func:`dispatching.receive`) and,
    when it is valid, put it on the incoming route for a leader to assign."""
    entry = dispatching.receive(session, blobs, trust, actor, entry_id)
    if entry.state == "received":
        start_handling(session, blobs, entry, actor)
    return entry


def _check_received(entry: IncomingEntry) -> None:
    if entry.state == "pending":
        raise ConflictError(
            _(
                "Văn bản đến chưa được tiếp nhận (chưa kiểm tra chữ ký số, chưa có số đến); "
                "văn thư cần tiếp nhận trước khi phân công xử lý."
            )
        )
    if entry.state == "returned":
        raise ConflictError(
            _(
                "Văn bản đến đã bị trả lại nơi gửi vì chữ ký số không hợp lệ; không phân công "
                "hay xử lý văn bản này."
            )
        )


def _own_open_task(doc: Document, actor: User, action: StageAction) -> Task | None:
    return next(
        (
            t
            for t in doc.tasks
            if t.state == TaskState.OPEN and t.action == action and t.assignee_id == actor.id
        ),
        None,
    )


# --- assign ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Assignment:
    """What a leader decides (bút phê): who handles the entry, by when, with what note."""

    unit_id: Any
    """The id of the unit in charge (chủ trì)."""
    assignee_id: Any = None
    """Optionally the lead person (người chủ trì), a member of that unit."""
    deadline_days: Any = None
    """Optionally the deadline in working days (default: the stage's)."""
    note: Any = None
    """Optionally the leader's note (ý kiến chỉ đạo)."""


def _int(value: Any, what: str) -> int | None:
    if value in (None, ""):
        return None
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidInputError(_("'%(what)s' phải là một số nguyên.", what=what))
    return value


def _note(value: Any, what: str = "note") -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInputError(_("'%(what)s' phải là chuỗi.", what=what))
    text = value.strip()
    if len(text) > MAX_NOTE:
        raise InvalidInputError(_("Ý kiến quá dài (tối đa %(n)s ký tự).", n=MAX_NOTE))
    return text or None


def _checked(session: Session, choice: Assignment) -> tuple[Unit, User | None, int | None]:
    unit_id = _int(choice.unit_id, "unit")
    if unit_id is None:
        raise InvalidInputError(_("Hãy chọn đơn vị được giao xử lý ('unit': mã số đơn vị)."))
    unit = session.get(Unit, unit_id)
    if unit is None:
        raise InvalidInputError(_("Không có đơn vị với mã số %(id)s.", id=unit_id))
    lead = None
    lead_id = _int(choice.assignee_id, "assignee")
    if lead_id is not None:
        lead = session.get(User, lead_id)
        if lead is None or not lead.active:
            raise InvalidInputError(_("Không có người dùng với mã số %(id)s.", id=lead_id))
        if lead.id not in {u.id for u in incoming_views.members_of(session, unit.id)}:
            raise InvalidInputError(
                _(
                    "%(name)s không phải cán bộ của %(unit)s; "
                    "người chủ trì phải thuộc đơn vị được giao.",
                    name=lead.full_name,
                    unit=unit.name,
                )
            )
    days = _int(choice.deadline_days, "deadline_days")
    if days is not None and not 0 < days <= 365:
        raise InvalidInputError(_("Hạn xử lý là số ngày làm việc từ 1 đến 365."))
    return unit, lead, days


def _handlers(session: Session, stage: RouteStage, unit: Unit, lead: User | None) -> list[User]:
    if lead is not None:
        return [lead]
    users = incoming_views.holders(
        session, stage.assignee_role, {unit.id}
    ) or incoming_views.members_of(session, unit.id)
    if not users:
        raise InvalidInputError(
            _(
                "%(unit)s chưa có cán bộ nào trên hệ thống để giao xử lý; hãy chọn người "
                "chủ trì hoặc đơn vị khác.",
                unit=unit.name,
            )
        )
    return users


def assign(
    session: Session,
    blobs: BlobStore,
    actor: User,
    entry_id: int,
    choice: Assignment,
) -> IncomingEntry:
    """A leader of the receiving unit assigns a received entry to a unit (and optionally a
    lead person, a deadline and a note): the assign task closes, the handling tasks open.

    :raises ConflictError: not received, returned, or already assigned.
    :raises ForbiddenError: the actor is not a leader holding the assign task.
    :raises InvalidInputError: an unknown unit or person, a bad deadline.
    """
    entry = incoming_views.get_entry(session, actor, entry_id, lock=True)
    _check_received(entry)
    if entry.handling_document_id is None:
        # Received before the route existed, or before the unit had a leader: start now.
        if actor.id not in {u.id for u in incoming_views.leaders_of(session, entry.unit)}:
            raise ForbiddenError(
                _("Chỉ lãnh đạo của đơn vị nhận mới được phân công xử lý văn bản đến.")
            )
        clerk = entry.received_by or actor
        if start_handling(session, blobs, entry, clerk) is None:
            raise ConflictError(
                _("Chưa có tuyến xử lý văn bản đến (tuyến có bước phân công); hãy báo quản trị.")
            )
    doc = access.lock_document(session, entry.handling_document_id or 0)
    if doc.state != DocState.AWAITING_ASSIGNMENT:
        unit = session.get(Unit, entry.assigned_unit_id or 0)
        if unit is not None:
            raise ConflictError(
                _(
                    "Văn bản đến này đã được phân công xử lý (%(unit)s); không phân công lại.",
                    unit=unit.name,
                )
            )
        raise ConflictError(_("Văn bản đến này đã được phân công xử lý; không phân công lại."))
    own = _own_open_task(doc, actor, StageAction.ASSIGN)
    if own is None:
        raise ForbiddenError(
            _(
                "Chỉ lãnh đạo đơn vị nhận được giao việc phân công mới được phân công xử lý "
                "văn bản đến này."
            )
        )
    task = routing.claim(session, actor, own.id, {StageAction.ASSIGN})
    unit, lead, days = _checked(session, choice)
    note = _note(choice.note)
    following = routing.stage_after(doc, task.stage_position)
    handlers = (
        _handlers(session, following, unit, lead)
        if following and following.action == StageAction.HANDLE
        else []
    )
    routing.close_task(task, actor, "assigned", note)
    routing.cancel_open_tasks(doc, task.stage_position)
    routing.transition(doc, Event.ASSIGN, following)
    now = utcnow()
    doc.updated_at = now
    doc.current_stage = None
    if following is not None and handlers:
        _open_for(session, doc, following, handlers)
        if days is not None:
            due = routing.add_working_days(now, days)
            for t in doc.tasks:
                if t.state == TaskState.OPEN and t.stage_position == following.position:
                    t.due_at = due
    elif following is not None:
        routing.open_stage(session, doc, following)
    entry.assigned_unit_id = unit.id
    entry.lead_user_id = lead.id if lead else None
    session.flush()
    due_at = next((t.due_at for t in doc.tasks if t.state == TaskState.OPEN), None)
    audit.append(
        session,
        ASSIGNED,
        actor_id=actor.id,
        object_type="document",
        object_id=doc.id,
        details={
            "entry": entry.id,
            "task": task.id,
            "unit": unit.code,
            "assignee": lead.username if lead else None,
            "handlers": [u.username for u in handlers],
            "deadline_days": days,
            "due_at": vn_iso(due_at),
            "note": note,
            "on_behalf_of": task.on_behalf_of_id,
        },
    )
    return entry


# --- handle ---------------------------------------------------------------------------


def _attach_workfile(
    session: Session, actor: User, entry: IncomingEntry, workfile_id: int, now: datetime
) -> None:
    wf = workfiles.get_visible_workfile(session, actor, workfile_id)
    if wf.unit_id not in {r.unit_id for r in actor.roles if r.role in incoming_views.WORKING_ROLES}:
        raise ForbiddenError(_("Chỉ cán bộ của đơn vị lập hồ sơ mới được bổ sung vào hồ sơ."))
    if wf.closed_at is not None:
        raise ConflictError(_("Hồ sơ công việc đã đóng; không thể bổ sung văn bản đến."))
    if any(item.incoming_entry_id == entry.id for item in wf.items):
        return
    item = WorkFileItem(incoming_entry_id=entry.id, added_by_id=actor.id, added_at=now)
    wf.items.append(item)
    session.flush()
    audit.append(
        session,
        "workfile:attached",
        actor_id=actor.id,
        object_type="workfile",
        object_id=wf.id,
        details={"item": item.id, "incoming_entry_id": entry.id, "offline": False},
        at=now,
    )


def complete(
    session: Session,
    actor: User,
    entry_id: int,
    *,
    comment: Any = None,
    reply_document_id: Any = None,
    workfile_id: Any = None,
) -> IncomingEntry:
    """The assigned unit marks the entry handled (đã xử lý), optionally naming the reply
    document and a work file the entry goes into.

    :raises ConflictError: not received, returned, not yet assigned, or already handled.
    :raises ForbiddenError: the actor holds no handling task of the entry.
    """
    entry = incoming_views.get_entry(session, actor, entry_id, lock=True)
    _check_received(entry)
    if entry.handling_document_id is None:
        raise ConflictError(_("Văn bản đến này chưa được lãnh đạo phân công xử lý."))
    doc = access.lock_document(session, entry.handling_document_id)
    if doc.state == DocState.AWAITING_ASSIGNMENT:
        raise ConflictError(_("Văn bản đến này chưa được lãnh đạo phân công xử lý."))
    if doc.state == DocState.HANDLED:
        raise ConflictError(_("Văn bản đến này đã được xử lý xong; không xử lý lại."))
    own = _own_open_task(doc, actor, StageAction.HANDLE)
    if own is None:
        raise ForbiddenError(
            _(
                "Chỉ cán bộ của đơn vị được giao (hoặc người chủ trì) mới được xử lý văn bản đến này."
            )
        )
    task = routing.claim(session, actor, own.id, {StageAction.HANDLE})
    text = _note(comment, "comment")
    reply_id = _int(reply_document_id, "reply_document")
    reply = None
    if reply_id is not None:
        reply = access.get_visible_document(session, actor, reply_id)
        if reply.direction != "outgoing":
            raise InvalidInputError(_("Văn bản trả lời phải là một văn bản đi (do đơn vị soạn)."))
    wf_id = _int(workfile_id, "work_file")
    now = utcnow()
    if wf_id is not None:
        _attach_workfile(session, actor, entry, wf_id, now)
    routing.close_task(task, actor, "handled", text)
    routing.advance(session, doc, task)
    entry.reply_document_id = reply.id if reply else None
    # The leader who assigned it is told it is done.
    for leader_task in doc.tasks:
        if leader_task.action == StageAction.ASSIGN and leader_task.acted_by_id is not None:
            routing.notify(
                session,
                leader_task.acted_by_id,
                "handled",
                f"Văn bản đến số {entry.number} đã được xử lý: {entry.subject[:200]}",
                doc.id,
            )
    session.flush()
    audit.append(
        session,
        HANDLED,
        actor_id=actor.id,
        object_type="document",
        object_id=doc.id,
        details={
            "entry": entry.id,
            "task": task.id,
            "comment": text,
            "reply_document": reply.id if reply else None,
            "work_file": wf_id,
            "on_behalf_of": task.on_behalf_of_id,
        },
    )
    return entry
