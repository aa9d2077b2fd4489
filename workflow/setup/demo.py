"""workflow: the demo organisation, users, routes and certificates (first run only)."""

from __future__ import annotations

from dataclasses import dataclass

from argon2 import PasswordHasher
from sqlalchemy import select
from sqlalchemy.orm import Session

from signing.pki import EmbeddedPki
from storage import audit
from storage.audit import AuditAction
from storage.models import Role, Unit, UnitKind
from workflow.accounts import service as accounts
from workflow.setup.system import DEFAULT_ROUTE, default_route, report_route, standing_route
from workflow.signatures.personal_certs import issue_personal_certificate


@dataclass(frozen=True)
class DemoUser:
    """A demo account of the issue's table."""

    username: str
    full_name: str
    title: str
    role: Role
    unit: str


__all__ = ["DEFAULT_ROUTE", "DEMO_USERS", "is_seeded", "seed_demo"]

ORG_CODE = "DUK"
DEMO_MAIL_DOMAIN = "trinhky.local"
"""Demo users get addresses here: e-mail notices go to a local sink (see `make run`)."""
UNITS: list[tuple[str, str, str, str | None]] = [
    # code, name, kind, parent
    (ORG_CODE, "Đảng ủy Khối Cơ quan - Doanh nghiệp tỉnh", UnitKind.COMMITTEE, None),
    ("TT", "Thường trực Đảng ủy Khối", UnitKind.STANDING, ORG_CODE),
    ("VP", "Văn phòng Đảng ủy Khối", UnitKind.OFFICE, ORG_CODE),
    ("BTC", "Ban Tổ chức Đảng ủy Khối", UnitKind.BOARD, ORG_CODE),
    ("BTG", "Ban Tuyên giáo Đảng ủy Khối", UnitKind.BOARD, ORG_CODE),
    ("BKT", "Ban Kiểm tra Đảng ủy Khối", UnitKind.BOARD, ORG_CODE),
    ("CS-GDDT", "Đảng ủy Sở Giáo dục và Đào tạo", UnitKind.GRASSROOTS, ORG_CODE),
    ("CS-DL", "Đảng ủy Công ty Điện lực tỉnh", UnitKind.GRASSROOTS, ORG_CODE),
    (
        "CS-NH",
        "Đảng ủy Ngân hàng Nông nghiệp và Phát triển nông thôn tỉnh",
        UnitKind.GRASSROOTS,
        ORG_CODE,
    ),
]

DEMO_USERS = [
    DemoUser(
        "chuyenvien", "Nguyễn Thị Hồng Nhung", "Chuyên viên Ban Tuyên giáo", Role.DRAFTER, "BTG"
    ),
    DemoUser("truongban", "Trần Văn Phương", "Trưởng ban Tuyên giáo", Role.APPROVER, "BTG"),
    DemoUser("bithu", "Lê Văn Đức", "Bí thư Đảng ủy Khối", Role.SIGNER, "TT"),
    DemoUser("vanthu", "Phạm Thị Thu", "Văn thư Văn phòng", Role.CLERK, "VP"),
    DemoUser("kiemtra", "Võ Minh Tuấn", "Chuyên viên Ban Kiểm tra", Role.AUDITOR, "BKT"),
    DemoUser("admin", "Quản trị hệ thống", "Quản trị hệ thống", Role.ADMIN, ORG_CODE),
    # Distributes the committee's incoming documents (phân phối, giao xử lý văn bản đến).
    DemoUser("chanhvp", "Đỗ Quang Huy", "Chánh Văn phòng Đảng ủy Khối", Role.APPROVER, "VP"),
    # A grassroots committee that receives the bloc's documents: its own clerk and leader.
    DemoUser(
        "vanthugd", "Hoàng Thị Mai", "Văn thư Đảng ủy Sở Giáo dục và Đào tạo", Role.CLERK, "CS-GDDT"
    ),
    DemoUser(
        "bithugd", "Ngô Văn Hải", "Bí thư Đảng ủy Sở Giáo dục và Đào tạo", Role.APPROVER, "CS-GDDT"
    ),
]


def is_seeded(session: Session) -> bool:
    """:returns: whether the organisation already exists (seeding never runs twice)."""
    return session.scalars(select(Unit).where(Unit.code == ORG_CODE)).first() is not None


def seed_demo(
    session: Session, hasher: PasswordHasher, pki: EmbeddedPki, password: str
) -> list[DemoUser]:
    """Create the demo organisation, its users, the default route and signer keys.

    A demo signer's key passphrase equals its password. The caller commits.

    :returns: the demo users created.
    """
    units: dict[str, Unit] = {}
    for code, name, kind, parent in UNITS:
        unit = Unit(code=code, name=name, symbol="ĐUK", kind=kind, parent=units.get(parent or ""))
        session.add(unit)
        units[code] = unit
    session.flush()
    org_name = units[ORG_CODE].name
    for spec in DEMO_USERS:
        user = accounts.create_user(
            session,
            hasher,
            username=spec.username,
            full_name=spec.full_name,
            title=spec.title,
            password=password,
            roles=[(spec.role, units[spec.unit])],
        )
        user.email = f"{spec.username}@{DEMO_MAIL_DOMAIN}"  # e-mail notices, a local domain
        if spec.role is Role.SIGNER:
            issue_personal_certificate(
                session,
                pki,
                user.id,
                spec.full_name,
                spec.title,
                units[spec.unit].name,
                org_name,
                password,
            )
    for route in (default_route("TT"), standing_route("TT", "VP"), report_route()):
        session.add(route)
    session.flush()
    audit.append(
        session,
        AuditAction.SYSTEM_INIT,
        actor_id=None,
        object_type="system",
        details={"demo": True, "units": len(UNITS), "users": len(DEMO_USERS)},
    )
    return DEMO_USERS
