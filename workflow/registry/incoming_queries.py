"""workflow: incoming documents after receipt: who leads and who works in a receiving
unit, who may see an entry's handling, and what the pages and the API show of it."""

from __future__ import annotations

from typing import Any

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage.models import Document, Role, Task, Unit, User
from storage.registry_models import IncomingEntry, Notification, WorkFile
from storage.types import utcnow
from workflow.accounts import access
from workflow.documents.states import DocState, StageAction, TaskState
from workflow.errors import NotFoundError
from workflow.registry import dispatch as dispatching
from workflow.vocab import STATE_LABELS, vn_iso

# Units whose leaders stand in for a part of the committee that has none of its own.
_PARTS = ("board", "office", "standing")
WORKING_ROLES = (Role.DRAFTER, Role.APPROVER, Role.SIGNER, Role.CLERK)
"""The roles of people who work in a unit (auditors and administrators aside)."""


# --- who leads, who handles ---------------------------------------------------------


def holders(session: Session, role: str, unit_ids: set[int]) -> list[User]:
    users = session.scalars(select(User).where(User.active.is_(True)).order_by(User.id)).all()
    return [u for u in users if any(r.role == role and r.unit_id in unit_ids for r in u.roles)]


def leaders_of(session: Session, unit: Unit, role: str = Role.APPROVER) -> list[User]:
    """:returns: who assigns the incoming documents of ``unit``: the holders of ``role``
    (approver: lãnh đạo) in it, or in the office (Văn phòng) that keeps its registers;
    for a part of the committee (a board, the office) without one, its parent's."""
    current: Unit | None = unit
    while current is not None:
        offices = set(
            session.scalars(
                select(Unit.id).where(Unit.parent_id == current.id, Unit.kind == "office")
            )
        )
        users = holders(session, role, {current.id} | offices)
        if users or current.kind not in _PARTS:
            return users
        current = current.parent
    return []


def members_of(session: Session, unit_id: int) -> list[User]:
    """:returns: the active people working in a unit (auditors and administrators aside)."""
    users = session.scalars(select(User).where(User.active.is_(True)).order_by(User.id)).all()
    return [
        u for u in users if any(r.role in WORKING_ROLES and r.unit_id == unit_id for r in u.roles)
    ]


# --- access ---------------------------------------------------------------------------


def _lock_entry(session: Session, entry_id: int) -> IncomingEntry:
    entry = session.scalars(
        select(IncomingEntry)
        .where(IncomingEntry.id == entry_id)
        .with_for_update(of=IncomingEntry)
        .execution_options(populate_existing=True)
    ).first()
    if entry is None:
        raise NotFoundError(_(dispatching.ENTRY_NOT_FOUND))
    return entry


def can_see(session: Session, actor: User, entry: IncomingEntry) -> bool:
    """:returns: whether ``actor`` may see the entry's handling: the receiving unit's clerks
    and leaders, those party to its handling document, auditors and administrators."""
    if access.oversees(actor):
        return True
    if entry.unit_id in dispatching.clerk_units(session, actor):
        return True
    if actor.id in {u.id for u in leaders_of(session, entry.unit)}:
        return True
    if entry.handling_document_id is None:
        return False
    return is_party(session, actor, entry.handling_document_id)


def is_party(session: Session, actor: User, document_id: int) -> bool:
    """:returns: whether ``actor`` may open the handling document's own page."""
    query = access.visible_documents(actor).where(Document.id == document_id)
    return session.scalars(query).first() is not None


