"""workflow: administration of units (đơn vị): the tree, create, rename, move, deactivate.

Use-cases take the session and the acting administrator, audit every change and never
commit; refusals are :class:`~workflow.errors.WorkflowError`\\ s with a Vietnamese reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage import audit
from storage.models import Role, RoleAssignment, Route, Unit, UnitKind, User
from workflow.errors import ConflictError, ForbiddenError, InvalidInputError, NotFoundError

CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")
KIND_LABELS: dict[str, str] = {
    UnitKind.COMMITTEE: "Đảng ủy",
    UnitKind.STANDING: "Thường trực",
    UnitKind.OFFICE: "Văn phòng",
    UnitKind.BOARD: "Ban",
    UnitKind.GRASSROOTS: "Tổ chức cơ sở đảng",
}


@dataclass
class UnitNode:
    """A unit and its children, for the tree on the page."""

    unit: Unit
    """The unit."""
    children: list[UnitNode] = field(default_factory=list)
    """Its direct children, by code."""
    people: int = 0
    """How many active users hold a role in it."""


def require_admin(actor: User) -> None:
    """:raises ForbiddenError: the actor is not a system administrator."""
    if not actor.has_role(Role.ADMIN):
        raise ForbiddenError("Chỉ quản trị hệ thống được dùng trang quản trị.")


def get_unit(session: Session, unit_id: int) -> Unit:
    """:returns: the unit; :raises NotFoundError: none with this id."""
    unit = session.get(Unit, unit_id)
    if unit is None:
        raise NotFoundError("Không tìm thấy đơn vị.")
    return unit


def unit_tree(session: Session) -> list[UnitNode]:
    """:returns: the roots of the unit tree (each unit once, children sorted by code)."""
    units = session.scalars(select(Unit).order_by(Unit.code)).all()
    nodes = {u.id: UnitNode(u) for u in units}
    counts: dict[int, set[int]] = {}
    rows = session.execute(
        select(RoleAssignment.unit_id, RoleAssignment.user_id)
        .join(User, User.id == RoleAssignment.user_id)
        .where(User.active.is_(True))
    )
    for unit_id, user_id in rows:
        counts.setdefault(unit_id, set()).add(user_id)
    roots: list[UnitNode] = []
    for unit in units:
        node = nodes[unit.id]
        node.people = len(counts.get(unit.id, ()))
        parent = nodes.get(unit.parent_id) if unit.parent_id is not None else None
        (parent.children if parent is not None else roots).append(node)
    return roots


def active_units(session: Session) -> list[Unit]:
    """:returns: the active units, by code (choices for roles and routes)."""
    return list(session.scalars(select(Unit).where(Unit.active.is_(True)).order_by(Unit.code)))


def _name(value: str | None, what: str, limit: int = 255) -> str:
    text = " ".join((value or "").split())
    if not text:
        raise InvalidInputError(f"Thiếu {what}.")
    if len(text) > limit:
        raise InvalidInputError(f"{what.capitalize()} dài quá {limit} ký tự.")
    return text


def _active_parent(session: Session, parent_id: int | None) -> Unit:
    if parent_id is None:
        raise InvalidInputError("Hãy chọn đơn vị cấp trên.")
    parent = get_unit(session, parent_id)
    if not parent.active:
        raise ConflictError(f"Đơn vị cấp trên «{parent.name}» đã ngừng hoạt động.")
    return parent


def create_unit(
    session: Session,
    actor: User,
    *,
    code: str,
    name: str,
    symbol: str,
    kind: str,
    parent_id: int | None,
) -> Unit:
    """Create a unit under an active parent."""
    require_admin(actor)
    code = (code or "").strip()
    if not CODE_RE.match(code):
        raise InvalidInputError(
            "Mã đơn vị gồm chữ không dấu, số, '-' và '_' (tối đa 32 ký tự), ví dụ BTG."
        )
    if session.scalars(select(Unit.id).where(Unit.code == code)).first() is not None:
        raise ConflictError(f"Đã có đơn vị mã «{code}».")
    if kind not in KIND_LABELS:
        raise InvalidInputError("Loại đơn vị không hợp lệ.")
    parent = _active_parent(session, parent_id)
    unit = Unit(
        code=code,
        name=_name(name, "tên đơn vị"),
        symbol=_name(symbol or parent.symbol, "ký hiệu đơn vị", 32),
        kind=kind,
        parent=parent,
        active=True,
    )
    session.add(unit)
    session.flush()
    _audit(session, actor, "unit:created", unit, {"code": code, "parent": parent.code})
    return unit


def rename_unit(session: Session, actor: User, unit_id: int, name: str, symbol: str) -> Unit:
    """Rename a unit (its code stays: routes and numbers refer to it)."""
    require_admin(actor)
    unit = get_unit(session, unit_id)
    old = unit.name
    unit.name = _name(name, "tên đơn vị")
    unit.symbol = _name(symbol or unit.symbol, "ký hiệu đơn vị", 32)
    _audit(session, actor, "unit:renamed", unit, {"from": old, "to": unit.name})
    return unit


def move_unit(session: Session, actor: User, unit_id: int, parent_id: int | None) -> Unit:
    """Move a unit under another active unit (never under itself or its descendants)."""
    require_admin(actor)
    unit = get_unit(session, unit_id)
    if unit.parent_id is None:
        raise ConflictError("Không thể chuyển đơn vị gốc của tổ chức.")
    parent = _active_parent(session, parent_id)
    ancestor: Unit | None = parent
    while ancestor is not None:
        if ancestor.id == unit.id:
            raise ConflictError("Không thể chuyển một đơn vị vào chính nó hoặc đơn vị cấp dưới.")
        ancestor = ancestor.parent
    old = unit.parent.code if unit.parent else None
    unit.parent = parent
    _audit(session, actor, "unit:moved", unit, {"from": old, "to": parent.code})
    return unit


def routes_using(session: Session, code: str) -> list[Route]:
    """:returns: the active route versions whose stages name the unit (assignee or condition)."""
    routes = session.scalars(select(Route).where(Route.active.is_(True)).order_by(Route.code))
    return [
        r
        for r in routes
        if any(s.assignee_unit_code == code or code in (s.when_units or []) for s in r.stages)
    ]


def deactivate_unit(session: Session, actor: User, unit_id: int) -> Unit:
    """Deactivate a unit, refusing when active people, active sub-units or routes need it."""
    require_admin(actor)
    unit = get_unit(session, unit_id)
    if not unit.active:
        raise ConflictError("Đơn vị này đã ngừng hoạt động.")
    if unit.parent_id is None:
        raise ConflictError("Không thể ngừng hoạt động đơn vị gốc của tổ chức.")
    children = session.scalars(
        select(Unit).where(Unit.parent_id == unit.id, Unit.active.is_(True)).order_by(Unit.code)
    ).all()
    if children:
        names = ", ".join(c.name for c in children)
        raise ConflictError(
            f"Không thể ngừng hoạt động: còn đơn vị cấp dưới đang hoạt động ({names}). "
            "Hãy chuyển hoặc ngừng hoạt động các đơn vị đó trước."
        )
    people = session.scalars(
        select(User)
        .join(RoleAssignment, RoleAssignment.user_id == User.id)
        .where(RoleAssignment.unit_id == unit.id, User.active.is_(True))
        .order_by(User.full_name)
        .distinct()
    ).all()
    if people:
        names = ", ".join(p.full_name for p in people[:5]) + ("…" if len(people) > 5 else "")
        raise ConflictError(
            f"Không thể ngừng hoạt động: {len(people)} người dùng đang có vai trò tại đơn vị "
            f"({names}). Hãy chuyển đơn vị hoặc thu hồi vai trò của họ trước."
        )
    routes = routes_using(session, unit.code)
    if routes:
        names = ", ".join(f"{r.name} ({r.code})" for r in routes)
        raise ConflictError(
            f"Không thể ngừng hoạt động: tuyến trình đang dùng đơn vị này ({names}). "
            "Hãy lưu phiên bản mới của các tuyến đó không có đơn vị này trước."
        )
    unit.active = False
    _audit(session, actor, "unit:deactivated", unit, {"code": unit.code})
    return unit


def reactivate_unit(session: Session, actor: User, unit_id: int) -> Unit:
    """Make a deactivated unit active again (under an active parent)."""
    require_admin(actor)
    unit = get_unit(session, unit_id)
    if unit.active:
        raise ConflictError("Đơn vị này đang hoạt động.")
    if unit.parent is not None and not unit.parent.active:
        raise ConflictError(f"Đơn vị cấp trên «{unit.parent.name}» đã ngừng hoạt động.")
    unit.active = True
    _audit(session, actor, "unit:reactivated", unit, {"code": unit.code})
    return unit


def _audit(
    session: Session, actor: User, action: str, unit: Unit, details: dict[str, object]
) -> None:
    audit.append(
        session, action, actor_id=actor.id, object_type="unit", object_id=unit.id, details=details
    )
