"""workflow: the commands that set up the people of a real installation: the first
administrator, one-time password links, the organisation import (``flask --app wsgi ...``)."""

from __future__ import annotations

import csv
import os
from collections.abc import Callable
from pathlib import Path

import click
from flask import Flask
from sqlalchemy import select

from storage.models import User
from workflow.accounts import setup_links
from workflow.admin import organisation
from workflow.errors import WorkflowError
from workflow.mail import mailer_for
from workflow.services import Services
from workflow.setup import admins, system
from workflow.setup.bootstrap import load_pki


def _base_url(svc: Services, given: str | None) -> str:
    return (given or svc.settings.public_url or "http://127.0.0.1:8000").rstrip("/")


BASE_URL = click.option(
    "--base-url",
    default=None,
    help="Address users reach the server at (default: PUBLIC_BASE_URL, else "
    "http://127.0.0.1:8000); links point there.",
)


def register_people_cli(app: Flask, services: Callable[[], Services]) -> None:
    """Attach ``create-admin``, ``setup-link`` and ``import-organisation`` to ``app.cli``."""

    @app.cli.command("create-admin")
    @click.option("--username", default="admin", show_default=True)
    @click.option("--full-name", default="Quản trị hệ thống", show_default=True)
    @click.option("--email", default=None)
    @click.option(
        "--org-code",
        default=admins.ROOT_CODE,
        show_default=True,
        help="Code of the root unit, created if the database has no unit yet.",
    )
    @click.option(
        "--org-symbol",
        default=admins.ROOT_SYMBOL,
        show_default=True,
        help="Symbol of the root unit in document numbers (e.g. 01-CV/ĐUK).",
    )
    @BASE_URL
    def create_admin_command(
        username: str,
        full_name: str,
        email: str | None,
        org_code: str,
        org_symbol: str,
        base_url: str | None,
    ) -> None:
        """Create an administrator and print a one-time link to set the password."""
        svc = services()
        with svc.session_factory() as session:
            try:
                link = admins.create_admin(
                    session,
                    svc.hasher,
                    username=username,
                    full_name=full_name,
                    email=email,
                    org_code=org_code,
                    org_name=svc.settings.org_name,
                    org_symbol=org_symbol,
                    base_url=_base_url(svc, base_url),
                    hours=svc.settings.setup_link_hours,
                    via="cli",
                )
            except WorkflowError as exc:
                raise click.ClickException(exc.message) from exc
            session.commit()
        click.echo(f"Administrator {link.user.username!r} created.")
        click.echo(f"One-time link to set the password (valid {link.hours} h):\n  {link.url}")

    @app.cli.command("setup-link")
    @click.argument("username")
    @BASE_URL
    def setup_link_command(username: str, base_url: str | None) -> None:
        """Print a new one-time link for USERNAME to set a password (older links stop working)."""
        svc = services()
        with svc.session_factory() as session:
            user = session.scalars(select(User).where(User.username == username)).first()
            if user is None or not user.active:
                raise click.ClickException(f"no active user {username!r}")
            link = setup_links.issue_link(
                session,
                user,
                base_url=_base_url(svc, base_url),
                hours=svc.settings.setup_link_hours,
                actor_id=None,
                via="cli",
            )
            session.commit()
        click.echo(f"One-time link for {username} (valid {link.hours} h):\n  {link.url}")

    @app.cli.command("import-organisation")
    @click.argument(
        "files",
        nargs=-1,
        required=True,
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
    )
    @click.option("--dry-run", is_flag=True, help="Check every row and report; write nothing.")
    @click.option(
        "--links-csv",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="Also write the new users' one-time links to this CSV file (mode 0600).",
    )
    @click.option(
        "--email-links",
        is_flag=True,
        help="Also e-mail each new user their link (MAIL_SERVER must be set).",
    )
    @BASE_URL
    def import_command(
        files: tuple[Path, ...],
        dry_run: bool,
        links_csv: Path | None,
        email_links: bool,
        base_url: str | None,
    ) -> None:
        """Import units, users and roles from an XLSX workbook or CSV files (see
        docs/mau-nhap-to-chuc.xlsx); exit 1 and write nothing if any row is wrong."""
        svc = services()
        mailer = mailer_for(svc.settings)
        if email_links and not mailer.enabled:
            raise click.ClickException("--email-links needs TRINHKY_MAIL_SERVER (see README)")
        tables, errors = organisation.read_files((f.name, f.read_bytes()) for f in files)
        source = ", ".join(f.name for f in files)
        with svc.session_factory() as session:
            plan = organisation.plan_import(session, tables)
            plan.errors[:0] = errors
            counts = plan.summary()
            click.echo(
                f"units: {counts['units_created']} new, {counts['units_existing']} existing; "
                f"users: {counts['users_created']} new, {counts['users_existing']} existing; "
                f"roles: {counts['roles_granted']} to grant"
            )
            if not plan.ok or dry_run:
                organisation.record_check(session, plan, actor_id=None, via="cli", source=source)
                session.commit()
                for error in plan.errors:
                    click.echo(f"  LỖI {error}", err=True)
                if not plan.ok:
                    click.echo(f"{len(plan.errors)} lỗi: chưa nhập gì.", err=True)
                    raise SystemExit(1)
                click.echo("Dry run: the file is valid; nothing was written.")
                return
            result = organisation.apply_import(
                session,
                svc.hasher,
                plan,
                actor_id=None,
                via="cli",
                source=source,
                base_url=_base_url(svc, base_url),
                hours=svc.settings.setup_link_hours,
            )
            # Seal certificates of new committees; system routes pointed at the new units.
            created = system.ensure_system_data(session, load_pki(svc), svc.seal_passphrase)
            system.record_created(session, created, "cli")
            session.commit()
            mailed = (
                setup_links.email_links(session, mailer, result.links, svc.settings.org_name)
                if email_links
                else None
            )
            session.commit()
        for item in created:
            click.echo(f"  created {item}")
        click.echo(
            f"Imported. One-time links to set passwords (valid {svc.settings.setup_link_hours} h):"
        )
        for link in result.links:
            click.echo(f"  {link.user.username:<20} {link.url}")
        if links_csv is not None:
            fd = os.open(links_csv, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", newline="", encoding="utf-8") as out:
                writer = csv.writer(out)
                writer.writerow(["ten_dang_nhap", "ho_va_ten", "thu_dien_tu", "duong_dan"])
                for link in result.links:
                    u = link.user
                    writer.writerow([u.username, u.full_name, u.email or "", link.url])
            click.echo(f"Links written to {links_csv}")
        if mailed is not None:
            click.echo(
                f"e-mailed {len(mailed.sent)} link(s); refused by the mail server: "
                f"{', '.join(mailed.failed) or 'none'}; no address: "
                f"{', '.join(mailed.no_address) or 'none'}"
            )
