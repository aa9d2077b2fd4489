"""workflow.jobs: the periodic jobs that keep the figures current with nobody pressing a
button: report obligations, overdue reports entered in T4, reminders, re-validation of
T2 signatures, TSA-stamped checkpoints of the audit-log and ledger heads, stale bulk
signing jobs.

Modules: ``schedule`` (due times, lateness; pure), ``usecases`` (the work, one function
per job, shared with the older CLI commands), ``catalogue`` (the jobs, their intervals),
``runner`` (claim in ``job_runs``, run, record; the APScheduler scheduler and why),
``presenter`` (the jobs for people), ``web`` (``GET /api/v1/jobs``, the dashboard panel,
``flask scheduler``).

``make run`` starts ``flask scheduler run`` beside gunicorn (see the Makefile and the
README); on the scale-out every app host may run one: each job runs once per due time.
"""

from __future__ import annotations

from flask import Flask

from workflow.http import register_api
from workflow.jobs import catalogue, web
from workflow.services import EXTENSION_KEY, Services


def register(app: Flask) -> None:
    """Validate the job intervals (fail at start-up), add the API route, the dashboard
    panel and the ``flask scheduler`` commands."""
    services: Services = app.extensions[EXTENSION_KEY]
    app.extensions[web.INTERVALS_KEY] = catalogue.intervals(services.settings)
    register_api(app, web.api_bp)
    app.context_processor(web.dashboard_context)
    web.register_cli(app)


__all__ = ["register"]
