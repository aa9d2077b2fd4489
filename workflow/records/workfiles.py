"""workflow: work files (hồ sơ công việc): create, attach, close, and the derived
"processed online" flag behind target T3."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from storage import audit
from storage.models import Document, Role, Signature, Unit, User
from storage.registry_models import IncomingEntry, WorkFile, WorkFileItem
from workflow.accounts import access
from workflow.coverage import ledger as coverage
from workflow.documents.states import DocState, StageAction, TaskState
from workflow.errors import ConflictError, ForbiddenError, InvalidInputError, NotFoundError
from workflow.i18n import N_
from workflow.vocab import VN_TZ, vn_iso

NOT_FOUND = N_("Không tìm thấy hồ sơ công việc, hoặc bạn không có quyền xem hồ sơ này.")
MAX_TITLE = 1000
MAX_NOTE = 4000
# A route that ended in one of these states was processed to its end in the system.
FINISHED_STATES = {DocState.APPROVED, DocState.SIGNED, DocState.ISSUED, DocState.REJECTED}
# Roles that may work on a unit's files (an auditor only reads).
WORKING_ROLES = (Role.DRAFTER, Role.APPROVER, Role.SIGNER, Role.CLERK, Role.ADMIN)


@dataclass(frozen=True)
class ItemCheck:
    """Whether one item of a work file was processed in the system."""

    online: bool
    """True iff the item went through the system end to end."""
    reason: str | None
    """Why not (Vietnamese), for the drill-down; ``None`` when online."""


def _member_units(user: User) -> set[int]:
    return {r.unit_id for r in user.roles}


def _working_units(user: User) -> set[int]:
    return {r.unit_id for r in user.roles if r.role in WORKING_ROLES}


def visible_workfiles(user: User) -> Select[WorkFile]:
    """:returns: a query of the work files of the user's units (all for auditors)."""
    query = select(WorkFile)
    if access.is_auditor(user):
        return query
    return query.where(WorkFile.unit_id.in_(_member_units(user)))


def get_visible_workfile(session: Session, user: User, workfile_id: int) -> WorkFile:
    """:returns: the work file if ``user`` may see it.

    :raises NotFoundError: no such file, or not visible (same answer, on purpose).
    """
    wf = session.scalars(visible_workfiles(user).where(WorkFile.id == workfile_id)).first()
    if wf is None:
        raise NotFoundError(_(NOT_FOUND))
    return wf


def _require_worker(user: User, wf: WorkFile) -> None:
    if wf.unit_id not in _working_units(user):
        raise ForbiddenError(
            _("Bạn chỉ được xem hồ sơ này; chỉ cán bộ của đơn vị mới được cập nhật.")
        )


def _code_taken(session: Session, unit_id: int, code: str) -> bool:
    query = select(WorkFile.id).where(WorkFile.unit_id == unit_id, WorkFile.code == code)
    return session.scalars(query).first() is not None


def _clean(value: str | None, limit: int) -> str:
    return " ".join((value or "").split())[:limit]