def choices(session: Session, actor: User) -> dict[str, Any]:
    """:returns: what the assign and handle forms offer: units, people (with their units),
    the actor's outgoing documents (a reply) and the open work files of their units."""
    units = session.scalars(select(Unit).order_by(Unit.id)).all()
    people = [
        (u, sorted({r.unit.name for r in u.roles if r.role in WORKING_ROLES}))
        for u in session.scalars(select(User).where(User.active.is_(True)).order_by(User.id))
    ]
    replies = session.scalars(
        access.visible_documents(actor)
        .where(Document.direction == "outgoing", Document.created_by_id == actor.id)
        .order_by(Document.id.desc())
        .limit(50)
    ).all()
    mine = {r.unit_id for r in actor.roles if r.role in WORKING_ROLES}
    files = session.scalars(
        select(WorkFile)
        .where(WorkFile.unit_id.in_(mine), WorkFile.closed_at.is_(None))
        .order_by(WorkFile.id.desc())
    ).all()
    return {
        "units": units,
        "people": [(u, names) for u, names in people if names],
        "replies": replies,
        "workfiles": files,
    }


def get_entry(session: Session, actor: User, entry_id: int, lock: bool = False) -> IncomingEntry:
    """:returns: the entry if ``actor`` may see it.

    :raises NotFoundError: no such entry, or not visible (same answer, on purpose).
    """
    if lock:
        entry = _lock_entry(session, entry_id)
    else:
        entry = session.get(IncomingEntry, entry_id)  # type: ignore[assignment]
        if entry is None:
            raise NotFoundError(_(dispatching.ENTRY_NOT_FOUND))
    if not can_see(session, actor, entry):
        raise NotFoundError(_(dispatching.ENTRY_NOT_FOUND))
    return entry


# --- what clerks, leaders and handlers see --------------------------------------------


def _person(user: User | None) -> dict[str, Any] | None:
    if user is None:
        return None
    return {"id": user.id, "username": user.username, "full_name": user.full_name}


def handling(session: Session, entry: IncomingEntry) -> dict[str, Any] | None:
    """:returns: where the entry's handling stands (``None`` before it starts)."""
    if entry.handling_document_id is None:
        return None
    doc = session.get(Document, entry.handling_document_id)
    if doc is None:
        return None
    now = utcnow()
    done = [t for t in doc.tasks if t.state == TaskState.DONE]
    assigned = next((t for t in done if t.action == StageAction.ASSIGN), None)
    handled = next((t for t in done if t.action == StageAction.HANDLE), None)
    open_tasks = [t for t in doc.tasks if t.state == TaskState.OPEN]
    handle_tasks = [t for t in doc.tasks if t.action == StageAction.HANDLE]
    due = min((t.due_at for t in open_tasks if t.due_at), default=None)
    if due is None and handle_tasks:
        due = next((t.due_at for t in handle_tasks if t.due_at), None)
    unit = session.get(Unit, entry.assigned_unit_id) if entry.assigned_unit_id else None
    lead = session.get(User, entry.lead_user_id) if entry.lead_user_id else None
    return {
        "document_id": doc.id,
        "state": doc.state,
        "state_label": STATE_LABELS.get(doc.state, doc.state),
        "assigned_unit": {"id": unit.id, "code": unit.code, "name": unit.name} if unit else None,
        "assignee": _person(lead),
        "assigned_by": _person(assigned.acted_by) if assigned else None,
        "assigned_at": vn_iso(assigned.acted_at) if assigned else None,
        "note": assigned.comment if assigned else None,
        "waiting_for": [_person(t.assignee) for t in open_tasks],
        "due_at": vn_iso(due),
        "overdue": bool(open_tasks and due is not None and due < now),
        "handled_by": _person(handled.acted_by) if handled else None,
        "handled_at": vn_iso(handled.acted_at) if handled else None,
        "comment": handled.comment if handled else None,
        "reply_document_id": entry.reply_document_id,
    }


