"""workflow: the system data every installation needs, demo or not: the incoming-document
route and the seal certificates of the issuing committees. Created by initialisation."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from signing.pki import EmbeddedPki
from storage.models import Certificate, Role, Route, RouteStage, Unit
from workflow.signatures.personal_certs import record_issued

INCOMING_ROUTE = "van-ban-den"


def ensure_system_data(session: Session, pki: EmbeddedPki, seal_passphrase: str) -> None:
    """Create what is missing of the system data (every initialisation; the caller commits)."""
    ensure_incoming_route(session)
    ensure_seal_certificates(session, pki, seal_passphrase)


def ensure_incoming_route(session: Session) -> Route | None:
    """:returns: the incoming-document route, created when no route of that code exists."""
    exists = session.scalars(select(Route.id).where(Route.code == INCOMING_ROUTE)).first()
    if exists is not None:
        return None
    route = incoming_route()
    session.add(route)
    session.flush()
    return route


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
