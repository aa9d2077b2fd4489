"""workflow.coverage: the ledger of targets T1-T4, its figures, dashboard, exports and report."""

from __future__ import annotations

from flask import Flask

from workflow.coverage import web
from workflow.http import register_api


def register(app: Flask) -> None:
    """Add this package's pages, API and commands to ``app``."""
    app.register_blueprint(web.bp)
    register_api(app, web.api_bp)
    web.register_coverage_cli(app)
