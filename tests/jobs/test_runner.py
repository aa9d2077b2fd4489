"""The runner: a (job, due time) runs once whoever asks, a failure is recorded and
leaves nothing half-written, errors on record carry no secret; the settings and the
``flask scheduler`` commands."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import create_engine, func, select
from sqlalchemy.exc import OperationalError

from storage import audit, job_runs
from storage.models import AuditEvent
from storage.scheduler_models import JobRun
from tests.conftest import app_config
from tests.jobs.conftest import NOW, Clock, runs
from workflow import create_app
from workflow.errors import ConflictError
from workflow.jobs import catalogue
from workflow.jobs.catalogue import Job, JobContext
from workflow.jobs.runner import Runner, describe_error
from workflow.services import Services
from workflow.settings import SettingsError


def test_a_due_time_runs_once_whoever_asks(
    services: Services, make_runner: Callable[..., Runner], clock: Clock
) -> None:
    one, two = make_runner("host-a:1"), make_runner("host-b:2")
    first = one.tick("reminders")
    assert first.status == "ok" and first.run_id is not None
    assert two.tick("reminders").status == "skipped"
    assert one.tick("reminders").status == "skipped"
    (run,) = runs(services, "reminders")
    assert (run.worker, run.outcome, run.due_at) == ("host-a:1", "ok", first.due_at)
    assert run.started_at == NOW and run.finished_at == NOW
    clock.advance(timedelta(hours=1))
    assert two.tick("reminders").status == "ok"  # the next due time is a new run
    assert [r.worker for r in runs(services, "reminders")] == ["host-a:1", "host-b:2"]


def test_a_claim_in_a_failed_transaction_keeps_the_rest(services: Services) -> None:
    with services.session_factory() as session:
        mine = job_runs.claim(session, "overdue", NOW, "a:1", now=NOW)
        session.commit()
        assert mine is not None
        event = audit.append(session, "system:probe", actor_id=None, object_type="system")
        assert job_runs.claim(session, "overdue", NOW, "b:2", now=NOW) is None
        session.commit()  # the savepoint rolled back the second claim only
        assert session.get(AuditEvent, event.seq) is not None
    with pytest.raises(ValueError, match="ok or failed"):
        with services.session_factory() as session:
            job_runs.finish(session, mine.id, "running", now=NOW)


def test_a_failed_job_is_recorded_and_leaves_nothing_half_written(
    services: Services, make_runner: Callable[..., Runner], clock: Clock
) -> None:
    def half_then_fail(ctx: JobContext) -> str:
        audit.append(ctx.session, "system:probe", actor_id=None, object_type="system")
        raise ConflictError("Không thể tiếp tục: dữ liệu đang được người khác sửa.")

    probe = Job("probe", "Thử", timedelta(hours=1), half_then_fail)
    outcome = make_runner(jobs=(probe,)).tick("probe")
    assert outcome.status == "failed"
    assert outcome.error == "Không thể tiếp tục: dữ liệu đang được người khác sửa."
    (run,) = runs(services, "probe")
    assert (run.outcome, run.error, run.summary) == ("failed", outcome.error, None)
    with services.session_factory() as session:
        probes = session.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "system:probe")
        )
    assert probes == 0


def test_errors_on_record_carry_no_sql_parameters_or_passwords(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'x.sqlite3'}")
    with pytest.raises(OperationalError) as caught, engine.connect() as conn:
        conn.exec_driver_sql("SELECT secret FROM nowhere WHERE pw = ?", ("hunter2",))
    text = describe_error(caught.value)
    assert text == "OperationalError: no such table: nowhere"
    assert "hunter2" not in text and "SELECT" not in text
    url = describe_error(RuntimeError("cannot reach postgresql://trinhky:s3cret@db/trinhky\nmore"))
    assert url == "RuntimeError: cannot reach postgresql://trinhky:***@db/trinhky"


def test_job_intervals_are_checked_at_start(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="unknown job"):
        create_app(app_config(tmp_path / "i1", JOB_INTERVALS={"nightly": 60}))
    with pytest.raises(SettingsError, match="positive integer"):
        create_app(app_config(tmp_path / "i2", JOB_INTERVALS={"overdue": 0}))
    with pytest.raises(SettingsError, match="CHECKPOINT_INTERVAL"):
        create_app(app_config(tmp_path / "i3", CHECKPOINT_INTERVAL="hourly"))
    app = create_app(
        app_config(tmp_path / "i4", CHECKPOINT_INTERVAL=900, JOB_INTERVALS={"overdue": 300})
    )
    intervals = app.extensions["trinhky.job_intervals"]
    assert intervals["checkpoints"] == timedelta(minutes=15)
    assert intervals["overdue"] == timedelta(minutes=5)
    assert intervals["revalidation"] == timedelta(days=1)
    app.extensions["trinhky"].engine.dispose()


def test_scheduler_commands(app: Flask, services: Services) -> None:
    cli = app.test_cli_runner()
    never = cli.invoke(args=["scheduler", "status"])
    assert never.exit_code == 1 and "never ran" in never.output and "NEVER" in never.output

    once = cli.invoke(args=["scheduler", "run", "--once"])
    assert once.exit_code == 0, once.output
    assert "checkpoints (due " in once.output and "có dấu thời gian" in once.output
    assert "FAILED" not in once.output
    status = cli.invoke(args=["scheduler", "status"])
    assert status.exit_code == 0, status.output
    assert status.output.count(", ok") == len(catalogue.JOBS)

    again = cli.invoke(args=["scheduler", "run-job", "checkpoints"])
    assert again.exit_code == 0 and "already run by another scheduler, skipped" in again.output
    assert cli.invoke(args=["scheduler", "run-job", "nightly"]).exit_code == 2

    with services.session_factory() as session:  # an hourly job last ran three hours ago
        run = session.scalars(select(JobRun).where(JobRun.job == "reminders")).one()
        run.due_at -= timedelta(hours=3)
        session.commit()
    late = cli.invoke(args=["scheduler", "status"])
    assert late.exit_code == 1
    (line,) = [line for line in late.output.splitlines() if line.startswith("reminders")]
    assert line.endswith("<-- LATE")
