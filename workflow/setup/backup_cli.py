"""workflow: ``flask --app wsgi backup DEST`` and ``flask --app wsgi restore SRC``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import click
from flask import Flask

from storage import audit
from storage.types import utcnow
from workflow.services import Services
from workflow.setup import backup as backups
from workflow.setup import restore as restores
from workflow.setup.bootstrap import migrate


def register_backup_cli(app: Flask, services: Callable[[], Services]) -> None:
    """Attach ``backup`` and ``restore`` to ``app.cli``."""

    @app.cli.command("backup")
    @click.argument("dest", type=click.Path(file_okay=False, path_type=Path))
    def backup_command(dest: Path) -> None:
        """Write a consistent backup of the running instance to DEST (a new folder):
        database, blobs, PKI, settings that are not secrets, manifest of SHA-256 hashes.
        Passphrases are not included: keep them offline."""
        svc = services()
        try:
            report = backups.take_backup(
                svc.engine, svc.blobs, svc.settings, app.config, dest, utcnow()
            )
        except backups.BackupError as exc:
            raise click.ClickException(str(exc)) from exc
        facts = report.facts
        with svc.session_factory() as session:
            audit.append(
                session,
                "system:backup",
                actor_id=None,
                object_type="system",
                details={
                    "dest": str(dest.resolve())[:200],
                    "manifest_sha256": report.manifest_sha256,
                    "audit_entries": facts["audit"]["entries"],
                    "audit_head": facts["audit"]["head"],
                    "signatures": facts["signatures"],
                    "files": report.files,
                },
            )
            session.commit()
        click.echo(
            f"backup written to {report.path}: {report.files} files, {report.size} bytes\n"
            f"  audit log {facts['audit']['entries']} entries, head {facts['audit']['head']}"
            f" ({'verified' if facts['audit']['ok'] else 'BROKEN'})\n"
            f"  {facts['tables'].get('documents', 0)} documents, {facts['signatures']} signatures\n"
            f"  manifest sha256 {report.manifest_sha256} (record it apart)\n"
            "  not included: the passphrases (CA, seal, secret key): keep them offline"
        )

    @app.cli.command("restore")
    @click.argument("src", type=click.Path(exists=True, file_okay=False, path_type=Path))
    @click.option(
        "--verify-only",
        is_flag=True,
        help="Restore nothing; check this instance against the backup SRC again (e.g. after "
        "putting the passphrases back).",
    )
    def restore_command(src: Path, verify_only: bool) -> None:
        """Restore the backup SRC into this fresh instance, then verify the audit chain,
        the rows, the coverage figures, every blob and every stored signature, and that
        the passphrases open the restored keys; exit 1 if anything fails."""
        svc = services()
        try:
            if verify_only:
                manifest, digest = backups.read_manifest(src)
            else:
                manifest, digest = restores.restore_files(svc.engine, svc.blobs, svc.settings, src)
        except backups.BackupError as exc:
            raise click.ClickException(str(exc)) from exc
        if not verify_only:
            migrate(svc.engine)
        with svc.session_factory() as session:
            report = restores.check_restored(session, svc.blobs, svc.settings, manifest, digest)
            audit.append(
                session,
                "system:restored",
                actor_id=None,
                object_type="system",
                details={
                    **report.summary(),
                    "source": str(src.resolve())[:200],
                    "verify_only": verify_only,
                },
            )
            session.commit()
        click.echo(f"restored {src} (manifest sha256 {digest}, taken {manifest['created_at']})")
        for check in report.checks:
            click.echo(f"  {'OK  ' if check.ok else 'FAIL'} {check.name}: {check.detail}")
        if not report.ok:
            click.echo("restore verification FAILED", err=True)
            raise SystemExit(1)
        click.echo("restore verified: every check passed")
