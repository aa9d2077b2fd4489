"""workflow: command-line commands (flask --app wsgi ...)."""

from __future__ import annotations

import click
from flask import Flask

from storage.audit import verify_chain
from workflow.bootstrap import DemoRefusedError, initialise
from workflow.seed import DEMO_USERS
from workflow.services import EXTENSION_KEY, Services


def register_cli(app: Flask) -> None:
    """Attach TrinhKy's commands to ``app.cli``."""

    def services() -> Services:
        svc: Services = app.extensions[EXTENSION_KEY]
        return svc

    @app.cli.command("init")
    @click.option("--host", default="127.0.0.1", help="Address the server will bind to.")
    @click.option("--port", default=8000, type=int, help="Port the server will listen on.")
    def init_command(host: str, port: int) -> None:
        """Migrate the database, create the PKI and seed the demo data (first run)."""
        try:
            report = initialise(services(), host)
        except DemoRefusedError as exc:
            raise click.ClickException(str(exc)) from exc
        shown = "localhost" if host in ("127.0.0.1", "::1") else host
        click.echo(f"TrinhKy: http://{shown}:{port}/")
        if report.demo_password is not None:
            click.echo(
                "Demo organisation "
                + ("created" if report.seeded else "already present (reused)")
                + ". Demo accounts (password below; a signer's key passphrase is the same):"
            )
            for user in DEMO_USERS:
                click.echo(f"  {user.username:<11} {user.full_name} - {user.title}")
            click.echo(f"  password: {report.demo_password}")

    @app.cli.command("verify-audit")
    def verify_audit_command() -> None:
        """Recompute the audit chain; exit 1 if it is broken."""
        with services().session_factory() as session:
            report = verify_chain(session)
        if report.ok:
            click.echo(f"audit chain OK: {report.entries} entries, head {report.head_hash}")
        else:
            click.echo(
                f"audit chain BROKEN at entry {report.first_broken}: {report.reason} "
                f"({report.entries} entries verified before it)"
            )
            raise SystemExit(1)