def create_workfile(
    session: Session,
    actor: User,
    *,
    title: str | None,
    code: str | None = None,
    unit_code: str | None = None,
    classified: bool = False,
    form: str = "electronic",
    now: datetime,
) -> WorkFile:
    """Open a work file in one of the actor's units (default: the first they work in);
    ``form="paper"``: a file kept on paper (never processed online).

    :raises InvalidInputError: no title, a bad code or an unknown unit.
    :raises ForbiddenError: the actor does not work in that unit.
    :raises ConflictError: the code is already used in the unit.
    """
    title = _clean(title, MAX_TITLE + 1)
    if not title:
        raise InvalidInputError(_("Vui lòng nhập tiêu đề hồ sơ công việc."))
    if len(title) > MAX_TITLE:
        raise InvalidInputError(_("Tiêu đề hồ sơ quá dài (tối đa %(n)s ký tự).", n=MAX_TITLE))
    units = _working_units(actor)
    if unit_code:
        unit = session.scalars(select(Unit).where(Unit.code == unit_code)).first()
        if unit is None:
            raise InvalidInputError(_("Không có đơn vị «%(code)s».", code=unit_code))
        if unit.id not in units:
            raise ForbiddenError(_("Bạn chỉ được lập hồ sơ công việc của đơn vị mình."))
    elif units:
        unit = session.get(Unit, min(units))
    else:
        raise ForbiddenError(_("Tài khoản của bạn không được lập hồ sơ công việc."))
    assert unit is not None  # noqa: S101 - ids come from the actor's roles
    code = (code or "").strip()
    if code:
        if len(code) > 64 or any(c.isspace() for c in code):
            raise InvalidInputError(_("Mã hồ sơ tối đa 64 ký tự, không chứa khoảng trắng."))
        if _code_taken(session, unit.id, code):
            raise ConflictError(_("Mã hồ sơ «%(code)s» đã được dùng trong đơn vị.", code=code))
    else:
        count = session.scalar(
            select(func.count()).select_from(WorkFile).where(WorkFile.unit_id == unit.id)
        )
        number, year = (count or 0) + 1, now.astimezone(VN_TZ).year
        while _code_taken(session, unit.id, code := f"HS-{unit.code}-{year}-{number:03d}"):
            number += 1
    wf = WorkFile(
        unit_id=unit.id,
        code=code,
        title=title,
        owner_id=actor.id,
        classified=classified,
        form=form,
        opened_at=now,
    )
    wf.unit = unit
    wf.owner = actor
    session.add(wf)
    session.flush()
    audit.append(
        session,
        "workfile:created",
        actor_id=actor.id,
        object_type="workfile",
        object_id=wf.id,
        details={"code": code, "unit": unit.code, "classified": classified, "form": form},
        at=now,
    )
    return wf


def attach(
    session: Session,
    actor: User,
    workfile_id: int,
    *,
    document_id: int | None = None,
    offline_note: str | None = None,
    now: datetime,
) -> WorkFileItem:
    """Add a document the actor can see, or a step done on paper, to an open work file.

    :raises InvalidInputError: neither or both of a document and a note.
    :raises ConflictError: the file is closed, or the document is already in it.
    """
    wf = get_visible_workfile(session, actor, workfile_id)
    _require_worker(actor, wf)
    if wf.closed_at is not None:
        raise ConflictError(_("Hồ sơ đã đóng; không thể bổ sung thành phần."))
    note = (offline_note or "").strip()
    if (document_id is None) == (not note):
        raise InvalidInputError(
            _(
                "Cần đúng một trong hai: 'document_id' (văn bản trên hệ thống) hoặc "
                "'offline_note' (bước xử lý trên giấy)."
            )
        )
    if len(note) > MAX_NOTE:
        raise InvalidInputError(_("Ghi chú quá dài (tối đa %(n)s ký tự).", n=MAX_NOTE))
    doc = None
    if document_id is not None:
        doc = access.get_visible_document(session, actor, document_id)
        if any(item.document_id == doc.id for item in wf.items):
            raise ConflictError(_("Văn bản này đã có trong hồ sơ."))
    item = WorkFileItem(
        document_id=doc.id if doc else None,
        offline_note=note or None,
        added_by_id=actor.id,
        added_at=now,
    )
    item.document = doc
    wf.items.append(item)
    session.flush()
    audit.append(
        session,
        "workfile:attached",
        actor_id=actor.id,
        object_type="workfile",
        object_id=wf.id,
        details={"item": item.id, "document_id": item.document_id, "offline": bool(note)},
        at=now,
    )
    return item


def close(session: Session, actor: User, workfile_id: int, *, now: datetime) -> WorkFile:
    """Close a work file and record whether it was processed online (derived, never ticked).

    :raises ForbiddenError: only the owner or a leader of the unit closes it.
    :raises ConflictError: already closed.
    """
    wf = get_visible_workfile(session, actor, workfile_id)
    leader = wf.unit_id in actor.units_with(Role.APPROVER) | actor.units_with(Role.SIGNER)
    if wf.owner_id != actor.id and not leader:
        raise ForbiddenError(_("Chỉ người lập hồ sơ hoặc lãnh đạo đơn vị được đóng hồ sơ."))
    if wf.closed_at is not None:
        raise ConflictError(_("Hồ sơ đã được đóng trước đó."))
    wf.closed_at = now
    wf.processed_online = None if wf.classified else processed_online(session, wf)
    audit.append(
        session,
        "workfile:closed",
        actor_id=actor.id,
        object_type="workfile",
        object_id=wf.id,
        details={"processed_online": wf.processed_online, "items": len(wf.items)},
        at=now,
    )
    coverage.record_workfile(session, wf, now=now)
    return wf


