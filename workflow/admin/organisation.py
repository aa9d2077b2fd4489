"""workflow: import of the organisation (unit tree, users, roles, e-mail addresses) from
the XLSX or CSV files an office already keeps, checked row by row before anything is
written.

Two tables: units (*Đơn vị*) and users (*Người dùng*), as two sheets of one XLSX workbook
or two CSV files (recognised by their headers). Headers and values are matched without
diacritics or case ("Mã đơn vị", "ma don vi", "MA_DON_VI" are one column; "Văn thư",
"van thu", "clerk" one role). Every problem is reported with its table, row, column and
reason in Vietnamese; with any problem nothing is written. A re-import of the same file
changes nothing (units and roles that exist are skipped), so a corrected file can be
imported again. The template is ``docs/mau-nhap-to-chuc.xlsx``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from argon2 import PasswordHasher
from sqlalchemy import select
from sqlalchemy.orm import Session

from storage import audit
from storage.models import RoleAssignment, Unit, User
from workflow.accounts import service as accounts
from workflow.accounts import setup_links
from workflow.accounts.setup_links import SetupLink
from workflow.admin.org_files import (
    KIND_OF,
    ROLE_OF,
    UNIT_COLUMNS,
    UNITS,
    USER_COLUMNS,
    USERS,
    RowError,
    Table,
    fold,
    read_files,
)
from workflow.admin.units import CODE_RE
from workflow.admin.users import USERNAME_RE
from workflow.errors import InvalidInputError

SYSTEM_DATA_HOOK = "trinhky.system_data"
"""``app.extensions`` key of ``(session) -> created``: what initialisation creates of the
system data (routes, seal certificates), run again after an import."""
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
__all__ = ["ImportPlan", "ImportResult", "RowError", "apply_import", "plan_import", "read_files"]


@dataclass
class UnitRow:
    """A unit to create."""

    row: int
    code: str
    name: str
    symbol: str | None
    kind: str
    parent: str | None
    email: str | None


@dataclass
class UserRow:
    """A user to create, or an existing user to give roles."""

    row: int
    username: str
    full_name: str
    title: str
    email: str | None
    roles: list[tuple[str, str]] = field(default_factory=list)
    """(role, unit code) pairs."""


@dataclass
class ImportPlan:
    """What an import would do, or why it cannot."""

    units: list[UnitRow] = field(default_factory=list)
    """Units to create, parents first."""
    users: list[UserRow] = field(default_factory=list)
    """Users to create."""
    grants: list[tuple[str, str, str]] = field(default_factory=list)
    """Roles to add to existing users: (username, role, unit code)."""
    skipped_units: int = 0
    """Rows naming a unit that exists already, as the file describes it."""
    skipped_users: int = 0
    """Users that exist already with every role of the file."""
    errors: list[RowError] = field(default_factory=list)
    """Every problem; any one of them and nothing is written."""

    @property
    def ok(self) -> bool:
        """Whether the import can be applied."""
        return not self.errors

    def summary(self) -> dict[str, int]:
        """:returns: the counts (audit details, pages, console)."""
        return {
            "units_created": len(self.units),
            "units_existing": self.skipped_units,
            "users_created": len(self.users),
            "users_existing": self.skipped_users,
            "roles_granted": len(self.grants) + sum(len(u.roles) for u in self.users),
            "errors": len(self.errors),
        }


@dataclass(frozen=True)
class ImportResult:
    """An applied import: the counts and the one-time links of the new users."""

    summary: dict[str, int]
    links: list[SetupLink]


# --- checking ---------------------------------------------------------------------------


def plan_import(session: Session, tables: dict[str, Table]) -> ImportPlan:
    """Check every row against the file and the database; :returns: what would be done."""
    plan = ImportPlan()
    existing = {u.code: u for u in session.scalars(select(Unit))}
    file_units = _check_units(plan, existing, tables.get(UNITS))
    _check_users(session, plan, existing, file_units, tables.get(USERS))
    return plan


def _label(table: str, key: str) -> str:
    return (UNIT_COLUMNS if table == UNITS else USER_COLUMNS)[key][0]


def _error(plan: ImportPlan, table: str, row: int, key: str, message: str) -> None:
    plan.errors.append(RowError(table, row, _label(table, key) if key else "", message))


def _email(plan: ImportPlan, table: str, row: int, value: str) -> str | None:
    if not value:
        return None
    if len(value) > 255 or not EMAIL_RE.match(value):
        _error(plan, table, row, "email", f"«{value}» không phải địa chỉ thư điện tử hợp lệ.")
    return value


def _check_units(
    plan: ImportPlan, existing: dict[str, Unit], table: Table | None
) -> dict[str, UnitRow]:
    """Check the unit rows; :returns: the units the file describes (new or not), by code."""
    rows: dict[str, UnitRow] = {}
    if table is None:
        return rows
    db_root = next((u for u in existing.values() if u.parent_id is None), None)
    file_codes = {v.get("code", "") for _number, v in table.rows}
    for number, v in table.rows:
        before = len(plan.errors)
        code = v.get("code", "")
        if not code:
            _error(plan, UNITS, number, "code", "Thiếu mã đơn vị.")
        elif not CODE_RE.match(code):
            _error(
                plan,
                UNITS,
                number,
                "code",
                f"Mã «{code}» không hợp lệ: chữ không dấu, số, '-' và '_' (tối đa 32 ký tự).",
            )
        elif code in rows:
            _error(plan, UNITS, number, "code", f"Mã «{code}» trùng với dòng {rows[code].row}.")
        name = v.get("name", "")
        if not name:
            _error(plan, UNITS, number, "name", "Thiếu tên đơn vị.")
        elif len(name) > 255:
            _error(plan, UNITS, number, "name", "Tên đơn vị dài quá 255 ký tự.")
        kind = KIND_OF.get(fold(v.get("kind")))
        if kind is None:
            choices = ", ".join(f"«{k}»" for k in ("Đảng ủy", "Thường trực", "Văn phòng", "Ban"))
            _error(
                plan,
                UNITS,
                number,
                "kind",
                f"Loại «{v.get('kind', '')}» không hợp lệ; dùng {choices} "
                "hoặc «Tổ chức cơ sở đảng».",
            )
        symbol = v.get("symbol") or None
        if symbol and len(symbol) > 32:
            _error(plan, UNITS, number, "symbol", "Ký hiệu dài quá 32 ký tự.")
        parent = v.get("parent") or None
        if parent and parent == code:
            _error(plan, UNITS, number, "parent", "Đơn vị không thể là cấp trên của chính nó.")
        elif parent and parent not in file_codes and parent not in existing:
            _error(
                plan,
                UNITS,
                number,
                "parent",
                f"Không có đơn vị mã «{parent}» trong tệp hay trong hệ thống.",
            )
        elif parent in existing and not existing[parent].active:
            _error(plan, UNITS, number, "parent", f"Đơn vị cấp trên «{parent}» đã ngừng hoạt động.")
        email = _email(plan, UNITS, number, v.get("email", ""))
        if len(plan.errors) == before:
            rows[code] = UnitRow(number, code, name, symbol, kind or "", parent, email)
    # The tree: one root; every parent known; no cycles.
    roots = [r for r in rows.values() if r.parent is None]
    for row in roots:
        if db_root is not None and row.code != db_root.code:
            _error(
                plan,
                UNITS,
                row.row,
                "parent",
                f"Tổ chức đã có đơn vị gốc «{db_root.code}» ({db_root.name}): dùng mã "
                f"«{db_root.code}» cho dòng này, hoặc ghi mã đơn vị cấp trên.",
            )
        elif db_root is None and len(roots) > 1:
            _error(
                plan,
                UNITS,
                row.row,
                "parent",
                "Chỉ một đơn vị (đơn vị gốc của tổ chức) được để trống mã đơn vị cấp trên.",
            )
    if db_root is None and not roots and rows:
        plan.errors.append(
            RowError(UNITS, 0, "", "Chưa có đơn vị gốc: một dòng phải để trống cấp trên.")
        )
    _order_units(plan, rows, existing)
    return rows


def _order_units(plan: ImportPlan, rows: dict[str, UnitRow], existing: dict[str, Unit]) -> None:
    """Put the new units in ``plan`` parents first; report cycles and changes the file
    asks of existing units (moving a unit is done on its page, not by an import)."""
    placed: set[str] = set(existing)
    pending = [r for r in rows.values()]
    for row in pending:
        unit = existing.get(row.code)
        if unit is None:
            continue
        parent_code = unit.parent.code if unit.parent is not None else None
        if (row.parent or None) != parent_code:
            _error(
                plan,
                UNITS,
                row.row,
                "parent",
                f"Đơn vị «{row.code}» đã có trong hệ thống với cấp trên "
                f"«{parent_code or '(không có)'}»; chuyển đơn vị trên trang Quản trị đơn vị.",
            )
        else:
            plan.skipped_units += 1
    new = [r for r in pending if r.code not in existing]
    while new:
        ready = [r for r in new if r.parent is None or r.parent in placed]
        if not ready:
            for row in new:
                if row.parent in rows:
                    _error(
                        plan,
                        UNITS,
                        row.row,
                        "parent",
                        "Cấp trên tạo thành vòng lặp (đơn vị nằm dưới chính nó).",
                    )
            return
        for row in ready:
            plan.units.append(row)
            placed.add(row.code)
        new = [r for r in new if r.code not in placed]


def _check_users(
    session: Session,
    plan: ImportPlan,
    existing_units: dict[str, Unit],
    file_units: dict[str, UnitRow],
    table: Table | None,
) -> None:
    if table is None:
        return
    people: dict[str, UserRow] = {}
    seen: dict[tuple[str, str, str], int] = {}
    for number, v in table.rows:
        before = len(plan.errors)
        username = v.get("username", "").strip().lower()
        if not USERNAME_RE.match(username):
            _error(
                plan,
                USERS,
                number,
                "username",
                f"«{v.get('username', '')}» không hợp lệ: 3 đến 64 ký tự, chữ thường không dấu, "
                "số, '.', '-' hoặc '_'.",
            )
        full_name = v.get("full_name", "")
        if not full_name:
            _error(plan, USERS, number, "full_name", "Thiếu họ và tên.")
        elif len(full_name) > 255:
            _error(plan, USERS, number, "full_name", "Họ và tên dài quá 255 ký tự.")
        title = v.get("title", "")
        if len(title) > 255:
            _error(plan, USERS, number, "title", "Chức vụ dài quá 255 ký tự.")
        email = _email(plan, USERS, number, v.get("email", ""))
        unit = v.get("unit", "")
        if not unit:
            _error(plan, USERS, number, "unit", "Thiếu mã đơn vị.")
        elif unit not in file_units and unit not in existing_units:
            _error(
                plan,
                USERS,
                number,
                "unit",
                f"Không có đơn vị mã «{unit}» trong bảng Đơn vị hay trong hệ thống.",
            )
        elif unit in existing_units and not existing_units[unit].active:
            _error(plan, USERS, number, "unit", f"Đơn vị «{unit}» đã ngừng hoạt động.")
        roles: list[str] = []
        for text in re.split(r"[,;/\n]+", v.get("roles", "")):
            if not text.strip():
                continue
            role = ROLE_OF.get(fold(text))
            if role is None:
                _error(
                    plan,
                    USERS,
                    number,
                    "roles",
                    f"Vai trò «{text.strip()}» không hợp lệ; dùng: Chuyên viên, Lãnh đạo duyệt, "
                    "Người ký, Văn thư, Kiểm tra, Quản trị.",
                )
            else:
                roles.append(role.value)
        if not roles and len(plan.errors) == before:
            _error(plan, USERS, number, "roles", "Thiếu vai trò.")
        if len(plan.errors) != before:
            continue
        person = people.get(username)
        if person is None:
            person = people[username] = UserRow(number, username, full_name, title, email)
        elif fold(person.full_name) != fold(full_name):
            _error(
                plan,
                USERS,
                number,
                "full_name",
                f"«{username}» đã có ở dòng {person.row} với họ tên khác «{person.full_name}».",
            )
            continue
        for role_name in roles:
            key = (username, role_name, unit)
            if key in seen:
                _error(plan, USERS, number, "roles", f"Trùng vai trò với dòng {seen[key]}.")
                continue
            seen[key] = number
            person.roles.append((role_name, unit))
    if not people:
        return
    found = {
        u.username: u for u in session.scalars(select(User).where(User.username.in_(list(people))))
    }
    for username, person in people.items():
        user = found.get(username)
        if user is None:
            plan.users.append(person)
            continue
        held = {(r.role, r.unit.code) for r in user.roles}
        missing = [(role, unit) for role, unit in person.roles if (role, unit) not in held]
        if not missing:
            plan.skipped_users += 1
        plan.grants += [(username, role, unit) for role, unit in missing]


# --- applying -----------------------------------------------------------------------------


def apply_import(
    session: Session,
    hasher: PasswordHasher,
    plan: ImportPlan,
    *,
    actor_id: int | None,
    via: str,
    source: str,
    base_url: str,
    hours: int,
) -> ImportResult:
    """Create the plan's units, users and roles, each audited, and a one-time link to
    set each new user's password. The caller commits (or rolls back: nothing half-done).

    :raises InvalidInputError: the plan has errors.
    """
    if not plan.ok:
        raise InvalidInputError(f"Tệp có {len(plan.errors)} lỗi; chưa nhập gì.")
    units = {u.code: u for u in session.scalars(select(Unit))}
    for row in plan.units:
        parent = units.get(row.parent) if row.parent else None
        unit = Unit(
            code=row.code,
            name=row.name,
            symbol=row.symbol or (parent.symbol if parent is not None else row.code),
            kind=row.kind,
            parent=parent,
            email=row.email,
            active=True,
        )
        session.add(unit)
        session.flush()
        units[row.code] = unit
        audit.append(
            session,
            "unit:created",
            actor_id=actor_id,
            object_type="unit",
            object_id=unit.id,
            details={"code": row.code, "parent": row.parent, "via": via},
        )
    links: list[SetupLink] = []
    for person in plan.users:
        user = accounts.create_user(
            session,
            hasher,
            username=person.username,
            full_name=person.full_name,
            title=person.title,
            email=person.email,
            password=setup_links.unusable_password_text(),
            roles=[(role, units[code]) for role, code in person.roles],
            actor_id=actor_id,
        )
        links.append(
            setup_links.issue_link(
                session, user, base_url=base_url, hours=hours, actor_id=actor_id, via=via
            )
        )
    for username, role, code in plan.grants:
        user = session.scalars(select(User).where(User.username == username)).one()
        user.roles.append(RoleAssignment(role=role, unit=units[code]))
        audit.append(
            session,
            "user:role_granted",
            actor_id=actor_id,
            object_type="user",
            object_id=user.id,
            details={"username": username, "role": role, "unit": code, "via": via},
        )
    summary = plan.summary()
    audit.append(
        session,
        "organisation:imported",
        actor_id=actor_id,
        object_type="system",
        details={**summary, "via": via, "source": source[:200]},
    )
    return ImportResult(summary, links)


def record_check(
    session: Session, plan: ImportPlan, *, actor_id: int | None, via: str, source: str
) -> None:
    """Audit a dry run (nothing else is written)."""
    audit.append(
        session,
        "organisation:import_checked",
        actor_id=actor_id,
        object_type="system",
        details={**plan.summary(), "via": via, "source": source[:200]},
    )
