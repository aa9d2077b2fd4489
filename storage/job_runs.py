"""storage: claiming, finishing and reading the runs of the periodic jobs (``job_runs``)."""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from storage.scheduler_models import JobRun

RUNNING = "running"
OK = "ok"
FAILED = "failed"
OUTCOMES = (RUNNING, OK, FAILED)

MAX_TEXT = 2000
"""Longest summary or error kept (a run's record, not a log file)."""


def claim(
    session: Session, job: str, due_at: datetime, worker: str, *, now: datetime
) -> JobRun | None:
    """Claim the run of ``job`` for ``due_at`` in the caller's transaction.

    The insert runs in a savepoint: if another scheduler holds the same (job, due time)
    the unique constraint refuses it (on PostgreSQL the insert first waits for the other
    transaction to end) and nothing else of the caller's transaction is lost. The caller
    commits at once, before the job's work, so that others see the claim.

    :param worker: ``host:pid`` of the caller.
    :returns: the new run, or ``None`` if the slot was already claimed.
    """
    run = JobRun(job=job, due_at=due_at, worker=worker[:255], started_at=now, outcome=RUNNING)
    try:
        with session.begin_nested():
            session.add(run)
            session.flush()
    except IntegrityError:
        return None
    return run


def lock_key(job: str) -> int:
    """:returns: the signed 64-bit PostgreSQL advisory lock key of ``job``."""
    digest = hashlib.sha256(f"trinhky.job:{job}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def serialise(session: Session, job: str) -> None:
    """Wait, in the caller's transaction, until no other transaction is doing ``job``'s
    work: runs of two due times on two hosts then follow each other instead of both
    reading the same state (a task reminded twice). PostgreSQL: a transaction-scoped
    advisory lock; SQLite already serialises its writing transactions.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": lock_key(job)})


def finish(
    session: Session,
    run_id: int,
    outcome: str,
    *,
    now: datetime,
    summary: str | None = None,
    error: str | None = None,
) -> JobRun:
    """Record how a claimed run ended, in the caller's transaction.

    :param outcome: ``ok`` or ``failed``.
    :raises ValueError: an unknown outcome, or no such run.
    """
    if outcome not in (OK, FAILED):
        raise ValueError(f"a run ends ok or failed, not {outcome!r}")
    run = session.get(JobRun, run_id)
    if run is None:
        raise ValueError(f"no job run #{run_id}")
    run.outcome = outcome
    run.finished_at = now
    run.summary = summary[:MAX_TEXT] if summary else None
    run.error = error[:MAX_TEXT] if error else None
    session.flush()
    return run


def latest_runs(session: Session) -> dict[str, JobRun]:
    """:returns: each job's run with the newest due time, by job name."""
    newest = (
        select(JobRun.job, func.max(JobRun.due_at).label("due_at")).group_by(JobRun.job).subquery()
    )
    rows = session.scalars(
        select(JobRun).join(
            newest, (JobRun.job == newest.c.job) & (JobRun.due_at == newest.c.due_at)
        )
    )
    return {run.job: run for run in rows}


def last_successes(session: Session) -> dict[str, datetime]:
    """:returns: each job's latest finish time among its successful runs, by job name."""
    rows = session.execute(
        select(JobRun.job, func.max(JobRun.finished_at))
        .where(JobRun.outcome == OK)
        .group_by(JobRun.job)
    )
    return {job: at for job, at in rows if at is not None}


def runs_of(session: Session, job: str, limit: int = 20) -> list[JobRun]:
    """:returns: the newest ``limit`` runs of ``job``, newest due time first."""
    return list(
        session.scalars(
            select(JobRun).where(JobRun.job == job).order_by(JobRun.due_at.desc()).limit(limit)
        )
    )
