"""workflow.setup: initialisation (migration, PKI, system data) and the command line; the demo data apart."""

from __future__ import annotations

from flask import Flask

from workflow.setup import cli


def register(app: Flask) -> None:
    """Add this package's pages, API and commands to ``app``."""
    cli.register_cli(app)