def register_text(info: dict[str, Any] | None) -> tuple[str | None, str | None]:
    """:returns: the register's "who handles it" cell and a handling note, from
    :func:`handling` (Vietnamese, as the register is printed)."""
    if info is None:
        return None, None
    unit = info["assigned_unit"]
    if unit is None:
        return None, "Chờ phân công xử lý" + (" (quá hạn)" if info["overdue"] else "")
    who = unit["name"] + (
        f" - {info['assignee']['full_name']} (chủ trì)" if info["assignee"] else ""
    )
    due = info["due_at"]
    if info["state"] == DocState.HANDLED:
        note = "Đã xử lý" + (f" ngày {_dmy(info['handled_at'])}" if info["handled_at"] else "")
    else:
        note = "Đang xử lý" + (f", hạn {_dmy(due)}" if due else "")
        note += " (quá hạn)" if info["overdue"] else ""
    return who, note


def _dmy(iso: str) -> str:
    return f"{iso[8:10]}/{iso[5:7]}/{iso[0:4]}"


# --- what waits for a clerk -----------------------------------------------------------


def pending_by_unit(session: Session, unit_ids: set[int]) -> dict[int, int]:
    """:returns: the number of entries waiting for receipt, per unit of ``unit_ids``
    (units with none included, as 0)."""
    counts = dict.fromkeys(unit_ids, 0)
    if not unit_ids:
        return counts
    rows = session.execute(
        select(IncomingEntry.unit_id, func.count())
        .where(IncomingEntry.unit_id.in_(unit_ids), IncomingEntry.state == "pending")
        .group_by(IncomingEntry.unit_id)
    ).all()
    counts.update({unit_id: count for unit_id, count in rows})
    return counts


def waiting_units(session: Session, actor: User) -> list[tuple[Unit, int]]:
    """:returns: the units whose incoming documents ``actor`` receives as clerk, each with
    its number of entries waiting for receipt (the unit switcher and the inbox)."""
    counts = pending_by_unit(session, dispatching.clerk_units(session, actor))
    units = [u for u in (session.get(Unit, i) for i in sorted(counts)) if u is not None]
    return [(u, counts[u.id]) for u in units]


def default_incoming_unit(session: Session, actor: User) -> int | None:
    """:returns: the unit the incoming page opens on: the first of the clerk's units with
    something waiting, else the clerk's register unit."""
    waiting = [u.id for u, count in waiting_units(session, actor) if count]
    return waiting[0] if waiting else dispatching.default_clerk_unit(session, actor)


def default_register_unit(session: Session, actor: User) -> int | None:
    """:returns: the unit a register opens on: the clerk's own; for an auditor or an
    administrator who keeps none, the bloc committee (the first issuing unit)."""
    own = dispatching.default_clerk_unit(session, actor)
    if own is not None:
        return own
    if not (access.is_auditor(actor) or actor.has_role(Role.ADMIN)):
        return None
    return session.scalars(
        select(Unit.id).where(Unit.kind.in_(dispatching.ISSUER_KINDS)).order_by(Unit.id)
    ).first()


def menu_counts(session: Session, actor: User) -> dict[str, int]:
    """:returns: what waits for ``actor``, for the top bar: ``tasks`` (open tasks and
    returned documents to revise), ``notifications`` (unread), ``incoming`` (entries
    waiting for receipt in the units the actor receives for)."""
    # One round trip for the three counts (the bar is on every page).
    tasks, returned, unread = session.execute(
        select(
            select(func.count())
            .select_from(Task)
            .where(Task.assignee_id == actor.id, Task.state == TaskState.OPEN)
            .scalar_subquery(),
            select(func.count())
            .select_from(Document)
            .where(Document.created_by_id == actor.id, Document.state == DocState.RETURNED)
            .scalar_subquery(),
            select(func.count())
            .select_from(Notification)
            .where(Notification.user_id == actor.id, Notification.read_at.is_(None))
            .scalar_subquery(),
        )
    ).one()
    incoming = sum(pending_by_unit(session, dispatching.clerk_units(session, actor)).values())
    waiting = [u for u, count in waiting_units(session, actor) if count]
    return {
        "tasks": (tasks or 0) + (returned or 0) + len(waiting),
        "notifications": unread or 0,
        "incoming": incoming,
    }
