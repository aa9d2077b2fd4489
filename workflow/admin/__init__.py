"""workflow.admin: administration of units, users, roles and routes (/admin, administrators only)."""

from __future__ import annotations

from flask import Flask

from workflow.admin import blueprint, import_web, route_editor, web, webhooks_web

# The modules whose views join the /admin blueprint when they are imported.
VIEW_MODULES = (route_editor, web, webhooks_web, import_web)


def register(app: Flask) -> None:
    """Add this package's pages, API and commands to ``app``."""
    app.register_blueprint(blueprint.bp)
