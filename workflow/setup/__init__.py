"""workflow.setup: initialisation (migration, PKI, system data) and the command line; the demo data apart."""

from __future__ import annotations

from flask import Flask
from sqlalchemy.orm import Session

from workflow.admin.organisation import SYSTEM_DATA_HOOK
from workflow.services import EXTENSION_KEY, Services
from workflow.setup import cli, system
from workflow.setup.bootstrap import load_pki


def register(app: Flask) -> None:
    """Add this package's pages, API and commands to ``app``."""
    cli.register_cli(app)
    services: Services = app.extensions[EXTENSION_KEY]

    def system_data(session: Session) -> list[str]:
        created = system.ensure_system_data(session, load_pki(services), services.seal_passphrase)
        system.record_created(session, created, "web")
        return created

    app.extensions[SYSTEM_DATA_HOOK] = system_data