# --- the derived flag ---------------------------------------------------------------


def check_document(session: Session, doc: Document) -> ItemCheck:
    """:returns: whether the document went through the system end to end: uploaded,
    routed to the end, every task acted in the system, and a stored signature for every
    signing (or sealing) step."""
    if not doc.has_content:
        return ItemCheck(False, _("Văn bản không có bản điện tử trên hệ thống."))
    if doc.route_id is None or doc.submitted_at is None:
        return ItemCheck(False, _("Văn bản chưa được trình qua hệ thống."))
    if doc.state not in FINISHED_STATES:
        return ItemCheck(False, _("Văn bản chưa xử lý xong trên hệ thống."))
    acted = [t for t in doc.tasks if t.state == TaskState.DONE]
    still_open = any(t.state == TaskState.OPEN for t in doc.tasks)
    if not acted or still_open or any(t.acted_by_id is None for t in acted):
        return ItemCheck(False, _("Có bước xử lý chưa được thực hiện trên hệ thống."))
    signers = set(
        session.scalars(select(Signature.signer_id).where(Signature.document_id == doc.id))
    )
    for task in acted:
        needs_signature = task.action in (StageAction.SIGN, StageAction.ISSUE)
        if needs_signature and task.acted_by_id not in signers:
            return ItemCheck(
                False,
                _(
                    "Bước «%(stage)s» không có chữ ký số lưu trên hệ thống.",
                    stage=task.stage_name,
                ),
            )
    return ItemCheck(True, None)


def check_item(session: Session, item: WorkFileItem) -> ItemCheck:
    """:returns: whether one item of a work file was processed in the system."""
    if item.offline_note:
        return ItemCheck(False, _("Bước xử lý trên giấy, ngoài hệ thống."))
    if item.document is not None:
        return check_document(session, item.document)
    if item.incoming_entry_id is not None:
        entry = session.get(IncomingEntry, item.incoming_entry_id)
        if entry is not None and entry.state == "received":
            return ItemCheck(True, None)
        return ItemCheck(False, _("Văn bản đến chưa được tiếp nhận trên hệ thống."))
    return ItemCheck(False, _("Thành phần hồ sơ không xác định."))


def processed_online(session: Session, wf: WorkFile) -> bool:
    """:returns: True iff the file is kept in the system (not on paper), has an item and
    every item was processed online."""
    if wf.form == "paper":
        return False
    return bool(wf.items) and all(check_item(session, i).online for i in wf.items)


def online_flag(session: Session, wf: WorkFile) -> bool | None:
    """:returns: the recorded flag of a closed file, the live one of an open file, and
    ``None`` for a classified (exempt) file."""
    if wf.classified:
        return None
    if wf.closed_at is not None:
        return wf.processed_online
    return processed_online(session, wf)


def workfile_json(session: Session, wf: WorkFile, with_items: bool = True) -> dict[str, Any]:
    """:returns: the API form of a work file; ``processed_online`` is live while open."""
    body: dict[str, Any] = {
        "id": wf.id,
        "code": wf.code,
        "title": wf.title,
        "unit": {"id": wf.unit.id, "code": wf.unit.code, "name": wf.unit.name},
        "owner": wf.owner.username,
        "classified": wf.classified,
        "exempt": wf.classified,
        "form": wf.form,
        "state": "closed" if wf.closed_at else "open",
        "opened_at": vn_iso(wf.opened_at),
        "closed_at": vn_iso(wf.closed_at),
        "processed_online": online_flag(session, wf),
        "items_count": len(wf.items),
    }
    if with_items:
        body["items"] = [
            {
                "id": item.id,
                "kind": "offline" if item.offline_note else "document",
                "document_id": item.document_id,
                "subject": item.document.subject if item.document else None,
                "offline_note": item.offline_note,
                "added_at": vn_iso(item.added_at),
                "online": check.online,
                "reason": check.reason,
            }
            for item, check in ((i, check_item(session, i)) for i in wf.items)
        ]
    return body
