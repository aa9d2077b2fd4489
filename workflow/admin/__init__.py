"""workflow.admin: administration of units, users, roles and routes (/admin, administrators only)."""

from __future__ import annotations

from flask import Flask

from workflow.admin import (
    blueprint,
    import_web,
    route_editor,
    trust_api,
    trust_web,
    web,
    webhooks_web,
)
from workflow.http import register_api

# The modules whose views join the /admin blueprint when they are imported.
VIEW_MODULES = (route_editor, web, webhooks_web, import_web, trust_web)


def register(app: Flask) -> None:
    """Add this package's pages, API and commands to ``app``."""
    app.register_blueprint(blueprint.bp)
    register_api(app, trust_api.bp)
