"""workflow: the periodic jobs' use-cases. Each takes a session and what it needs, works
in the caller's transaction and never commits (the scheduler's runner, a CLI command or a
test commits). The existing commands call the same functions: ``generate-obligations``
(:func:`workflow.records.reporting.generate_obligations`), ``send-reminders``
(:func:`workflow.records.reminders.send_reminders`), ``revalidate``
(:func:`workflow.coverage.refresh_ledger` + :func:`workflow.coverage.revalidate`) and
``audit-checkpoint`` (:func:`storage.heads.checkpoint_heads`)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from signing.profiles import TrustConfig
from storage.blobs import BlobStore
from storage.checkpoints import Timestamper
from storage.heads import HeadsCheckpoint, LedgerHead, checkpoint_heads
from storage.job_models import BulkJob
from storage.ledger import LedgerEntry
from storage.registry_models import ReportObligation
from workflow.coverage import ledger as coverage
from workflow.errors import WorkflowError
from workflow.records import reporting
from workflow.signatures import bulk
from workflow.vocab import VN_TZ


class JobError(WorkflowError):
    """A job found something it must not go past (e.g. a broken audit chain)."""

    status = 409
    code = "job_failed"


# --- report obligations ----------------------------------------------------------------


def current_periods(today: date) -> list[str]:
    """:returns: the reporting periods (month, quarter, year) containing ``today``, as
    :func:`reporting.parse_period` spells them.

    Past periods are left alone: a period that ended before the system was in use owes
    nothing, and the daily run creates each period's obligations on its first day (a
    period missed entirely: ``flask generate-obligations --period``)."""
    quarter = (today.month - 1) // 3 + 1
    return [f"{today.year}-{today.month:02d}", f"{today.year}-Q{quarter}", str(today.year)]


def generate_current_obligations(session: Session, now: datetime) -> list[reporting.Generated]:
    """Create the obligations of the current month, quarter and year (idempotent: an
    obligation of one unit, type and period is created once)."""
    today = now.astimezone(VN_TZ).date()
    return [reporting.generate_obligations(session, p) for p in current_periods(today)]


# --- overdue obligations (T4) -------------------------------------------------------------


def newly_overdue(session: Session, today: date) -> list[ReportObligation]:
    """:returns: the obligations due before ``today`` (Vietnam date) that have no T4
    ledger entry yet, oldest due date first."""
    entered = exists().where(
        LedgerEntry.target == "T4",
        LedgerEntry.subject_kind == "report",
        LedgerEntry.subject_id == ReportObligation.id,
    )
    query = (
        select(ReportObligation)
        .where(ReportObligation.due_date < today, ~entered)
        .order_by(ReportObligation.due_date, ReportObligation.id)
    )
    return list(session.scalars(query))


def record_overdue(session: Session, now: datetime) -> list[int]:
    """Enter every obligation whose due date has passed into the ledger (T4): one that
    was not submitted becomes a miss without anyone pressing a button.

    :returns: the ids of the obligations entered.
    """
    done: list[int] = []
    for obligation in newly_overdue(session, now.astimezone(VN_TZ).date()):
        coverage.record_obligation(session, obligation, now=now)
        done.append(obligation.id)
    session.flush()
    return done


# --- re-validation (T2) --------------------------------------------------------------------


def revalidate_ledger(
    session: Session, blobs: BlobStore, trust: TrustConfig, now: datetime
) -> coverage.RefreshResult:
    """Refresh the ledger, then re-check every T2 signature (what ``flask revalidate``
    does); each change of state is in the audit log.

    :returns: the two results added up.
    """
    first = coverage.refresh_ledger(session, blobs, trust, now=now)
    second = coverage.revalidate(session, blobs, trust, now)
    first.validated += second.validated
    first.changes += second.changes
    return first


# --- checkpoints -------------------------------------------------------------------------------


def checkpoint(
    session: Session,
    timestamper: Timestamper | None,
    now: datetime,
    *,
    ledger: LedgerHead | None = None,
) -> HeadsCheckpoint:
    """Record the ledger head (if it changed) and checkpoint the audit head under the
    TSA's timestamp, unless the newest checkpoint already covers it.

    :param ledger: the ledger head if computed already (e.g. in a read-only session, so
        that on SQLite the digest is not taken under the write lock).
    :raises JobError: the audit chain is broken: nothing is recorded.
    """
    done = checkpoint_heads(session, timestamper, now=now, ledger=ledger)
    if not done.report.ok:
        raise JobError(
            f"Chuỗi nhật ký kiểm toán không toàn vẹn tại bản ghi số {done.report.first_broken}; "
            "không tạo điểm kiểm tra. Hãy kiểm tra nhật ký (trang Nhật ký kiểm toán)."
        )
    return done


# --- bulk signing jobs ----------------------------------------------------------------------


def fail_stale_bulk_jobs(session: Session) -> list[str]:
    """Mark failed every bulk signing job whose process stopped beating (as reading it
    would), so its signer and the lists see it at once.

    :returns: the ids of the jobs marked failed.
    """
    active = session.scalars(select(BulkJob.id).where(BulkJob.status.in_(bulk.ACTIVE))).all()
    return [job_id for job_id in active if bulk.mark_if_stale(session, job_id)]
