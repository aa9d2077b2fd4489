"""workflow.search: find anything a user may open (documents, incoming entries, work
files) by subject, symbol, number, issuer, signer, type, dates, state and the full text
of the PDFs, without caring for diacritics.

Modules: ``index`` (the index rows, kept in step at every commit), ``query`` (FTS5 on
SQLite, tsvector on PostgreSQL; access rules as SQL; snippets), ``usecases`` (request
parsing, result links), ``web`` (``/search``, ``GET /api/v1/search``, the CLI).
"""

from __future__ import annotations

from flask import Flask

from workflow.http import register_api
from workflow.search import index, web
from workflow.services import EXTENSION_KEY, Services


def register(app: Flask) -> None:
    """Keep the index in step with every session of the app; add the page, the API
    route and the ``flask search`` commands."""
    services: Services = app.extensions[EXTENSION_KEY]
    for factory in services.writing_factories():
        index.keep_in_step(factory)
    app.register_blueprint(web.bp)
    register_api(app, web.api_bp)
    web.register_cli(app)


__all__ = ["register"]
