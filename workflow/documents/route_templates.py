"""workflow: route templates (tuyến trình): listing, validation, new versions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from storage import audit
from storage.audit import AuditAction
from storage.models import Role, RoleAssignment, Route, RouteStage, Unit, User
from workflow.documents.states import StageAction
from workflow.errors import ForbiddenError, InvalidInputError
from workflow.vocab import DOC_TYPES

MODES = ("any", "all")
URGENCY_CODES = ("thuong", "khan", "thuong_khan", "hoa_toc")


def list_routes(session: Session, include_inactive: bool = False) -> list[Route]:
    """:returns: the newest version of each route (every version if ``include_inactive``)."""
    routes = session.scalars(select(Route).order_by(Route.code, Route.version.desc())).all()
    if include_inactive:
        return list(routes)
    newest: dict[str, Route] = {}
    for route in routes:
        if route.active and route.code not in newest:
            newest[route.code] = route
    return list(newest.values())


def _list_of(value: Any, allowed: tuple[str, ...] | None, what: str) -> list[str] | None:
    if value in (None, [], ""):
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidInputError(_("Điều kiện «%(what)s» phải là danh sách chuỗi.", what=what))
    if allowed is not None and not set(value) <= set(allowed):
        raise InvalidInputError(_("Điều kiện «%(what)s» có giá trị không hợp lệ.", what=what))
    return list(value)


def _stage(session: Session, index: int, raw: Any) -> RouteStage:
    if not isinstance(raw, dict):
        raise InvalidInputError(_("Bước %(n)s: phải là một đối tượng.", n=index))
    name = " ".join(str(raw.get("name") or "").split())
    if not name:
        raise InvalidInputError(_("Bước %(n)s: thiếu tên bước.", n=index))
    action = raw.get("action")
    if action not in {a.value for a in StageAction}:
        raise InvalidInputError(
            _("Bước %(n)s: thao tác phải là review, approve, consult, sign hoặc issue.", n=index)
        )
    mode = raw.get("mode") or "any"
    if mode not in MODES:
        raise InvalidInputError(
            _("Bước %(n)s: chế độ phải là any (một người) hoặc all (tất cả).", n=index)
        )
    user_id = None
    if raw.get("assignee_user"):
        user = session.scalars(
            select(User).where(User.username == str(raw["assignee_user"]))
        ).first()
        if user is None:
            raise InvalidInputError(
                _("Bước %(n)s: không có người dùng «%(user)s».", n=index, user=raw["assignee_user"])
            )
        user_id = user.id
    role = raw.get("assignee_role") or (None if user_id else "")
    if user_id is None and role not in {r.value for r in Role}:
        raise InvalidInputError(
            _("Bước %(n)s: cần người xử lý (assignee_user) hoặc vai trò hợp lệ.", n=index)
        )
    unit_code = raw.get("assignee_unit") or None
    if unit_code and session.scalars(select(Unit.id).where(Unit.code == unit_code)).first() is None:
        raise InvalidInputError(
            _("Bước %(n)s: không có đơn vị «%(code)s».", n=index, code=unit_code)
        )
    deadline = raw.get("deadline_days")
    if deadline is not None and (
        not isinstance(deadline, int) or isinstance(deadline, bool) or not 0 < deadline <= 365
    ):
        raise InvalidInputError(
            _("Bước %(n)s: thời hạn là số ngày làm việc từ 1 đến 365.", n=index)
        )
    when = raw.get("when") or {}
    if not isinstance(when, dict):
        raise InvalidInputError(_("Bước %(n)s: điều kiện 'when' phải là một đối tượng.", n=index))
    return RouteStage(
        position=index,
        name=name,
        action=action,
        assignee_role=role or Role.APPROVER,
        assignee_unit_code=unit_code,
        assignee_user_id=user_id,
        mode=mode,
        deadline_days=deadline,
        when_doc_types=_list_of(when.get("doc_types"), tuple(DOC_TYPES), _("loại văn bản")),
        when_urgencies=_list_of(when.get("urgencies"), URGENCY_CODES, _("độ khẩn")),
        when_units=_list_of(when.get("units"), None, _("đơn vị")),
    )


def _header(body: dict[str, Any]) -> tuple[str, str, str]:
    """:returns: the route's code, name and kind, checked."""
    code = str(body.get("code") or "").strip()
    if not code or len(code) > 64 or not all(c.isalnum() or c in "-_" for c in code):
        raise InvalidInputError(_("Mã tuyến trình chỉ gồm chữ, số, '-' và '_' (tối đa 64 ký tự)."))
    name = " ".join(str(body.get("name") or "").split())
    if not name:
        raise InvalidInputError(_("Thiếu tên tuyến trình."))
    kind = body.get("kind") or "outgoing"
    if kind not in ("outgoing", "report", "incoming"):
        raise InvalidInputError(_("Loại tuyến phải là outgoing, report hoặc incoming."))
    return code, name, kind


@dataclass(frozen=True)
class RouteProblems:
    """Everything wrong with a route template, per stage, for the visual editor."""

    general: list[str]
    """Problems of the route itself (code, name, no stages)."""
    stages: dict[int, list[str]]
    """Problems of each stage, by its 1-based position."""

    @property
    def ok(self) -> bool:
        """:returns: whether the route may be saved."""
        return not self.general and not any(self.stages.values())


