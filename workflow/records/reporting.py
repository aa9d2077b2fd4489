"""workflow: the reporting regime (chế độ báo cáo): obligations per period, their
status, and reports sent online to the superior (target T4).

A unit's report is a document on a ``report`` route; once it reached its final signed
form, its drafter (or the unit's clerk) sends it to the superior's incoming register
(the bloc committee's). It is *submitted* when the clerk there receives it, after the
automatic signature validation (``registry.dispatch.receive``); returned on receipt or
recalled, it is not, and another report may be sent. The status of an obligation is
T4's rule (``coverage.obligations``)."""

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
from storage.models import Document, Role, Unit, UnitKind, User
from storage.registry_models import ReportObligation
from workflow.accounts import access
from workflow.coverage import ledger as coverage
from workflow.documents.states import DocState
from workflow.errors import ConflictError, ForbiddenError, InvalidInputError, NotFoundError
from workflow.i18n import N_, translate
from workflow.registry import dispatch as dispatching
from workflow.registry.dispatch import clerk_units
from workflow.vocab import STATE_LABELS, to_vn, vn_iso

NOT_FOUND = N_("Không tìm thấy nghĩa vụ báo cáo, hoặc bạn không có quyền xem.")
STATUS_LABELS = coverage.REPORT_STATUS_LABELS
"""Labels of the statuses (T4's rule): submitted, late, sent, pending, missing, exempt."""
FINAL_STATES = (DocState.SIGNED, DocState.ISSUED)
"""A report may be sent once its route ended with its signature (or its issuance)."""
SENT = "report:sent"


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
    """:returns: ``exempt``, ``submitted`` (received by the superior, delivered by the
    due date, Vietnam time), ``late``, ``sent`` (delivered, not received yet, not due),
    ``paper`` (delivered on paper: not online), ``missing`` (past due without a receipt)
    or ``pending`` (not due yet)."""
    today = to_vn(now)
    assert today is not None  # noqa: S101 - now is given
    status, _reason = coverage.report_status(coverage.report_facts(obligation), today.date())
    return status


def _sees_all(user: User) -> bool:
    return access.oversees(user)


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


def superior_of(unit: Unit) -> Unit | None:
    """:returns: the committee a unit reports to: the nearest committee above it (the
    bloc committee for its boards and for the grassroots committees), if any."""
    current = unit.parent
    while current is not None and current.kind != UnitKind.COMMITTEE:
        current = current.parent
    return current


def _check_report(
    session: Session, actor: User, obligation: ReportObligation, document_id: int
) -> Document:
    """:returns: the report document ``actor`` may send for ``obligation``."""
    doc = access.get_visible_document(session, actor, document_id)
    if doc.created_by_id != actor.id and obligation.unit_id not in clerk_units(session, actor):
        raise ForbiddenError(
            _("Chỉ người soạn báo cáo hoặc văn thư của đơn vị mới được gửi văn bản này.")
        )
    if doc.unit_id != obligation.unit_id:
        raise ForbiddenError(_("Văn bản báo cáo phải do đơn vị có nghĩa vụ báo cáo soạn."))
    if doc.route is None or doc.route.kind != "report":
        raise InvalidInputError(
            _("Văn bản phải được trình theo tuyến báo cáo (ví dụ «bao-cao-dinh-ky»).")
        )
    if doc.state not in FINAL_STATES or doc.recalled_at is not None or not doc.has_content:
        raise ConflictError(
            _(
                "Báo cáo chưa được ký số hoàn tất (đang ở bước «%(state)s»); chỉ gửi báo cáo "
                "đã được người có thẩm quyền ký số.",
                state=translate(STATE_LABELS.get(doc.state, doc.state)),
            )
        )
    used = session.scalars(
        select(ReportObligation.id).where(
            ReportObligation.document_id == doc.id, ReportObligation.id != obligation.id
        )
    ).first()
    if used is not None:
        raise ConflictError(_("Văn bản này đã được nộp cho một nghĩa vụ báo cáo khác."))
    return doc


def submit_report(
    session: Session, actor: User, obligation_id: int, document_id: int, now: datetime
) -> ReportObligation:
    """Send the unit's signed report document for an obligation to the superior's
    incoming register (pending receipt by its clerks, who are told). The obligation
    counts as submitted once they receive it; a report returned on receipt may be
    replaced by another one.

    :raises ConflictError: exempt, already sent (awaiting receipt or received), the
        report is not signed yet or recalled, used for another obligation, or the unit
        has no superior.
    :raises ForbiddenError: neither the drafter nor a clerk of the unit, or another
        unit's document.
    :raises InvalidInputError: the document is not on a report route.
    """
    obligation = get_obligation(session, actor, obligation_id)
    if obligation.classified:
        raise ConflictError(_("Báo cáo mật được gửi ngoài hệ thống; không nộp trực tuyến."))
    status = obligation_status(obligation, now)
    if status in ("submitted", "late"):
        raise ConflictError(_("Báo cáo của nghĩa vụ này đã được cấp trên tiếp nhận."))
    if coverage.report_facts(obligation).sent_at is not None:
        raise ConflictError(
            _("Báo cáo của nghĩa vụ này đã được gửi và đang chờ cấp trên tiếp nhận.")
        )
    doc = _check_report(session, actor, obligation, document_id)
    superior = superior_of(obligation.unit)
    if superior is None:
        raise ConflictError(_("Đơn vị này không có cấp trên để gửi báo cáo."))
    _row, entry = dispatching.deliver_to_unit(
        session, actor, doc, superior, obligation.unit.name, now
    )
    obligation.document_id = doc.id
    obligation.document = doc
    obligation.incoming_entry_id = entry.id
    obligation.incoming_entry = entry
    obligation.sent_at = now
    obligation.submitted_at = None
    coverage.record_exchange(session, doc, now=now)
    coverage.record_obligation(session, obligation, now=now, actor_id=actor.id)
    audit.append(
        session,
        SENT,
        actor_id=actor.id,
        object_type="report_obligation",
        object_id=obligation.id,
        details={
            "document_id": doc.id,
            "period": obligation.period,
            "to": superior.code,
            "incoming_entry": entry.id,
            "status": obligation_status(obligation, now),
        },
        at=now,
    )
    return obligation


def obligation_json(obligation: ReportObligation, now: datetime) -> dict[str, Any]:
    """:returns: the API form of an obligation, with its status at ``now``."""
    status = obligation_status(obligation, now)
    facts = coverage.report_facts(obligation)
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
        "incoming_entry_id": obligation.incoming_entry_id,
        "sent_at": vn_iso(facts.sent_at),
        "submitted_at": vn_iso(facts.received_at),
        "paper_delivered_on": (
            obligation.paper_delivered_on.isoformat() if obligation.paper_delivered_on else None
        ),
        "status": status,
        "status_label": STATUS_LABELS[status],
        "problem": facts.problem,
    }
