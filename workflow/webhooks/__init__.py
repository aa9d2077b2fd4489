"""workflow.webhooks: events pushed to other systems (Zalo, Facebook, another committee's
server, anything that takes an HTTP POST): ``events`` (the catalogue and :func:`emit`,
called by the use-cases in their own transaction), ``wire`` (formats and the HMAC
signature; pure), ``vault`` (secrets encrypted at rest), ``delivery`` (the outbox sent
with retries and back-off), ``service`` (administration), ``api`` (``/api/v1/webhooks``),
``runtime`` (one app's vault, deliverer and after-commit hook). The administration page
is in :mod:`workflow.admin`; the ``webhooks`` job in :mod:`workflow.jobs.catalogue`.
"""

from __future__ import annotations

from flask import Flask

from workflow.http import register_api
from workflow.webhooks import api, runtime


def register(app: Flask) -> None:
    """Add the API and the after-commit delivery hook to ``app``."""
    register_api(app, api.bp)
    runtime.install(app)


__all__ = ["register"]
