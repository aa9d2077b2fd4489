"""Fixtures of the periodic jobs' tests: a runner on the test app with a clock the test
sets (never the wall clock)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from sqlalchemy import select

from storage.scheduler_models import JobRun
from workflow.jobs import catalogue
from workflow.jobs.runner import Runner
from workflow.jobs.web import INTERVALS_KEY
from workflow.mail import NullMailer
from workflow.services import EXTENSION_KEY, Services

JOB_NAMES = (
    "obligations",
    "overdue",
    "reminders",
    "revalidation",
    "checkpoints",
    "bulk-sweep",
    "webhooks",
    "ocr",
    "log-witnesses",
    "cleanup",
    "mail-intake",
    "notices",
    "notice-digest",
    "archival",
)
"""The catalogue as the tests expect it, in its order: one list for every test here (a
new job is added once)."""

NOW = datetime(2026, 11, 10, 3, 0, tzinfo=UTC)
"""10:00 on 10 November 2026, Vietnam time."""


class Clock:
    """A settable clock for the runner."""

    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> datetime:
        self.now += delta
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def make_runner(app: Flask, clock: Clock) -> Callable[..., Runner]:
    """A runner of every job on the test app (the embedded TSA, no mail server)."""

    def _make(worker: str = "test:1", jobs: tuple[catalogue.Job, ...] = catalogue.JOBS) -> Runner:
        intervals = dict(app.extensions[INTERVALS_KEY])
        intervals.update(
            {job.name: timedelta(hours=1) for job in jobs if job.name not in intervals}
        )
        return Runner(
            app.extensions[EXTENSION_KEY],
            jobs,
            intervals,
            NullMailer(),
            app.extensions[EXTENSION_KEY].checkpoint_timestamper,
            clock=clock,
            worker=worker,
        )

    return _make


def runs(services: Services, job: str | None = None) -> list[JobRun]:
    """Every recorded run (of ``job``), oldest due time first."""
    query = select(JobRun).order_by(JobRun.due_at, JobRun.id)
    if job is not None:
        query = query.where(JobRun.job == job)
    with services.session_factory() as session:
        return list(session.scalars(query))
