"""workflow: records kept off the system: a report delivered on paper (a miss of T4) and
a work file kept on paper (a miss of T3), each recorded, audited and counted in the
coverage ledger in the same transaction.

Use-cases take the session and never commit; the views do.
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from flask_babel import gettext as _
from sqlalchemy.orm import Session

from storage import audit
from storage.models import User
from storage.registry_models import ReportObligation, WorkFile
from workflow.coverage import ledger as coverage
from workflow.errors import ConflictError, ForbiddenError, InvalidInputError
from workflow.records import reporting, workfiles
from workflow.vocab import VN_TZ

PAPER_DELIVERED = "report:paper_delivered"


def _day(value: Any, label: str, today: date) -> date | None:
    """A date ``YYYY-MM-DD`` not after ``today``; ``None`` when not given."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        day = date.fromisoformat(value.strip()) if isinstance(value, str) else None
    except ValueError:
        day = None
    if day is None:
        raise InvalidInputError(
            _("%(field)s phải là ngày dạng YYYY-MM-DD, ví dụ 2026-12-01.", field=label)
        )
    if day > today:
        raise InvalidInputError(_("%(field)s không được sau ngày hôm nay.", field=label))
    return day


def record_paper_report(
    session: Session, actor: User, obligation_id: int, *, delivered_on: Any, now: datetime
) -> ReportObligation:
    """Record that the report of an obligation was delivered on paper (default: today):
    a miss of T4 from now on, whether due yet or not. Done by a clerk who receives the
    unit's reports (its own clerk, or a clerk of a committee above it).

    :raises NotFoundError: no such obligation, or not visible.
    :raises ForbiddenError: not such a clerk.
    :raises ConflictError: classified, already submitted online or recorded on paper.
    :raises InvalidInputError: a bad date.
    """
    obligation = reporting.get_obligation(session, actor, obligation_id)
    if obligation.unit_id not in reporting.clerk_scope(session, actor):
        raise ForbiddenError(
            _("Chỉ văn thư nhận báo cáo của đơn vị được ghi nhận báo cáo nộp bằng bản giấy.")
        )
    if obligation.classified:
        raise ConflictError(
            _("Báo cáo mật được gửi ngoài hệ thống và miễn chỉ tiêu; không cần ghi nhận.")
        )
    if obligation.submitted_at is not None:
        raise ConflictError(_("Báo cáo này đã được nộp trực tuyến."))
    if obligation.paper_delivered_on is not None:
        raise ConflictError(_("Báo cáo này đã được ghi nhận nộp bằng bản giấy."))
    today = now.astimezone(VN_TZ).date()
    day = _day(delivered_on, _("Ngày nhận bản giấy"), today) or today
    obligation.paper_delivered_on = day
    obligation.paper_recorded_by_id = actor.id
    session.flush()
    audit.append(
        session,
        PAPER_DELIVERED,
        actor_id=actor.id,
        object_type="report_obligation",
        object_id=obligation.id,
        details={"delivered_on": day.isoformat(), "period": obligation.period},
        at=now,
    )
    coverage.record_obligation(session, obligation, now=now)
    return obligation


def register_paper_workfile(
    session: Session,
    actor: User,
    *,
    title: Any,
    code: Any = None,
    unit_code: Any = None,
    classified: bool = False,
    closed_on: Any = None,
    now: datetime,
) -> WorkFile:
    """Register a work file kept on paper (never processed online); with ``closed_on``
    it is closed on that day at once and counts as a miss of T3 (unless classified).

    :raises InvalidInputError: a bad title, code, unit or date.
    :raises ForbiddenError: the actor does not work in that unit.
    :raises ConflictError: the code is already used in the unit.
    """
    for name, value in (("title", title), ("code", code), ("unit", unit_code)):
        if value is not None and not isinstance(value, str):
            raise InvalidInputError(_("'%(field)s' phải là chuỗi.", field=name))
    today = now.astimezone(VN_TZ).date()
    day = _day(closed_on, _("Ngày kết thúc hồ sơ"), today)
    wf = workfiles.create_workfile(
        session,
        actor,
        title=title,
        code=code,
        unit_code=unit_code,
        classified=classified,
        form="paper",
        now=now,
    )
    if day is None:
        return wf
    # Closed on that day (at the moment of recording when it is today); the audit entry
    # keeps the time of recording, the chain's order.
    when = now if day == today else datetime.combine(day, time(12), VN_TZ)
    wf.opened_at = min(wf.opened_at, when)
    wf.closed_at = when
    wf.processed_online = None if wf.classified else False
    audit.append(
        session,
        "workfile:closed",
        actor_id=actor.id,
        object_type="workfile",
        object_id=wf.id,
        details={
            "processed_online": wf.processed_online,
            "form": "paper",
            "closed_on": day.isoformat(),
        },
        at=now,
    )
    coverage.record_workfile(session, wf, now=now)
    return wf
