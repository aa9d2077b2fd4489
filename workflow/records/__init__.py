"""workflow.records: work files, the reporting regime, reminders and notifications."""

from __future__ import annotations

from flask import Flask

from workflow.http import register_api
from workflow.records import api, web


def register(app: Flask) -> None:
    """Add this package's pages, API and commands to ``app``."""
    app.register_blueprint(web.bp)
    register_api(app, api.bp)
    web.register_records_cli(app)
