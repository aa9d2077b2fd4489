"""workflow: running the periodic jobs: claim a (job, due time) in the database, do the
work in its own transaction, record the outcome; and the APScheduler scheduler that
calls it at every due time.

Why APScheduler 3, and why the database decides who runs
---------------------------------------------------------
The jobs are a handful of periodic use-cases, not a task queue, and they must run in the
embedded default (SQLite, one command, nothing else to install) as on the scale-out
(PostgreSQL, several app hosts). Candidates, all existing, maintained libraries:

- **APScheduler 3.x** (chosen): an in-process scheduler, pure Python, one small
  dependency (tzlocal); interval triggers to the second, misfire and coalescing rules,
  a thread pool. It needs no broker and no store of its own here: the schedule is code
  plus settings, so each process keeps it in memory (``MemoryJobStore``). Its
  persistent ``SQLAlchemyJobStore`` would not help: APScheduler 3 documents that two
  schedulers sharing a job store run jobs twice or miss them.
- huey: ``SqliteHuey`` suits the embedded default, but PostgreSQL needs
  ``huey.contrib.sql_huey`` over peewee (a second ORM), periodic tasks are checked once
  a minute (no short intervals for tests), and every consumer with periodic tasks
  enabled enqueues them: duplicates across hosts all the same.
- procrastinate: periodic tasks deduplicated in PostgreSQL, but PostgreSQL only (no
  embedded SQLite default).
- RQ, Celery: need Redis or RabbitMQ, an extra service to install and run.

None of them makes "once per due time across hosts" hold by itself on both databases,
so the guarantee lives in TrinhKy's own database: due times are slots aligned to
:data:`workflow.jobs.schedule.ANCHOR`, identical on every host, and a run starts only
after its ``job_runs`` row (unique per job and due time) is inserted and committed.
Two schedulers racing for a slot both try the insert; PostgreSQL makes the second wait
for the first and then refuses it (SQLite serialises the writers), so the loser skips.
APScheduler only says *when* to try.
"""

from __future__ import annotations

import logging
import os
import re
import socket
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.exc import SQLAlchemyError

from storage import job_runs
from storage.checkpoints import Timestamper
from storage.types import utcnow
from workflow.errors import WorkflowError
from workflow.jobs.catalogue import Job, JobContext
from workflow.jobs.schedule import ANCHOR, due_slot
from workflow.mail import Mailer
from workflow.services import Services

log = logging.getLogger("trinhky.jobs")

SKIPPED = "skipped"
_CREDENTIALS = re.compile(r"(://[^:/@\s]+):[^@\s]+@")


def worker_name() -> str:
    """:returns: ``host:pid`` of this process (who ran a job)."""
    return f"{socket.gethostname()}:{os.getpid()}"


def describe_error(exc: BaseException) -> str:
    """:returns: a one-line description of why a run failed, for the record: the
    message a workflow error carries, else the error's type and first line, without the
    SQL parameters of a database error or the password of a URL."""
    if isinstance(exc, WorkflowError):
        return exc.message
    orig = getattr(exc, "orig", None)
    if isinstance(exc, SQLAlchemyError) and isinstance(orig, BaseException):
        exc = orig  # the driver's message, without the SQL and its parameters
    lines = str(exc).strip().splitlines()
    text = f"{type(exc).__name__}: {lines[0] if lines else ''}".rstrip(": ")
    return _CREDENTIALS.sub(r"\1:***@", text)[:500]


@dataclass(frozen=True)
class RunOutcome:
    """What one attempt at a (job, due time) came to."""

    job: str
    due_at: datetime
    status: str
    """``ok``, ``failed`` or ``skipped`` (another scheduler holds the slot)."""
    summary: str | None = None
    error: str | None = None
    run_id: int | None = None


