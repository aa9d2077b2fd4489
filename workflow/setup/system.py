"""workflow: the system data every installation needs, demo or not: the system routes
(Standing Committee signature, issuance, periodic reports, incoming documents) and the
seal certificates of the issuing committees. Created by initialisation and again after
an organisation import (what is missing only; the caller commits)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from signing.pki import EmbeddedPki
from storage import audit
from storage.audit import AuditAction
from storage.models import Certificate, Role, Route, RouteStage, Unit, UnitKind
from workflow.signatures.personal_certs import record_issued

DEFAULT_ROUTE = "thuong-truc-ky"
STANDING_ROUTE = "thuong-truc-ban-hanh"
REPORT_ROUTE = "bao-cao-dinh-ky"
INCOMING_ROUTE = "van-ban-den"
SYSTEM_ROUTES = (DEFAULT_ROUTE, STANDING_ROUTE, REPORT_ROUTE, INCOMING_ROUTE)
"""The routes initialisation creates (their codes)."""
STANDING_CODE, OFFICE_CODE = "TT", "VP"
"""Unit codes the routes name while the organisation has no Standing Committee or office."""


def ensure_system_data(session: Session, pki: EmbeddedPki, seal_passphrase: str) -> list[str]:
    """Create what is missing of the system data (every initialisation; the caller commits).

    :returns: what was created or updated, e.g. ``["route:van-ban-den v1", "seal:DUK"]``.
    """
    done = [f"route:{r.code} v{r.version}" for r in ensure_system_routes(session)]
    done += [f"seal:{c.subject}" for c in ensure_seal_certificates(session, pki, seal_passphrase)]
    return done


def record_created(session: Session, created: list[str], via: str) -> None:
    """Audit what :func:`ensure_system_data` created outside initialisation (which
    records it in its own ``system:initialised`` entry)."""
    if created:
        audit.append(
            session,
            "system:data_created",
            actor_id=None,
            object_type="system",
            details={"created": created, "via": via},
        )


def organisation_codes(session: Session) -> tuple[str, str]:
    """:returns: the codes of the Standing Committee and the office (Văn phòng) of the
    organisation: the first active unit of each kind, else ``TT`` and ``VP``."""

    def first(kind: str, fallback: str) -> str:
        code = session.scalars(
            select(Unit.code).where(Unit.kind == kind, Unit.active.is_(True)).order_by(Unit.id)
        ).first()
        return code or fallback

    return first(UnitKind.STANDING, STANDING_CODE), first(UnitKind.OFFICE, OFFICE_CODE)


def _build(code: str, standing: str, office: str) -> Route:
    if code == DEFAULT_ROUTE:
        return default_route(standing)
    if code == STANDING_ROUTE:
        return standing_route(standing, office)
    if code == REPORT_ROUTE:
        return report_route()
    return incoming_route()


def ensure_system_routes(session: Session) -> list[Route]:
    """Create each system route that does not exist. A system route still in the version
    the system made (no one saved another) that names a unit code the organisation does
    not have gets a new version naming the organisation's own Standing Committee and
    office (after an import with other codes); documents keep the version they started on.

    :returns: the routes (versions) created.
    """
    standing, office = organisation_codes(session)
    codes = set(session.scalars(select(Unit.code).where(Unit.active.is_(True))))
    has_default = session.scalars(select(Route.id).where(Route.is_default.is_(True))).first()
    made: list[Route] = []
    for code in SYSTEM_ROUTES:
        latest = session.scalars(
            select(Route).where(Route.code == code).order_by(Route.version.desc())
        ).first()
        route = _build(code, standing, office)
        if latest is None:
            route.is_default = code == DEFAULT_ROUTE and has_default is None
        else:
            named = {s.assignee_unit_code for s in latest.stages if s.assignee_unit_code}
            wanted = {s.assignee_unit_code for s in route.stages if s.assignee_unit_code}
            if latest.created_by_id is not None or named <= codes or not wanted <= codes:
                continue
            route.version = (
                session.scalar(select(func.max(Route.version)).where(Route.code == code)) or 0
            ) + 1
            route.is_default = latest.is_default
            for older in session.scalars(select(Route).where(Route.code == code)):
                older.active = False
                older.is_default = False
        session.add(route)
        session.flush()
        if latest is not None:  # a change of an existing route: audited like an edit
            audit.append(
                session,
                AuditAction.ROUTE_SAVED,
                actor_id=None,
                object_type="route",
                object_id=route.id,
                details={"code": route.code, "version": route.version, "by": "system"},
            )
        made.append(route)
    return made


def default_route(standing: str) -> Route:
    """:returns: the default route: board head approves, then the Standing Committee
    (unit ``standing``) signs."""
    return Route(
        code=DEFAULT_ROUTE,
        version=1,
        name="Văn bản trình Thường trực Đảng ủy Khối ký",
        is_default=True,
        stages=[
            RouteStage(
                position=1,
                name="Lãnh đạo ban duyệt",
                action="approve",
                assignee_role=Role.APPROVER,
                assignee_unit_code=None,
                mode="any",
            ),
            RouteStage(
                position=2,
                name="Thường trực Đảng ủy Khối ký",
                action="sign",
                assignee_role=Role.SIGNER,
                assignee_unit_code=standing,
                mode="any",
            ),
        ],
    )


def standing_route(standing: str, office: str) -> Route:
    """:returns: the full Standing Committee route: board head approves, the office
    (unit ``office``) checks the format, a member of the Standing Committee (unit
    ``standing``) signs, the office's clerk issues (number, date, seal)."""
    return Route(
        code=STANDING_ROUTE,
        version=1,
        name="Văn bản của Thường trực: duyệt, kiểm tra thể thức, ký, ban hành",
        kind="outgoing",
        description="Chuyên viên → Lãnh đạo ban duyệt → Văn phòng kiểm tra thể thức → "
        "Thường trực ký → Văn thư ban hành (số, ngày, ký số của cơ quan) → phát hành.",
        stages=[
            RouteStage(
                position=1,
                name="Lãnh đạo ban duyệt",
                action="approve",
                assignee_role=Role.APPROVER,
                assignee_unit_code=None,
                mode="any",
                deadline_days=2,
            ),
            RouteStage(
                position=2,
                name="Văn phòng kiểm tra thể thức",
                action="review",
                assignee_role=Role.CLERK,
                assignee_unit_code=office,
                mode="any",
                deadline_days=1,
            ),
            RouteStage(
                position=3,
                name="Thường trực Đảng ủy Khối ký",
                action="sign",
                assignee_role=Role.SIGNER,
                assignee_unit_code=standing,
                mode="any",
                deadline_days=2,
            ),
            RouteStage(
                position=4,
                name="Văn thư ban hành",
                action="issue",
                assignee_role=Role.CLERK,
                assignee_unit_code=office,
                mode="any",
                deadline_days=1,
            ),
        ],
    )


