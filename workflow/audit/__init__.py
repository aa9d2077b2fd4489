"""workflow.audit: the hash-chained audit log for auditors and the offline audit bundle."""

from __future__ import annotations

from flask import Flask

from workflow.audit import bundle, web
from workflow.http import register_api


def register(app: Flask) -> None:
    """Add this package's pages, API and commands to ``app``."""
    app.register_blueprint(web.bp)
    app.register_blueprint(bundle.bp)
    register_api(app, web.api_bp, bundle.api_bp)
    web.register_audit_cli(app)
    bundle.register_bundle_cli(app)
