"""workflow: the reporting regime (chế độ báo cáo): obligations per period, their
status, and reports submitted online as documents (target T4)."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from storage import audit
from storage.models import Role, Unit, UnitKind, User
from storage.registry_models import ReportObligation
from workflow.accounts import access
from workflow.coverage import ledger as coverage
from workflow.errors import ConflictError, ForbiddenError, InvalidInputError, NotFoundError
from workflow.i18n import N_
from workflow.vocab import to_vn, vn_iso

NOT_FOUND = N_("Không tìm thấy nghĩa vụ báo cáo, hoặc bạn không có quyền xem.")
STATUS_LABELS = {
    "submitted": "Đã nộp đúng hạn",
    "late": "Nộp muộn",
    "missing": "Chưa nộp (quá hạn)",
    "pending": "Chưa đến hạn",
    "exempt": "Miễn (báo cáo mật)",
    "paper": "Nộp bản giấy (không tính là trực tuyến)",
}


@dataclass(frozen=True)
class ReportKind:
    """One kind of report of the regime."""

    code: str
    """Stable identifier, stored as ``report_type``."""
    title: str
    """Vietnamese name of the report."""
    frequency: str
    """``year``, ``quarter`` or ``month``: the periods it is owed for."""
    unit_kinds: tuple[str, ...]
    """The kinds of units that owe it."""
    due_days: int
    """Calendar days after the period ends by which it is due (inclusive)."""
    classified: bool = False
    """A state-secret report: exempt from online submission."""


REGIME: tuple[ReportKind, ...] = (
    ReportKind(
        "cong-tac-dang-quy",
        "Báo cáo công tác đảng",
        "quarter",
        (UnitKind.GRASSROOTS,),
        10,
    ),
    ReportKind(
        "tinh-hinh-tu-tuong",
        "Báo cáo tình hình tư tưởng",
        "month",
        (UnitKind.BOARD,),
        5,
    ),
    ReportKind(
        "tong-ket-nam",
        "Báo cáo tổng kết công tác năm",
        "year",
        (UnitKind.GRASSROOTS, UnitKind.BOARD),
        15,
    ),
    ReportKind(
        "bao-ve-chinh-tri-nam",
        "Báo cáo công tác bảo vệ chính trị nội bộ",
        "year",
        (UnitKind.GRASSROOTS,),
        15,
        classified=True,
    ),
)
KINDS = {kind.code: kind for kind in REGIME}


@dataclass(frozen=True)
class Period:
    """A reporting period: a year, a quarter or a month."""

    label: str
    """``2026``, ``2026-Q3`` or ``2026-09``."""
    frequency: str
    """``year``, ``quarter`` or ``month``."""
    start: date
    """First day."""
    end: date
    """Last day."""


_PERIOD = re.compile(r"^(\d{4})(?:-Q([1-4])|-(0[1-9]|1[0-2]))?$")


def parse_period(text: str | None) -> Period:
    """:returns: the period named by ``text``.

    :raises InvalidInputError: not a year, a quarter or a month.
    """
    match = _PERIOD.match((text or "").strip())
    if match is None or not 2000 <= int(match[1]) <= 2100:
        raise InvalidInputError(
            _("Kỳ báo cáo không hợp lệ: năm (2026), quý (2026-Q3) hoặc tháng (2026-09).")
        )
    year = int(match[1])
    if match[2]:
        quarter = int(match[2])
        first, last = 3 * quarter - 2, 3 * quarter
        end = date(year, last, calendar.monthrange(year, last)[1])
        return Period(f"{year}-Q{quarter}", "quarter", date(year, first, 1), end)
    if match[3]:
        month = int(match[3])
        end = date(year, month, calendar.monthrange(year, month)[1])
        return Period(f"{year}-{month:02d}", "month", date(year, month, 1), end)
    return Period(str(year), "year", date(year, 1, 1), date(year, 12, 31))


@dataclass(frozen=True)
class Generated:
    """What a generation run did."""

    period: Period
    created: list[ReportObligation]
    """The obligations added by this run."""
    existing: int
    """Obligations of the period that were already there (left as they are)."""


def generate_obligations(
    session: Session, period_text: str, actor_id: int | None = None
) -> Generated:
    """Add the obligations the regime defines for a period; idempotent (an obligation
    of one unit, type and period is created once). A deactivated unit owes nothing new."""
    period = parse_period(period_text)
    units = session.scalars(select(Unit).where(Unit.active.is_(True)).order_by(Unit.id)).all()
    have = {
        (o.unit_id, o.report_type)
        for o in session.scalars(
            select(ReportObligation).where(ReportObligation.period == period.label)
        )
    }
    created: list[ReportObligation] = []
    existing = 0
    for kind in REGIME:
        if kind.frequency != period.frequency:
            continue
        for unit in units:
            if unit.kind not in kind.unit_kinds:
                continue
            if (unit.id, kind.code) in have:
                existing += 1
                continue
            obligation = ReportObligation(
                unit_id=unit.id,
                report_type=kind.code,
                title=f"{kind.title} {period_title(period)}",
                period=period.label,
                due_date=period.end + timedelta(days=kind.due_days),
                classified=kind.classified,
            )
            obligation.unit = unit
            session.add(obligation)
            created.append(obligation)
    session.flush()
    if created:
        audit.append(
            session,
            "report:obligations_generated",
            actor_id=actor_id,
            object_type="report_period",
            object_id=period.label,
            details={"created": len(created), "existing": existing},
        )
    return Generated(period, created, existing)


def period_title(period: Period) -> str:
    """:returns: the Vietnamese name of a period (``quý III năm 2026``)."""
    if period.frequency == "quarter":
        roman = ("I", "II", "III", "IV")[(period.start.month - 1) // 3]
        return f"quý {roman} năm {period.start.year}"
    if period.frequency == "month":
        return f"tháng {period.start.month:02d}/{period.start.year}"
    return f"năm {period.start.year}"


def obligation_status(obligation: ReportObligation, now: datetime) -> str:
    """:returns: ``exempt``, ``submitted`` (on or before the due date, Vietnam time),
    ``late``, ``paper`` (delivered on paper), ``missing`` (none yet, past due) or
    ``pending`` (not due yet)."""
    if obligation.classified:
        return "exempt"
    if obligation.submitted_at is not None:
        submitted = to_vn(obligation.submitted_at)
        assert submitted is not None  # noqa: S101 - not None above
        return "submitted" if submitted.date() <= obligation.due_date else "late"
    if obligation.paper_delivered_on is not None:
        return "paper"
    today = to_vn(now)
    assert today is not None  # noqa: S101 - now is given
    return "missing" if today.date() > obligation.due_date else "pending"


def _sees_all(user: User) -> bool:
    return access.is_auditor(user) or user.has_role(Role.ADMIN)


def clerk_scope(session: Session, user: User) -> set[int]:
    """:returns: the units whose reports ``user`` receives as clerk (and may record as
    delivered on paper): the units they are clerk of, the committee an office clerk
    serves, and every unit below those."""
    units = {u.id: u for u in session.scalars(select(Unit))}
    roots: set[int] = set()
    for unit_id in user.units_with(Role.CLERK):
        roots.add(unit_id)
        unit = units.get(unit_id)
        if unit is not None and unit.kind == UnitKind.OFFICE and unit.parent_id is not None:
            roots.add(unit.parent_id)
    children: dict[int, list[int]] = {}
    for unit in units.values():
        if unit.parent_id is not None:
            children.setdefault(unit.parent_id, []).append(unit.id)
    scope: set[int] = set()
    todo = list(roots)
    while todo:
        current = todo.pop()
        if current not in scope:
            scope.add(current)
            todo.extend(children.get(current, []))
    return scope


def _visible_units(session: Session, user: User) -> set[int]:
    return {r.unit_id for r in user.roles} | clerk_scope(session, user)


def list_obligations(
    session: Session, user: User, unit_code: str | None = None, period: str | None = None
) -> list[ReportObligation]:
    """:returns: the obligations the user may see (their units'; all for auditors and
    administrators), optionally of one unit and one period."""
    query = select(ReportObligation).order_by(
        ReportObligation.due_date, ReportObligation.unit_id, ReportObligation.report_type
    )
    if not _sees_all(user):
        query = query.where(ReportObligation.unit_id.in_(_visible_units(session, user)))
    if unit_code:
        query = query.join(Unit, Unit.id == ReportObligation.unit_id).where(Unit.code == unit_code)
    if period:
        query = query.where(ReportObligation.period == parse_period(period).label)
    return list(session.scalars(query))


def get_obligation(session: Session, user: User, obligation_id: int) -> ReportObligation:
    """:returns: the obligation if the user may see it.

    :raises NotFoundError: no such obligation, or not visible.
    """
    obligation = session.get(ReportObligation, obligation_id)
    if obligation is None or not (
        _sees_all(user) or obligation.unit_id in _visible_units(session, user)
    ):
        raise NotFoundError(_(NOT_FOUND))
    return obligation


def submit_report(
    session: Session, actor: User, obligation_id: int, document_id: int, now: datetime
) -> ReportObligation:
    """Link the actor's submitted report document (on a ``report`` route) to an
    obligation; the submission time is the document's ``submitted_at``.

    :raises ConflictError: already linked, exempt, or the document is not submitted.
    :raises ForbiddenError: not the actor's document, or of another unit.
    :raises InvalidInputError: the document is not on a report route.
    """
    obligation = get_obligation(session, actor, obligation_id)
    if obligation.classified:
        raise ConflictError(_("Báo cáo mật được gửi ngoài hệ thống; không nộp trực tuyến."))
    if obligation.document_id is not None:
        raise ConflictError(_("Nghĩa vụ báo cáo này đã có văn bản báo cáo được nộp."))
    doc = access.get_visible_document(session, actor, document_id)
    if doc.created_by_id != actor.id:
        raise ForbiddenError(_("Chỉ người soạn báo cáo mới được nộp văn bản này."))
    if doc.unit_id != obligation.unit_id:
        raise ForbiddenError(_("Văn bản báo cáo phải do đơn vị có nghĩa vụ báo cáo soạn."))
    if doc.route is None or doc.route.kind != "report":
        raise InvalidInputError(
            _("Văn bản phải được trình theo tuyến báo cáo (ví dụ «bao-cao-dinh-ky»).")
        )
    if doc.submitted_at is None:
        raise ConflictError(_("Văn bản báo cáo chưa được trình; hãy trình trước khi nộp."))
    used = session.scalars(
        select(ReportObligation.id).where(ReportObligation.document_id == doc.id)
    ).first()
    if used is not None:
        raise ConflictError(_("Văn bản này đã được nộp cho một nghĩa vụ báo cáo khác."))
    obligation.document_id = doc.id
    obligation.document = doc
    obligation.submitted_at = doc.submitted_at
    coverage.record_obligation(session, obligation, now=now)
    audit.append(
        session,
        "report:submitted",
        actor_id=actor.id,
        object_type="report_obligation",
        object_id=obligation.id,
        details={
            "document_id": doc.id,
            "period": obligation.period,
            "status": obligation_status(obligation, now),
        },
        at=now,
    )
    return obligation


def obligation_json(obligation: ReportObligation, now: datetime) -> dict[str, Any]:
    """:returns: the API form of an obligation, with its status at ``now``."""
    status = obligation_status(obligation, now)
    kind = KINDS.get(obligation.report_type)
    return {
        "id": obligation.id,
        "unit": {"code": obligation.unit.code, "name": obligation.unit.name},
        "report_type": obligation.report_type,
        "report_name": kind.title if kind else obligation.report_type,
        "title": obligation.title,
        "period": obligation.period,
        "due_date": obligation.due_date.isoformat(),
        "classified": obligation.classified,
        "document_id": obligation.document_id,
        "submitted_at": vn_iso(obligation.submitted_at),
        "paper_delivered_on": (
            obligation.paper_delivered_on.isoformat() if obligation.paper_delivered_on else None
        ),
        "status": status,
        "status_label": STATUS_LABELS[status],
    }