class Runner:
    """Claims, runs and records the jobs of one process."""

    def __init__(
        self,
        services: Services,
        jobs: Sequence[Job],
        intervals: Mapping[str, timedelta],
        mailer: Mailer,
        timestamper: Timestamper | None,
        *,
        clock: Callable[[], datetime] = utcnow,
        worker: str | None = None,
    ) -> None:
        """:param intervals: each job's interval, by name (``catalogue.intervals``).
        :param clock: the time of due slots and runs (tests pass a fixed one)."""
        self.services = services
        self.jobs = {job.name: job for job in jobs}
        self.intervals = dict(intervals)
        self.mailer = mailer
        self.timestamper = timestamper
        self.clock = clock
        self.worker = worker or worker_name()

    def due(self, name: str) -> datetime:
        """:returns: the due time of ``name`` now (its newest slot)."""
        return due_slot(self.clock(), self.intervals[name])

    def tick(self, name: str) -> RunOutcome:
        """Run ``name`` for its current due time, unless someone already has."""
        return self.run(name, self.due(name))

    def run_all(self) -> list[RunOutcome]:
        """Run every job for its current due time (``flask scheduler run --once``)."""
        return [self.tick(name) for name in self.jobs]

    def run(self, name: str, due_at: datetime) -> RunOutcome:
        """Claim (``name``, ``due_at``), do the work, record the outcome.

        The claim is committed before the work starts, the work commits on its own (after
        any run of the same job on another host has ended) and the outcome is recorded in
        a third transaction, so a failed job leaves its failure on record and nothing
        half-written.
        """
        job = self.jobs[name]
        factory = self.services.session_factory
        with factory() as session:
            run = job_runs.claim(session, name, due_at, self.worker, now=self.clock())
            if run is None:
                log.info("job %s due %s: claimed by another scheduler, skipped", name, due_at)
                return RunOutcome(name, due_at, SKIPPED)
            session.commit()
            run_id = run.id
        summary: str | None = None
        error: str | None = None
        try:
            with factory() as session:
                job_runs.serialise(session, name)  # the previous due time may still run elsewhere
                context = JobContext(
                    session, self.services, self.mailer, self.timestamper, self.clock()
                )
                summary = job.run(context)
                session.commit()
        except Exception as exc:  # noqa: BLE001 - any failure is recorded, not raised
            error = describe_error(exc)
            log.warning("job %s due %s failed: %s", name, due_at, error)
        status = job_runs.OK if error is None else job_runs.FAILED
        with factory() as session:
            job_runs.finish(session, run_id, status, now=self.clock(), summary=summary, error=error)
            session.commit()
        if error is None:
            log.info("job %s due %s: %s", name, due_at, summary)
        return RunOutcome(name, due_at, status, summary, error, run_id)


def build_scheduler(runner: Runner, *, background: bool = False) -> BaseScheduler:
    """An APScheduler scheduler firing each job of ``runner`` at every due time, and
    once at start (catching up the current slot if no one ran it).

    Jobs run one at a time (one worker thread): on SQLite they would otherwise queue on
    each other's write lock. A run that starts late takes the slot it starts in
    (coalescing): a scheduler that was down runs the current slot, not every missed one.

    :param background: a :class:`BackgroundScheduler` (tests) instead of a blocking one.
    """
    cls = BackgroundScheduler if background else BlockingScheduler
    scheduler: BaseScheduler = cls(
        timezone=UTC,
        executors={"default": ThreadPoolExecutor(max_workers=1)},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
    )
    started = datetime.now(UTC)
    for name in runner.jobs:
        interval = runner.intervals[name]
        scheduler.add_job(
            runner.tick,
            IntervalTrigger(seconds=interval.total_seconds(), start_date=ANCHOR, timezone=UTC),
            args=[name],
            id=name,
            name=name,
        )
        # A one-off run at start: an interval job told to run now would fire at
        # now + k * interval afterwards instead of on the slots.
        scheduler.add_job(
            runner.tick, DateTrigger(started, timezone=UTC), args=[name], id=f"{name}@start"
        )
    return scheduler