def check_route(session: Session, body: dict[str, Any]) -> RouteProblems:
    """Validate a route as :func:`save_route` does, reporting every stage's problems, plus
    the editor's rules of practice: an issue stage comes last and after a sign stage, a
    sign stage goes to a signer, consult and fixed-unit stages have someone to act, and
    every unit named is active. (The JSON API keeps its original, looser contract.)
    """
    general: list[str] = []
    problems: dict[int, list[str]] = {}
    try:
        _header(body)
    except InvalidInputError as exc:
        general.append(exc.message)
    raw_stages = body.get("stages")
    if not isinstance(raw_stages, list) or not raw_stages:
        general.append(_("Tuyến trình cần ít nhất một bước."))
        return RouteProblems(general, problems)
    units = {u.code: u for u in session.scalars(select(Unit))}
    signed_before = False
    issue_at: int | None = None
    for index, raw in enumerate(raw_stages, start=1):
        mine = problems.setdefault(index, [])
        try:
            stage = _stage(session, index, raw)
        except InvalidInputError as exc:
            mine.append(exc.message)
            continue
        mine.extend(_practice(session, index, stage, units))
        if issue_at is not None:
            mine.append(
                _(
                    "Bước %(n)s: bước ban hành (bước %(issue)s) phải là bước cuối cùng.",
                    n=index,
                    issue=issue_at,
                )
            )
        if stage.action == StageAction.SIGN:
            signed_before = True
        if stage.action == StageAction.ISSUE:
            issue_at = index
            if not signed_before:
                mine.append(
                    _(
                        "Bước %(n)s: ban hành cần một bước ký số trước đó "
                        "(văn bản phải được người có thẩm quyền ký trước khi ban hành).",
                        n=index,
                    )
                )
    return RouteProblems(general, problems)


def _practice(session: Session, index: int, stage: RouteStage, units: dict[str, Unit]) -> list[str]:
    """:returns: what breaks the editor's rules of practice in one (well-formed) stage."""
    found: list[str] = []
    named = [stage.assignee_unit_code] if stage.assignee_unit_code else []
    for code in named + list(stage.when_units or []):
        unit = units.get(code)
        if unit is None:
            found.append(_("Bước %(n)s: không có đơn vị «%(code)s».", n=index, code=code))
        elif not unit.active:
            found.append(
                _("Bước %(n)s: đơn vị «%(unit)s» đã ngừng hoạt động.", n=index, unit=unit.name)
            )
    user = session.get(User, stage.assignee_user_id) if stage.assignee_user_id else None
    if stage.action == StageAction.SIGN:
        if user is not None and not user.has_role(Role.SIGNER):
            found.append(
                _("Bước %(n)s: «%(name)s» không có vai trò người ký.", n=index, name=user.full_name)
            )
        if user is None and stage.assignee_role != Role.SIGNER:
            found.append(_("Bước %(n)s: bước ký số phải giao cho vai trò người ký.", n=index))
    if user is not None and not user.active:
        found.append(
            _("Bước %(n)s: tài khoản «%(name)s» đang bị khóa.", n=index, name=user.full_name)
        )
    fixed = units.get(stage.assignee_unit_code or "")
    if user is None and fixed is not None and fixed.active:
        holders = session.scalars(
            select(RoleAssignment.id)
            .join(User, User.id == RoleAssignment.user_id)
            .where(
                RoleAssignment.unit_id == fixed.id,
                RoleAssignment.role == stage.assignee_role,
                User.active.is_(True),
            )
        ).first()
        if holders is None:
            found.append(
                _(
                    "Bước %(n)s: chưa có ai giữ vai trò này tại «%(unit)s»; "
                    "hãy phân quyền trước hoặc chọn người cụ thể.",
                    n=index,
                    unit=fixed.name,
                )
            )
    return found


def save_route(session: Session, actor: User, body: dict[str, Any]) -> Route:
    """Create a route template, or a new version of an existing code.

    Documents already on an older version keep it; new documents get the newest.
    """
    if not actor.has_role(Role.ADMIN):
        raise ForbiddenError(_("Chỉ quản trị hệ thống được sửa tuyến trình."))
    code, name, _kind = _header(body)
    raw_stages = body.get("stages")
    if not isinstance(raw_stages, list) or not raw_stages:
        raise InvalidInputError(_("Tuyến trình cần ít nhất một bước."))
    stages = [_stage(session, i, raw) for i, raw in enumerate(raw_stages, start=1)]
    kind = _kind
    latest = session.scalar(select(func.max(Route.version)).where(Route.code == code)) or 0
    is_default = bool(body.get("is_default"))
    if is_default:
        for other in session.scalars(select(Route).where(Route.is_default.is_(True))):
            other.is_default = False
    for older in session.scalars(select(Route).where(Route.code == code, Route.active.is_(True))):
        older.active = False
        is_default = is_default or older.is_default
        older.is_default = False
    route = Route(
        code=code,
        version=latest + 1,
        name=name,
        kind=kind,
        is_default=is_default,
        description=str(body.get("description") or ""),
        created_by_id=actor.id,
        stages=stages,
    )
    session.add(route)
    session.flush()
    audit.append(
        session,
        AuditAction.ROUTE_SAVED,
        actor_id=actor.id,
        object_type="route",
        object_id=route.id,
        details={"code": code, "version": route.version, "stages": len(stages)},
    )
    return route
