"""workflow: what T4 counts, as a pure rule over plain facts: a report obligation is
submitted when the bloc committee's clerk has received the report electronically.

- The report is delivered to the superior's incoming register (the bloc committee's);
  it is **submitted** once the clerk there received it (signatures validated on
  receipt). ``submitted`` if it was delivered by the due date (Vietnam time), ``late``
  after it: both are online.
- Delivered on paper: ``missing`` (status ``paper``), due or not. Returned on receipt (signatures invalid) or recalled:
  not submitted. Past the due date without a receipt: ``missing`` (overdue obligations
  are misses); before it: ``pending`` (outside the figure).
- A state-secret report: ``exempt``.
- It counts in the **reporting period** (its last day), not on the due date: the
  December report counts in December's year.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from workflow.coverage.rules import vn_date

STATUS_LABELS = {
    "submitted": "Đã nộp đúng hạn",
    "late": "Nộp muộn",
    "missing": "Chưa nộp (quá hạn)",
    "pending": "Chưa đến hạn",
    "sent": "Đã gửi, chờ cấp trên tiếp nhận",
    "paper": "Nộp bản giấy (không tính là trực tuyến)",
    "exempt": "Miễn (báo cáo mật)",
}
"""Labels of :func:`report_status` (the reports page and API)."""


@dataclass(frozen=True)
class ReportFacts:
    """What is known about one obligation."""

    due_date: date
    """The last day (Vietnam time) it may be delivered on time."""
    classified: bool = False
    """A state-secret report."""
    sent_at: datetime | None = None
    """Delivered to the superior's incoming register (None: not, or not any more)."""
    received_at: datetime | None = None
    """Received there electronically after signature validation (None: not yet,
    returned, or the report was recalled)."""
    on_paper: bool = False
    """Delivered on paper (recorded by the clerk): never submitted online."""
    paper_on: date | None = None
    """The day it was delivered on paper, when known."""
    problem: str | None = None
    """Why a delivery does not count (returned, recalled), for the drill-down."""


def report_status(facts: ReportFacts, today: date) -> tuple[str, str | None]:
    """:param today: today in Vietnam time.
    :returns: the status (``exempt``, ``submitted``, ``late``, ``sent``, ``pending``,
        ``paper``, ``missing``) and why it is missed (Vietnamese), if it is."""
    if facts.classified:
        return "exempt", None
    if facts.received_at is not None and not facts.on_paper:
        delivered = facts.sent_at or facts.received_at
        if vn_date(delivered) <= facts.due_date:
            return "submitted", None
        return "late", None
    if facts.on_paper:
        on = f" ngày {facts.paper_on:%d/%m/%Y}" if facts.paper_on else ""
        return "paper", f"Nộp bằng bản giấy{on}, không trực tuyến."
    overdue = today > facts.due_date
    if not overdue:
        return ("sent" if facts.sent_at is not None else "pending"), facts.problem
    if facts.problem:
        return "missing", facts.problem
    if facts.sent_at is not None:
        return "missing", "Đã gửi nhưng văn thư Đảng ủy Khối chưa tiếp nhận (quá hạn)."
    return "missing", "Chưa gửi báo cáo lên Đảng ủy Khối trên hệ thống (quá hạn)."


def ledger_state(status: str) -> str:
    """:returns: the T4 ledger state of a :func:`report_status` (``sent``: pending,
    ``paper``: missing)."""
    return {"sent": "pending", "paper": "missing"}.get(status, status)
