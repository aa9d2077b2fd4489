"""workflow.accounts: who people are and what they may see: login, API tokens, users, access rules."""

from __future__ import annotations

from typing import Any

from flask import Flask, has_request_context
from flask_login import current_user

from workflow.accounts import api, setup_web, web
from workflow.accounts.access import menu_for
from workflow.http import register_api


def register(app: Flask) -> None:
    """Add this package's pages, API and commands to ``app``."""
    app.register_blueprint(web.bp)
    app.register_blueprint(setup_web.bp)
    register_api(app, api.bp)

    @app.context_processor
    def menu() -> dict[str, Any]:
        # The top bar of every page (base.html), decided here rather than in the template.
        signed_in = has_request_context() and current_user.is_authenticated
        return {"menu": menu_for(current_user) if signed_in else None}
