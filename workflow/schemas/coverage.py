"""workflow: API schemas of the coverage figures (targets T1-T4) and their exemptions."""

from __future__ import annotations

from pydantic import Field

from workflow.schemas.base import Int, Moment, Request, Response


class Figure(Response):
    """One target's figure over a scope and a period."""

    numerator: int
    denominator: int
    figure: float | None = Field(description="numerator / denominator (null: nothing counted)")
    target: float | None = Field(description="the threshold in force")
    met: bool | None
    exempt: int
    counts: dict[str, int] = Field(description="items per ledger state")
    label: str
    levels: dict[str, Figure] | None = Field(
        default=None, description="T3 only: per level (bloc, grassroots)"
    )
    by_doc_type: dict[str, Figure] | None = Field(default=None, description="with ?by=doc_type")


class Period(Response):
    """A reporting period."""

    code: str
    start: str = Field(json_schema_extra={"format": "date"})
    end: str = Field(json_schema_extra={"format": "date"})


class Coverage(Response):
    """``GET /coverage``: the four figures of a unit (and its descendants)."""

    T1: Figure
    T2: Figure
    T3: Figure
    T4: Figure
    period: Period
    unit: str | None = Field(description="the unit's code (null: the whole organisation)")


class CoverageQuery(Request):
    """``GET /coverage`` query."""

    unit: str | None = Field(default=None, description="a unit's code")
    period: str | None = Field(default=None, examples=["2026", "2026-Q3", "2026-09"])
    by: str | None = Field(default=None, description="doc_type: a breakdown per type")


class Miss(Response):
    """An item that misses a target."""

    id: int
    kind: str
    symbol: str | None
    subject: str | None
    unit: str | None
    unit_name: str | None
    doc_type: str | None
    date: str = Field(json_schema_extra={"format": "date"})
    state: str
    state_label: str
    reason: str | None


class Misses(Response):
    """``GET /coverage/misses``: one page of the items that miss a target."""

    target: str
    period: str
    total: int
    items: list[Miss]


class MissesQuery(CoverageQuery):
    """``GET /coverage/misses`` query."""

    target: str | None = Field(default=None, description="T1, T2, T3 or T4")
    limit: str | None = Field(default=None, description="1..500, default 50")
    offset: str | None = Field(default=None, description="default 0")


class ExemptionRequest(Request):
    """``POST /coverage/exemptions``: a T2 special-rule exemption (auditors, admins)."""

    document_id: Int | None = Field(default=None, description="required: an issued document")
    reason: str | None = Field(default=None, description="required (lý do miễn trừ)")
    decision: str | None = Field(default=None, description="required: the decision that allows it")


class Exemption(Response):
    """The exempted ledger entry."""

    document_id: int
    target: str
    state: str
    exempt_reason: str | None
    exempt_decision: str | None
    exempt_approved_by: int | None
    checked_at: Moment | None


class Change(Response):
    """A state change of a ledger entry."""

    target: str
    subject_kind: str
    subject_id: int
    before: str
    after: str


class Revalidated(Response):
    """``POST /coverage/revalidate``: the ledger refreshed, T2 signatures re-checked."""

    created: int
    validated: int
    changes: list[Change]
