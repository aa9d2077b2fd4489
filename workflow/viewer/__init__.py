"""workflow.viewer: the PDF page viewer, the placed signature and the route preview."""

from __future__ import annotations

from flask import Flask

from workflow.viewer import web


def register(app: Flask) -> None:
    """Add this package's pages, API and commands to ``app``."""
    app.register_blueprint(web.bp)
