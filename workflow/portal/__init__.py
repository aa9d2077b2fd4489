"""workflow.portal: the public portal of issued documents (cổng thông tin công khai):
``queries`` (what may be shown: published, never classified), ``feeds`` (Atom, sitemap),
``web`` (the pages under ``/public/`` and ``GET /api/v1/public/documents``). Publishing
itself is a registry action (:mod:`workflow.registry.publishing`)."""

from __future__ import annotations

from flask import Flask

from workflow.http import register_api
from workflow.portal import web


def register(app: Flask) -> None:
    """Add the portal's pages and API to ``app``."""
    app.register_blueprint(web.bp)
    register_api(app, web.api_bp)


__all__ = ["register"]
