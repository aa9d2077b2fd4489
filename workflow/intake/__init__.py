"""workflow.intake: documents arriving by e-mail: ``parse`` (one raw message, pure),
``service`` (recorded once, the clerk's queue, receive / return / discard), ``imap`` (the
office mailboxes read over IMAP by the ``mail-intake`` job), ``api`` (``/api/v1/intake``)
and ``web`` (the intake page)."""

from __future__ import annotations

from flask import Flask

from workflow.http import register_api
from workflow.intake import api, web


def register(app: Flask) -> None:
    """Add the intake page and API to ``app``."""
    app.register_blueprint(web.bp)
    register_api(app, api.bp)


__all__ = ["register"]
