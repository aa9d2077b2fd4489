"""workflow.registry: issuance (number, seal), dispatch, incoming documents and the registers."""

from __future__ import annotations

from typing import Any

from flask import Flask, has_request_context
from flask_login import current_user

from workflow.http import register_api
from workflow.registry import api, incoming_queries, paper_api, paper_web, web
from workflow.services import get_session


def register(app: Flask) -> None:
    """Add this package's pages, API and commands to ``app``."""
    app.register_blueprint(web.bp)
    app.register_blueprint(paper_web.bp)
    register_api(app, api.bp, paper_api.bp)

    @app.context_processor
    def menu_counts() -> dict[str, Any]:
        # The top bar's counts: open tasks, unread notifications, documents waiting
        # for receipt in the units the user receives for (one small query each).
        if not (has_request_context() and current_user.is_authenticated):
            return {"menu_counts": None}
        return {"menu_counts": incoming_queries.menu_counts(get_session(), current_user)}
