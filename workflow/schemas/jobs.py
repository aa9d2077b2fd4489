"""workflow: API schemas of the scheduler's periodic jobs (``GET /jobs``)."""

from __future__ import annotations

from pydantic import Field

from workflow.schemas.base import Response

IsoMoment = str
"""A moment already formatted by the presenter: ISO 8601 in Vietnam time."""


class JobRun(Response):
    """One run of a job (the latest)."""

    due_at: IsoMoment | None
    started_at: IsoMoment | None
    finished_at: IsoMoment | None
    outcome: str = Field(description="running, ok, failed or skipped")
    outcome_label: str
    summary: str | None
    error: str | None = Field(description="what failed (no secrets)")
    worker: str | None = Field(description="the host and process that ran it")


class Job(Response):
    """A periodic job and whether it ran on time."""

    name: str
    label: str
    interval_seconds: int
    status: str
    status_label: str
    late: bool
    flagged: bool = Field(description="late, never run, or its last run failed")
    next_due: IsoMoment | None
    last_success: IsoMoment | None
    last_run: JobRun | None


class TargetAsOf(Response):
    """The job whose last success dates a target's figures."""

    job: str
    last_success: IsoMoment | None


class AsOf(Response):
    """When the figures were computed and how current the time-driven ones are."""

    computed_at: IsoMoment | None
    targets: dict[str, TargetAsOf]


class JobList(Response):
    """``GET /jobs``: every job, the number flagged, the grace and the figures' "as of"."""

    jobs: list[Job]
    flagged: int
    grace_seconds: int
    as_of: AsOf
