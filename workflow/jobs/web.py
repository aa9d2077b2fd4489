"""workflow: the periodic jobs for people and operators: ``GET /api/v1/jobs`` (auditors,
administrators), the jobs panel of the coverage dashboard, and the ``flask scheduler``
commands (``run``: the foreground scheduler; ``status``; ``run-job``)."""

from __future__ import annotations

import logging
import signal
from datetime import datetime, timedelta
from types import FrameType
from typing import Any

import click
from flask import Flask, current_app, request
from flask_login import current_user

from storage.types import utcnow
from workflow.coverage import ledger as coverage
from workflow.http import actor, api_blueprint
from workflow.jobs import catalogue, presenter
from workflow.jobs.runner import SKIPPED, Runner, build_scheduler
from workflow.mail import mailer_from_config
from workflow.schemas import jobs as schemas
from workflow.schemas.openapi import operation
from workflow.services import EXTENSION_KEY, Services, get_services, get_session
from workflow.vocab import vn_display

api_bp = api_blueprint("jobs_api", __name__)

DASHBOARD_ENDPOINT = "coverage.dashboard"
INTERVALS_KEY = "trinhky.job_intervals"
"""``app.extensions`` key of each job's interval (validated once in ``register``)."""


def _intervals(app: Any) -> dict[str, timedelta]:
    intervals: dict[str, timedelta] = app.extensions[INTERVALS_KEY]
    return intervals


def _statuses(now: datetime) -> list[presenter.JobStatus]:
    """Every job's status at ``now``, read in the request's session."""
    grace = timedelta(seconds=get_services().settings.job_grace)
    return presenter.job_statuses(get_session(), _intervals(current_app), grace, now)


@api_bp.get("/jobs")
@operation(responses={200: schemas.JobList})
def jobs_api() -> Any:
    """Each periodic job's last run and whether it ran on time (auditors, administrators)."""
    coverage.require_auditor(actor())
    now = utcnow()
    statuses = _statuses(now)
    body = {
        "jobs": [s.json() for s in statuses],
        "flagged": sum(1 for s in statuses if s.timing.flagged),
        "grace_seconds": get_services().settings.job_grace,
        "as_of": presenter.as_of(statuses, now),
    }
    return schemas.JobList.model_validate(body).dump()


def dashboard_context() -> dict[str, Any]:
    """The jobs panel of the coverage dashboard: "as of" for every reader, the jobs'
    table for auditors and administrators (computed here, presented by
    ``templates/jobs/_panel.html``; ``templates/coverage/dashboard.html`` includes it)."""
    if request.endpoint != DASHBOARD_ENDPOINT or not current_user.is_authenticated:
        return {}
    now = utcnow()
    panel = presenter.panel(_statuses(now), now, with_jobs=presenter.can_see_jobs(current_user))
    return {"jobs_panel": panel}


# --- CLI -------------------------------------------------------------------------------------


def _runner(app: Flask) -> Runner:
    services: Services = app.extensions[EXTENSION_KEY]
    return Runner(
        services,
        catalogue.JOBS,
        _intervals(app),
        mailer_from_config(app.config),
        services.checkpoint_timestamper,
    )


def register_cli(app: Flask) -> None:
    """Attach the ``flask scheduler`` group to ``app.cli``."""

    @app.cli.group("scheduler")
    def scheduler_group() -> None:
        """The periodic jobs (obligations, overdue reports, reminders, re-validation,
        checkpoints): run them, or show when each last ran."""

    @scheduler_group.command("run")
    @click.option("--once", is_flag=True, help="Run each job for its current due time, then exit.")
    def run_command(once: bool) -> None:
        """Run the scheduler in the foreground until stopped (SIGTERM or Ctrl-C).

        Every scheduler of every host may run at once: each (job, due time) runs once.
        """
        # Each run's outcome on stderr (the operator's log); APScheduler's own chatter off.
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
        logging.getLogger("apscheduler").setLevel(logging.WARNING)
        runner = _runner(app)
        if once:
            for outcome in runner.run_all():
                click.echo(_outcome_line(outcome.job, outcome.status, outcome))
            return
        scheduler = build_scheduler(runner)

        def stop(signum: int, _frame: FrameType | None) -> None:
            click.echo(f"scheduler {runner.worker}: stopping (signal {signum})")
            scheduler.shutdown(wait=False)

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        jobs = ", ".join(
            f"{n} every {int(i.total_seconds())}s" for n, i in runner.intervals.items()
        )
        click.echo(f"scheduler {runner.worker}: {jobs}")
        scheduler.start()

    @scheduler_group.command("run-job")
    @click.argument("name", type=click.Choice([job.name for job in catalogue.JOBS]))
    def run_job_command(name: str) -> None:
        """Run one job now, for its current due time (skipped if that already ran)."""
        outcome = _runner(app).tick(name)
        click.echo(_outcome_line(name, outcome.status, outcome))
        if outcome.status == "failed":
            raise SystemExit(1)

    @scheduler_group.command("status")
    def status_command() -> None:
        """Each job's last run; exit 1 if any job is late, never ran, or last failed."""
        services: Services = app.extensions[EXTENSION_KEY]
        grace = timedelta(seconds=services.settings.job_grace)
        with services.read_session_factory() as session:
            statuses = presenter.job_statuses(session, _intervals(app), grace, utcnow())
        for s in statuses:
            last = s.last
            when = (
                f"last due {vn_display(last.due_at)}, {last.outcome}"
                + (f": {last.error or last.summary}" if (last.error or last.summary) else "")
                if last is not None
                else "never ran"
            )
            flag = "  <-- " + s.timing.state.upper() if s.timing.flagged else ""
            click.echo(
                f"{s.name:<13} every {int(s.interval.total_seconds()):>6}s  {when}; "
                f"next due {vn_display(s.timing.next_due)}{flag}"
            )
        if any(s.timing.flagged for s in statuses):
            raise SystemExit(1)


def _outcome_line(name: str, status: str, outcome: Any) -> str:
    due = vn_display(outcome.due_at)
    if status == SKIPPED:
        return f"{name} (due {due}): already run by another scheduler, skipped"
    if status == "failed":
        return f"{name} (due {due}): FAILED: {outcome.error}"
    return f"{name} (due {due}): {outcome.summary}"
