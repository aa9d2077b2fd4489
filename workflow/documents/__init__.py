"""workflow.documents: a document on its route of approval: states, routes, upload, submit, approve, return, reject, delegate (pages and API)."""

from __future__ import annotations

from flask import Flask

from workflow.documents import actions_api, api, tasks_web, web
from workflow.http import register_api


def register(app: Flask) -> None:
    """Add this package's pages, API and commands to ``app``."""
    app.register_blueprint(web.bp)
    app.register_blueprint(tasks_web.bp)
    register_api(app, api.bp, actions_api.bp)
