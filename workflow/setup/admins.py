"""workflow: the first administrator of a real installation (no demo data): the root unit
of the organisation, an administrator in it, and a one-time link to set the password."""

from __future__ import annotations

import re

from argon2 import PasswordHasher
from sqlalchemy import select
from sqlalchemy.orm import Session

from storage import audit
from storage.models import Role, Unit, UnitKind, User
from workflow.accounts import service as accounts
from workflow.accounts import setup_links
from workflow.accounts.setup_links import SetupLink
from workflow.admin.users import USERNAME_RE
from workflow.errors import ConflictError, InvalidInputError

ROOT_CODE = "DUK"
ROOT_SYMBOL = "ĐUK"
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def root_unit(session: Session) -> Unit | None:
    """:returns: the root of the unit tree (the organisation), if any."""
    return session.scalars(select(Unit).where(Unit.parent_id.is_(None)).order_by(Unit.id)).first()


def ensure_root_unit(session: Session, code: str, name: str, symbol: str) -> Unit:
    """:returns: the organisation's root unit, created (kind ``committee``) when the
    database has no unit yet."""
    existing = root_unit(session)
    if existing is not None:
        return existing
    unit = Unit(code=code, name=name, symbol=symbol, kind=UnitKind.COMMITTEE, active=True)
    session.add(unit)
    session.flush()
    audit.append(
        session,
        "unit:created",
        actor_id=None,
        object_type="unit",
        object_id=unit.id,
        details={"code": code, "parent": None, "via": "setup"},
    )
    return unit


def has_users(session: Session) -> bool:
    """:returns: whether any user exists."""
    return session.scalars(select(User.id)).first() is not None


def create_admin(
    session: Session,
    hasher: PasswordHasher,
    *,
    username: str,
    full_name: str,
    email: str | None,
    org_code: str,
    org_name: str,
    org_symbol: str,
    base_url: str,
    hours: int,
    via: str,
) -> SetupLink:
    """Create an administrator (in the root unit, made first if there is none) who can
    log in only after choosing a password through the returned one-time link.

    :raises InvalidInputError: a bad username or e-mail address.
    :raises ConflictError: the username is taken.
    """
    username = (username or "").strip().lower()
    if not USERNAME_RE.match(username):
        raise InvalidInputError(
            "Tên đăng nhập gồm 3 đến 64 ký tự: chữ thường không dấu, số, '.', '-' hoặc '_'."
        )
    if session.scalars(select(User.id).where(User.username == username)).first() is not None:
        raise ConflictError(f"Tên đăng nhập «{username}» đã có người dùng.")
    email = (email or "").strip() or None
    if email is not None and not EMAIL_RE.match(email):
        raise InvalidInputError("Địa chỉ thư điện tử không hợp lệ.")
    root = ensure_root_unit(session, org_code, org_name, org_symbol)
    user = accounts.create_user(
        session,
        hasher,
        username=username,
        full_name=" ".join((full_name or "").split()) or "Quản trị hệ thống",
        title="Quản trị hệ thống",
        email=email,
        password=setup_links.unusable_password_text(),
        roles=[(Role.ADMIN, root)],
    )
    return setup_links.issue_link(
        session, user, base_url=base_url, hours=hours, actor_id=None, via=via
    )
