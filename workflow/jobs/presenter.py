"""workflow: the state of the periodic jobs for people: the last run of each job, whether
it ran on time, and how current the coverage figures are (the API and the dashboard)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask_babel import gettext as _
from sqlalchemy.orm import Session

from storage import job_runs
from storage.models import User
from storage.scheduler_models import JobRun
from workflow.accounts import access
from workflow.i18n import N_
from workflow.jobs.catalogue import JOBS
from workflow.jobs.schedule import LastRun, Timing, timing
from workflow.vocab import vn_display, vn_iso

STATE_LABELS = {
    "ok": N_("Đúng lịch"),
    "running": N_("Đang chạy"),
    "failed": N_("Lần chạy gần nhất bị lỗi"),
    "late": N_("Chậm lịch"),
    "never": N_("Chưa chạy lần nào"),
}
OUTCOME_LABELS = {"running": N_("Đang chạy"), "ok": N_("Thành công"), "failed": N_("Lỗi")}
AS_OF_JOBS = {"T2": "revalidation", "T4": "overdue"}
"""The targets whose figures move with time or re-validation, and the job that moves them:
their figures are only as current as that job's last successful run."""


@dataclass(frozen=True)
class JobStatus:
    """One job as the dashboard shows it."""

    name: str
    label: str
    interval: timedelta
    last: JobRun | None
    """The run with the newest due time."""
    last_success: datetime | None
    """When a run of it last finished successfully."""
    timing: Timing

    def json(self) -> dict[str, Any]:
        """:returns: the API form (times in Vietnam time, ISO 8601)."""
        last = self.last
        return {
            "name": self.name,
            "label": self.label,
            "interval_seconds": int(self.interval.total_seconds()),
            "status": self.timing.state,
            "status_label": STATE_LABELS[self.timing.state],
            "late": self.timing.late,
            "flagged": self.timing.flagged,
            "next_due": vn_iso(self.timing.next_due),
            "last_success": vn_iso(self.last_success),
            "last_run": None
            if last is None
            else {
                "due_at": vn_iso(last.due_at),
                "started_at": vn_iso(last.started_at),
                "finished_at": vn_iso(last.finished_at),
                "outcome": last.outcome,
                "outcome_label": OUTCOME_LABELS.get(last.outcome, last.outcome),
                "summary": last.summary,
                "error": last.error,
                "worker": last.worker,
            },
        }


def job_statuses(
    session: Session, intervals: Mapping[str, timedelta], grace: timedelta, now: datetime
) -> list[JobStatus]:
    """:returns: every job's status at ``now``, in catalogue order."""
    latest = job_runs.latest_runs(session)
    successes = job_runs.last_successes(session)
    statuses = []
    for job in JOBS:
        run = latest.get(job.name)
        last = None if run is None else LastRun(run.due_at, run.outcome)
        interval = intervals[job.name]
        statuses.append(
            JobStatus(
                job.name,
                job.label,
                interval,
                run,
                successes.get(job.name),
                timing(last, now, interval, grace),
            )
        )
    return statuses


def as_of(statuses: list[JobStatus], now: datetime) -> dict[str, Any]:
    """:returns: when the figures were computed (now: they are read from the ledger at
    each request) and, per target that moves with time, the last successful run of the
    job that moves it."""
    by_name = {s.name: s for s in statuses}
    return {
        "computed_at": vn_iso(now),
        "targets": {
            target: {"job": name, "last_success": vn_iso(by_name[name].last_success)}
            for target, name in AS_OF_JOBS.items()
        },
    }


def _every(interval: timedelta) -> str:
    """:returns: "every hour", "every 15 minutes"... in the request's language."""
    seconds = int(interval.total_seconds())
    if seconds % 86400 == 0:
        n = seconds // 86400
        return _("mỗi ngày") if n == 1 else _("mỗi %(n)s ngày", n=n)
    if seconds % 3600 == 0:
        n = seconds // 3600
        return _("mỗi giờ") if n == 1 else _("mỗi %(n)s giờ", n=n)
    if seconds % 60 == 0:
        return _("mỗi %(n)s phút", n=seconds // 60)
    return _("mỗi %(n)s giây", n=seconds)


def panel(statuses: list[JobStatus], now: datetime, *, with_jobs: bool) -> dict[str, Any]:
    """:returns: what the dashboard's jobs panel shows, in display form (Vietnam time):
    when the figures were computed and how current the time-driven ones are (every
    reader), and each job's last run (``with_jobs``: auditors and administrators)."""
    by_name = {s.name: s for s in statuses}
    rows = []
    for s in statuses if with_jobs else []:
        last = s.last
        rows.append(
            {
                "name": s.name,
                "label": s.label,
                "every": _every(s.interval),
                "state": s.timing.state,
                "state_label": STATE_LABELS[s.timing.state],
                "flagged": s.timing.flagged,
                "due": vn_display(last.due_at) if last else "",
                "finished": vn_display(last.finished_at) if last else "",
                "outcome_label": OUTCOME_LABELS.get(last.outcome, last.outcome) if last else "",
                "summary": (last.error or last.summary or "") if last else "",
                "next_due": vn_display(s.timing.next_due),
            }
        )
    return {
        "computed_at": vn_display(now),
        "as_of": [
            {
                "target": target,
                "label": by_name[name].label,
                "at": vn_display(by_name[name].last_success),
            }
            for target, name in AS_OF_JOBS.items()
        ],
        "jobs": rows,
        "flagged": sum(1 for row in rows if row["flagged"]),
    }


def can_see_jobs(user: User) -> bool:
    """:returns: whether ``user`` sees the jobs (auditors and administrators)."""
    return access.oversees(user)