def report_route() -> Route:
    """:returns: the route of a grassroots committee's periodic report."""
    return Route(
        code=REPORT_ROUTE,
        version=1,
        name="Báo cáo định kỳ của đảng ủy cơ sở",
        kind="report",
        description="Chuyên viên → Lãnh đạo duyệt → người có thẩm quyền của đơn vị ký.",
        stages=[
            RouteStage(
                position=1,
                name="Lãnh đạo đơn vị duyệt",
                action="approve",
                assignee_role=Role.APPROVER,
                assignee_unit_code=None,
                mode="any",
                deadline_days=2,
            ),
            RouteStage(
                position=2,
                name="Người có thẩm quyền ký",
                action="sign",
                assignee_role=Role.SIGNER,
                assignee_unit_code=None,
                mode="any",
                deadline_days=2,
            ),
        ],
    )


def incoming_route() -> Route:
    """:returns: the route of an incoming document after receipt: the clerk receives (done
    by the receipt itself), a leader of the receiving unit assigns it to a unit (with an
    optional lead person, deadline and note), the assigned unit handles it. The handling
    stage's assignees are chosen at assignment: the lead person, else the unit's holders
    of the stage's role (its chuyên viên), else every member of the unit."""
    return Route(
        code=INCOMING_ROUTE,
        version=1,
        name="Văn bản đến: tiếp nhận, phân công, xử lý",
        kind="incoming",
        description="Văn thư tiếp nhận (kiểm tra chữ ký số, số đến) → Lãnh đạo phân công "
        "đơn vị chủ trì, người chủ trì, hạn xử lý → Đơn vị được giao xử lý, báo cáo kết quả.",
        stages=[
            RouteStage(
                position=1,
                name="Văn thư tiếp nhận",
                action="receive",
                assignee_role=Role.CLERK,
                assignee_unit_code=None,
                mode="any",
            ),
            RouteStage(
                position=2,
                name="Lãnh đạo phân công xử lý",
                action="assign",
                assignee_role=Role.APPROVER,
                assignee_unit_code=None,
                mode="any",
                deadline_days=1,
            ),
            RouteStage(
                position=3,
                name="Đơn vị được giao xử lý",
                action="handle",
                assignee_role=Role.DRAFTER,
                assignee_unit_code=None,
                mode="any",
                deadline_days=5,
            ),
        ],
    )


def ensure_seal_certificates(
    session: Session, pki: EmbeddedPki, passphrase: str
) -> list[Certificate]:
    """Give every issuing committee without one a seal certificate (key encrypted with
    the server's seal passphrase). Used at every initialisation, so older instances get
    theirs too."""
    made = []
    issuers = session.scalars(select(Unit).where(Unit.kind.in_(("committee",)))).all()
    for unit in issuers:
        exists = session.scalars(
            select(Certificate.id).where(
                Certificate.unit_id == unit.id, Certificate.purpose == "seal"
            )
        ).first()
        if exists is not None:
            continue
        issued = pki.issue_signing_certificate(
            full_name=unit.name[:60],
            title="Chữ ký số của cơ quan",
            unit=unit.name,
            organisation=unit.name,
            passphrase=passphrase,
        )
        cert = record_issued(
            session,
            issued,
            purpose="seal",
            unit_id=unit.id,
            details={"unit": unit.code, "purpose": "seal"},
        )
        made.append(cert)
    return made
