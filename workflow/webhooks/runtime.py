"""workflow: the webhook machinery of one application: its vault (keyed by the app's
secret key), its deliverer, and the hook that delivers a request's events after commit."""

from __future__ import annotations

from flask import Flask, current_app
from sqlalchemy import event

from workflow.services import EXTENSION_KEY, Services
from workflow.webhooks.delivery import Deliverer, Kicker
from workflow.webhooks.vault import Vault

VAULT_KEY = "trinhky.webhooks.vault"
DELIVERER_KEY = "trinhky.webhooks.deliverer"


def vault_for(app: Flask) -> Vault:
    """:returns: the app's vault (made once)."""
    vault: Vault | None = app.extensions.get(VAULT_KEY)
    if vault is None:
        services: Services = app.extensions[EXTENSION_KEY]
        vault = app.extensions[VAULT_KEY] = Vault(services.secret_key)
    return vault


def vault_of() -> Vault:
    """:returns: the current app's vault."""
    return vault_for(current_app)


def deliverer_for(app: Flask) -> Deliverer:
    """:returns: the app's deliverer (made once)."""
    deliverer: Deliverer | None = app.extensions.get(DELIVERER_KEY)
    if deliverer is None:
        deliverer = app.extensions[DELIVERER_KEY] = Deliverer.of(app.extensions[EXTENSION_KEY])
    return deliverer


def install(app: Flask) -> None:
    """Deliver each transaction's events right after it commits (``WEBHOOK_IMMEDIATE``)."""
    services: Services = app.extensions[EXTENSION_KEY]
    kicker = Kicker(deliverer_for(app))
    for factory in services.writing_factories():
        if services.settings.webhook_immediate:
            event.listen(factory, "after_commit", kicker.after_commit)
        else:
            event.listen(factory, "after_commit", Kicker.after_rollback)  # forget: the job sends
        event.listen(factory, "after_rollback", Kicker.after_rollback)
