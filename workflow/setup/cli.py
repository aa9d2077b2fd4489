"""workflow: command-line commands (flask --app wsgi ...)."""

from __future__ import annotations

from pathlib import Path

import click
from flask import Flask

from signing.errors import KeyLoadError
from storage.audit import verify_chain
from workflow.errors import WorkflowError
from workflow.services import EXTENSION_KEY, Services
from workflow.setup.backup_cli import register_backup_cli
from workflow.setup.bootstrap import DemoRefusedError, initialise, load_pki
from workflow.setup.demo import DEMO_USERS
from workflow.setup.people_cli import register_people_cli
from workflow.signatures import seal_token


def register_cli(app: Flask) -> None:
    """Attach TrinhKy's commands to ``app.cli``."""

    def services() -> Services:
        svc: Services = app.extensions[EXTENSION_KEY]
        return svc

    @app.cli.command("init")
    @click.option("--host", default="127.0.0.1", help="Address the server will bind to.")
    @click.option("--port", default=8000, type=int, help="Port the server will listen on.")
    def init_command(host: str, port: int) -> None:
        """Migrate the database, create the PKI and seed the demo data (first run); without
        demo data, the system routes and (no user yet) the first administrator."""
        shown = "localhost" if host in ("127.0.0.1", "::1") else host
        if ":" in shown:
            shown = f"[{shown}]"
        base = services().settings.public_url or f"http://{shown}:{port}"
        try:
            report = initialise(services(), host, base)
        except DemoRefusedError as exc:
            raise click.ClickException(str(exc)) from exc
        click.echo(f"TrinhKy: http://{shown}:{port}/")
        for item in report.created:
            click.echo(f"  created {item}")
        if report.setup_link is not None:
            click.echo(
                "No user yet: administrator 'admin' created. Open this one-time link to set "
                f"its password (valid {services().settings.setup_link_hours} h):\n"
                f"  {report.setup_link}"
            )
        if report.demo_password is not None:
            click.echo(
                "Demo organisation "
                + ("created" if report.seeded else "already present (reused)")
                + ". Demo accounts (password below; a signer's key passphrase is the same):"
            )
            for user in DEMO_USERS:
                click.echo(f"  {user.username:<11} {user.full_name} - {user.title}")
            click.echo(f"  password: {report.demo_password}")

    register_people_cli(app, services)
    register_backup_cli(app, services)

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

    @app.cli.group("seal-token")
    def seal_token_group() -> None:
        """The organisation's seal key on a PKCS#11 token or HSM (SEAL_PKCS11_* settings)."""

    @seal_token_group.command("register")
    @click.option("--unit", "unit_code", default=None, help="Unit code (default: the root unit).")
    @click.option(
        "--cert",
        "cert_file",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        default=None,
        help="Import this PEM certificate of the token key instead of issuing one.",
    )
    @click.option("--valid-days", default=730, type=int, help="Validity of an issued certificate.")
    def seal_token_register(unit_code: str | None, cert_file: Path | None, valid_days: int) -> None:
        """Certify the token's seal key (embedded CA, or --cert) and register it as the
        unit's seal: issuance then signs with the token."""
        svc = services()
        token = svc.settings.seal_pkcs11
        if token is None:
            raise click.ClickException("set TRINHKY_SEAL_PKCS11_MODULE, _TOKEN_LABEL, _KEY_LABEL")
        with svc.session_factory() as session:
            try:
                unit = seal_token.seal_unit(session, unit_code)
                done = seal_token.register(
                    session,
                    token,
                    svc.trust,
                    unit,
                    pki=None if cert_file else load_pki(svc),
                    cert_pem=cert_file.read_bytes() if cert_file else None,
                    organisation=svc.settings.org_name,
                    public_url=svc.settings.public_url,
                    valid_days=valid_days,
                )
            except (KeyLoadError, WorkflowError) as exc:
                raise click.ClickException(str(exc)) from exc
            session.commit()
            cert = done.certificate
        how = "issued by the embedded CA" if done.issued else "imported"
        click.echo(
            f"seal certificate {how} for key {done.key_label!r}, registered for unit "
            f"{unit.code}: {cert.subject}\n  sha256 {cert.fingerprint}, valid until "
            f"{cert.not_after:%Y-%m-%d}"
        )
