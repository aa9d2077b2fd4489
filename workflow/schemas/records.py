"""workflow: API schemas of records: work files (hồ sơ công việc), the reporting regime
(chế độ báo cáo), reminders."""

from __future__ import annotations

from pydantic import Field

from workflow.schemas.base import Bool, Day, Int, Moment, Request, Response
from workflow.schemas.documents import UnitRef

# --- work files ------------------------------------------------------------------------


class WorkFileItem(Response):
    """A document of a work file, or a step recorded as done on paper."""

    id: int
    kind: str = Field(description="document or offline")
    document_id: int | None
    subject: str | None
    offline_note: str | None
    added_at: Moment
    online: bool
    reason: str | None = Field(description="why the item is not online")


class WorkFile(Response):
    """A work file (hồ sơ công việc); ``processed_online`` is live while it is open."""

    id: int
    code: str
    title: str
    unit: UnitRef
    owner: str
    classified: bool
    exempt: bool
    form: str = Field(description="electronic, or paper (a file kept on paper)")
    state: str = Field(description="open or closed")
    opened_at: Moment
    closed_at: Moment | None
    processed_online: bool | None
    items_count: int
    items: list[WorkFileItem] | None = Field(
        default=None, description="not in the list (GET /workfiles)"
    )


class WorkFileList(Response):
    """``GET /workfiles``, newest first."""

    workfiles: list[WorkFile]


class WorkFileQuery(Request):
    """``GET /workfiles`` query."""

    state: str | None = Field(default=None, description="open or closed (default: both)")


class WorkFileRequest(Request):
    """``POST /workfiles``: open a work file."""

    title: str | None = Field(default=None, description="required")
    code: str | None = Field(default=None, description="default: generated")
    unit: str | None = Field(default=None, description="a unit's code (default: the caller's)")
    classified: Bool = Field(default=False, description="a state-secret file (exempt from T3)")


class PaperWorkFileRequest(WorkFileRequest):
    """``POST /workfiles/paper``: a work file kept on paper (a T3 miss)."""

    closed_on: str | None = Field(default=None, description="YYYY-MM-DD: closed that day")


class PaperReportRequest(Request):
    """``POST /reports/obligations/{obligation_id}/paper``: delivered on paper."""

    delivered_on: str | None = Field(default=None, description="YYYY-MM-DD (default: today)")


class AttachRequest(Request):
    """``POST /workfiles/{workfile_id}/items``: exactly one of the two."""

    document_id: Int | None = None
    offline_note: str | None = Field(default=None, description="a step done on paper")


# --- reporting regime ------------------------------------------------------------------


class UnitName(Response):
    """A unit, by code and name."""

    code: str
    name: str


class Obligation(Response):
    """A report a unit owes for a period, and its status."""

    id: int
    unit: UnitName
    report_type: str
    report_name: str
    title: str
    period: str
    due_date: Day
    classified: bool
    document_id: int | None
    submitted_at: Moment | None
    paper_delivered_on: Day | None = Field(description="delivered on paper (a T4 miss)")
    status: str = Field(description="submitted, late, paper, missing or pending")
    status_label: str


class ObligationList(Response):
    """``GET /reports/obligations``."""

    obligations: list[Obligation]


class ObligationQuery(Request):
    """``GET /reports/obligations`` query."""

    unit: str | None = Field(default=None, description="a unit's code")
    period: str | None = Field(default=None, examples=["2026-Q1", "2026-03", "2026"])


class SubmitReportRequest(Request):
    """``POST /reports/obligations/{obligation_id}/submit``."""

    document_id: Int = Field(title="văn bản báo cáo đã trình")


# --- reminders -------------------------------------------------------------------------


class ReminderRun(Response):
    """``POST /reminders/run``: what the reminder job did."""

    reminded: int
    emailed: int
    failed: int
