"""workflow.transparency: the transparency log: signed tree heads, inclusion and consistency
proofs, witnesses, the log's export for the offline verifier."""

from __future__ import annotations

from pathlib import Path

import click
from flask import Flask

from storage.types import utcnow
from workflow.http import register_api
from workflow.services import EXTENSION_KEY, Services
from workflow.transparency import api, usecases, witnesses


def register(app: Flask) -> None:
    """Add this package's API and commands to ``app``."""
    register_api(app, api.api_bp)
    _register_cli(app)


def _register_cli(app: Flask) -> None:
    group = click.Group("log", help="The transparency log (Merkle tree of the audit log).")
    app.cli.add_command(group)

    def services() -> Services:
        svc: Services = app.extensions[EXTENSION_KEY]
        return svc

    @group.command("publish")
    @click.option("--force", is_flag=True, help="sign a tree head even if the log did not grow")
    def publish_command(force: bool) -> None:
        """Sign and timestamp the log's head now (the checkpoints job does it on schedule)."""
        svc = services()
        with svc.session_factory() as session:
            head = usecases.publish_tree_head(
                session, svc, svc.checkpoint_timestamper, utcnow(), force=force
            )
            session.commit()
            if head is None:
                click.echo("the log did not grow since the last tree head")
                return
            click.echo(f"tree head #{head.id}: size {head.size}, root {head.root_hash}")

    @group.command("export")
    @click.option("--out", type=click.Path(path_type=Path), required=True)
    def export_command(out: Path) -> None:
        """Write the whole log (leaves, audit entries, tree heads) for the offline verifier."""
        svc = services()
        with svc.read_session_factory() as session:
            count = usecases.export_to(session, svc, out)
        click.echo(f"{count} entries written to {out}")

    @group.command("witness-add")
    @click.argument("name")
    @click.argument("url")
    def witness_add_command(name: str, url: str) -> None:
        """Add a witness; prints its HMAC secret (give it to the witness, shown once)."""
        with services().session_factory() as session:
            witness, secret = witnesses.add_witness(session, None, name, url)
            session.commit()
            click.echo(f"witness #{witness.id} {witness.name} <{witness.url}>\nsecret: {secret}")

    @group.command("witness-list")
    def witness_list_command() -> None:
        """List the witnesses."""
        with services().read_session_factory() as session:
            for w in witnesses.list_witnesses(session):
                state = "active" if w.active else "stopped"
                click.echo(f"#{w.id} {w.name} <{w.url}> {state}")

    @group.command("witness-deliver")
    def witness_deliver_command() -> None:
        """Send the tree heads owed to witnesses now (the log-witnesses job does it)."""
        with services().session_factory() as session:
            sent, failed = witnesses.deliver_due(session, utcnow(), usecases.head_json)
            session.commit()
        click.echo(f"{sent} delivered, {failed} failed (retried later)")
