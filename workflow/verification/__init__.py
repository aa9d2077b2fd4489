"""workflow.verification: validation reports of any PDF and the public verification of issued documents."""

from __future__ import annotations

from flask import Flask

from workflow.http import register_api
from workflow.verification import web


def register(app: Flask) -> None:
    """Add this package's pages, API and commands to ``app``."""
    app.register_blueprint(web.pages_bp)
    register_api(app, web.bp)
