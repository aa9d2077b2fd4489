"""workflow: administration of users and roles: search, create, edit, roles per unit,
lock and unlock, password reset.

Passwords are hashed with argon2 (the app's ``PasswordHasher``, as in
:mod:`workflow.accounts.service`); neither a password nor a hash is ever audited or logged.
A generated password is returned to the caller once, to be shown once.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from sqlalchemy import select
from sqlalchemy.orm import Session

from storage import audit
from storage.models import Role, RoleAssignment, Unit, User
from workflow.accounts import service as accounts
from workflow.admin.units import get_unit, require_admin
from workflow.errors import ConflictError, InvalidInputError, NotFoundError
from workflow.vocab import fold, vn_sort_key

USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{2,63}$")
MIN_PASSWORD = 10
PAGE_SIZE = 50


@dataclass(frozen=True)
class NewPassword:
    """A password set by the administrator or generated, to show exactly once."""

    user: User
    """Whose password it is."""
    password: str | None
    """The generated password (``None`` when the administrator typed it)."""


def get_user(session: Session, user_id: int) -> User:
    """:returns: the user; :raises NotFoundError: none with this id."""
    user = session.get(User, user_id)
    if user is None:
        raise NotFoundError("Không tìm thấy người dùng.")
    return user


def search_users(
    session: Session, text: str = "", unit_id: int | None = None, limit: int = PAGE_SIZE
) -> list[User]:
    """:returns: users whose username, name, title or e-mail contains ``text``
    (in ``unit_id`` if given), by name."""
    query = select(User)
    text = " ".join((text or "").split())[:100]
    if unit_id is not None:
        query = query.where(
            User.id.in_(select(RoleAssignment.user_id).where(RoleAssignment.unit_id == unit_id))
        )
    users = list(session.scalars(query))
    if text:
        # Without diacritics and case ("phuong" finds Phương, "do" finds Đỗ), in Python:
        # SQL's lower() and LIKE know neither (and the users of a committee are few).
        wanted = fold(text)
        users = [
            u
            for u in users
            if any(wanted in fold(v) for v in (u.username, u.full_name, u.title, u.email))
        ]
    users.sort(key=lambda u: (vn_sort_key(u.full_name), u.id))
    return users[:limit]


def _password(chosen: str | None) -> tuple[str, str | None]:
    """:returns: the password to hash, and the same if generated (else ``None``)."""
    if chosen:
        if len(chosen) < MIN_PASSWORD:
            raise InvalidInputError(f"Mật khẩu tạm thời phải có ít nhất {MIN_PASSWORD} ký tự.")
        if len(chosen) > 256:
            raise InvalidInputError("Mật khẩu dài quá 256 ký tự.")
        return chosen, None
    generated = secrets.token_urlsafe(12)
    return generated, generated


def _text(value: str | None, what: str, required: bool = True, limit: int = 255) -> str:
    text = " ".join((value or "").split())
    if required and not text:
        raise InvalidInputError(f"Thiếu {what}.")
    if len(text) > limit:
        raise InvalidInputError(f"{what.capitalize()} dài quá {limit} ký tự.")
    return text


def _email(value: str | None) -> str | None:
    email = (value or "").strip()
    if not email:
        return None
    if len(email) > 255 or not re.match(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", email):
        raise InvalidInputError("Địa chỉ thư điện tử không hợp lệ.")
    return email


def _role(value: str | None) -> Role:
    try:
        return Role(value or "")
    except ValueError:
        raise InvalidInputError("Vai trò không hợp lệ.") from None


def _active_unit(session: Session, unit_id: int | None) -> Unit:
    if unit_id is None:
        raise InvalidInputError("Hãy chọn đơn vị.")
    unit = get_unit(session, unit_id)
    if not unit.active:
        raise ConflictError(f"Đơn vị «{unit.name}» đã ngừng hoạt động.")
    return unit


def create_user(
    session: Session,
    hasher: PasswordHasher,
    actor: User,
    *,
    username: str,
    full_name: str,
    title: str,
    email: str | None,
    role: str,
    unit_id: int | None,
    password: str | None,
) -> NewPassword:
    """Create a user with one role in one unit and a temporary password (typed or generated)."""
    require_admin(actor)
    username = (username or "").strip().lower()
    if not USERNAME_RE.match(username):
        raise InvalidInputError(
            "Tên đăng nhập gồm 3 đến 64 ký tự: chữ thường không dấu, số, '.', '-' hoặc '_'."
        )
    if session.scalars(select(User.id).where(User.username == username)).first() is not None:
        raise ConflictError(f"Tên đăng nhập «{username}» đã có người dùng.")
    chosen, generated = _password(password)
    user = accounts.create_user(
        session,
        hasher,
        username=username,
        full_name=_text(full_name, "họ và tên"),
        title=_text(title, "chức vụ", required=False),
        email=_email(email),
        password=chosen,
        roles=[(_role(role), _active_unit(session, unit_id))],
        actor_id=actor.id,
    )
    return NewPassword(user, generated)


def update_user(
    session: Session,
    actor: User,
    user_id: int,
    *,
    full_name: str,
    title: str,
    email: str | None,
    move_from: int | None = None,
    move_to: int | None = None,
) -> User:
    """Edit the name, title and e-mail; optionally move the roles held in one unit to another."""
    require_admin(actor)
    user = get_user(session, user_id)
    before = {"full_name": user.full_name, "title": user.title, "email": user.email}
    user.full_name = _text(full_name, "họ và tên")
    user.title = _text(title, "chức vụ", required=False)
    user.email = _email(email)
    changed = sorted(k for k, v in before.items() if getattr(user, k) != v)
    details: dict[str, object] = {"changed": changed}
    if move_to is not None and move_from is not None and move_to != move_from:
        target = _active_unit(session, move_to)
        moved = [r for r in user.roles if r.unit_id == move_from]
        if not moved:
            raise InvalidInputError("Người dùng không có vai trò ở đơn vị cần chuyển đi.")
        held = {(r.unit_id, r.role) for r in user.roles}
        for assignment in moved:
            if (target.id, assignment.role) in held:
                user.roles.remove(assignment)
            else:
                assignment.unit = target
                assignment.unit_id = target.id
        old = session.get(Unit, move_from)
        details["moved"] = {"from": old.code if old else move_from, "to": target.code}
    _audit(session, actor, "user:updated", user, details)
    return user


def grant_role(session: Session, actor: User, user_id: int, role: str, unit_id: int | None) -> User:
    """Give the user ``role`` in an active unit."""
    require_admin(actor)
    user = get_user(session, user_id)
    chosen = _role(role)
    unit = _active_unit(session, unit_id)
    if user.has_role(chosen, unit.id):
        raise ConflictError("Người dùng đã có vai trò này tại đơn vị này.")
    user.roles.append(RoleAssignment(role=chosen, unit=unit))
    _audit(session, actor, "user:role_granted", user, {"role": chosen.value, "unit": unit.code})
    return user


def _other_active_admins(session: Session, user_id: int) -> int:
    return len(
        session.scalars(
            select(RoleAssignment.user_id)
            .join(User, User.id == RoleAssignment.user_id)
            .where(
                RoleAssignment.role == Role.ADMIN,
                RoleAssignment.user_id != user_id,
                User.active.is_(True),
            )
            .distinct()
        ).all()
    )


def revoke_role(session: Session, actor: User, user_id: int, assignment_id: int) -> User:
    """Take one role away; an administrator never removes their own administrator role."""
    require_admin(actor)
    user = get_user(session, user_id)
    assignment = next((r for r in user.roles if r.id == assignment_id), None)
    if assignment is None:
        raise NotFoundError("Không tìm thấy vai trò này của người dùng.")
    if assignment.role == Role.ADMIN:
        admin_roles = [r for r in user.roles if r.role == Role.ADMIN]
        if user.id == actor.id and len(admin_roles) == 1:
            raise ConflictError(
                "Bạn không thể tự thu hồi vai trò quản trị của mình (tránh mất quyền quản trị). "
                "Hãy nhờ một quản trị viên khác."
            )
        if len(admin_roles) == 1 and _other_active_admins(session, user.id) == 0:
            raise ConflictError("Không thể thu hồi vai trò của quản trị viên cuối cùng.")
    unit_code = assignment.unit.code
    user.roles.remove(assignment)
    _audit(session, actor, "user:role_revoked", user, {"role": assignment.role, "unit": unit_code})
    return user


def set_locked(session: Session, actor: User, user_id: int, locked: bool) -> User:
    """Lock an account (no login, API tokens revoked) or unlock it (failures cleared)."""
    require_admin(actor)
    user = get_user(session, user_id)
    if locked:
        if user.id == actor.id:
            raise ConflictError("Bạn không thể tự khóa tài khoản của mình.")
        if not user.active:
            raise ConflictError("Tài khoản này đã bị khóa.")
        user.active = False
        tokens = accounts.end_sessions(session, user)
        _audit(session, actor, "user:locked", user, {"tokens_revoked": tokens})
    else:
        if user.active and user.locked_until is None:
            raise ConflictError("Tài khoản này đang hoạt động.")
        user.active = True
        user.failed_logins = 0
        user.locked_until = None
        _audit(session, actor, "user:unlocked", user, {})
    return user


def reset_password(
    session: Session, hasher: PasswordHasher, actor: User, user_id: int, password: str | None
) -> NewPassword:
    """Set a new temporary password (typed or generated); the user's API tokens are revoked."""
    require_admin(actor)
    user = get_user(session, user_id)
    chosen, generated = _password(password)
    user.password_hash = hasher.hash(chosen)
    user.failed_logins = 0
    user.locked_until = None
    tokens = accounts.end_sessions(session, user)  # old cookies and tokens stop working
    _audit(
        session,
        actor,
        "user:password_reset",
        user,
        {"generated": generated is not None, "tokens_revoked": tokens},
    )
    return NewPassword(user, generated)


def _audit(
    session: Session, actor: User, action: str, user: User, details: dict[str, object]
) -> None:
    audit.append(
        session,
        action,
        actor_id=actor.id,
        object_type="user",
        object_id=user.id,
        details={"username": user.username, **details},
    )
