"""workflow.accounts: who people are and what they may see: login, API tokens, users, access rules."""

from __future__ import annotations

from flask import Flask

from workflow.accounts import api, web
from workflow.http import register_api


def register(app: Flask) -> None:
    """Add this package's pages, API and commands to ``app``."""
    app.register_blueprint(web.bp)
    register_api(app, api.bp)
