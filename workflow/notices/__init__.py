"""workflow.notices: e-mail notices of the in-app notifications: ``service`` (each event
or a daily digest, in the person's language, a link and never the document), ``web``
(the preferences page) and ``api`` (``/api/v1/account/notices``). The ``notices`` and
``notice-digest`` jobs are in :mod:`workflow.jobs.catalogue`."""

from __future__ import annotations

from flask import Flask

from workflow.http import register_api
from workflow.notices import api, web


def register(app: Flask) -> None:
    """Add the preferences page and API to ``app``."""
    app.register_blueprint(web.bp)
    register_api(app, api.bp)


__all__ = ["register"]
