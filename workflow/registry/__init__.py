"""workflow.registry: issuance (number, seal), dispatch, incoming documents and the registers."""

from __future__ import annotations

from flask import Flask

from workflow.http import register_api
from workflow.registry import api, paper_api, paper_web, web


def register(app: Flask) -> None:
    """Add this package's pages, API and commands to ``app``."""
    app.register_blueprint(web.bp)
    app.register_blueprint(paper_web.bp)
    register_api(app, api.bp, paper_api.bp)
