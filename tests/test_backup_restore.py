"""Backup while documents are being signed, restore into a fresh instance: the restored
instance verifies its audit chain and every stored signature, has the same figures,
and keeps everything committed before the backup started."""

from __future__ import annotations

import json
import os
import shutil
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from storage.models import Document, Revision, Signature
from tests.conftest import (
    DEMO_PASSWORD,
    Api,
    PgCluster,
    app_config,
    flip_byte,
    write_database_config,
)
from tests.pdfs import simple_pdf
from tests.test_workflow_routes import act, upload_on
from workflow import create_app
from workflow.services import EXTENSION_KEY, Services
from workflow.setup.backup import figures

LOAD_LIMIT = 12
"""Documents the signing load signs at most (it stops earlier when told)."""


def sign_one(api: Api, n: int) -> int:
    """Upload, submit, approve and sign one document on the default route."""
    created = api.upload("chuyenvien", simple_pdf(), subject=f"Công văn số {n} về chuyển đổi số")
    assert created.status_code == 201, created.get_json()
    doc_id: int = created.get_json()["id"]
    assert api.post("chuyenvien", f"/documents/{doc_id}/submit").status_code == 200
    act(api, "truongban", doc_id, "approve")
    act(api, "bithu", doc_id, "sign", {"passphrase": DEMO_PASSWORD})
    return doc_id


class SigningLoad(threading.Thread):
    """Signs documents through the app, one after another, until stopped."""

    def __init__(self, app: Flask) -> None:
        super().__init__(daemon=True)
        self.api = Api(app)
        self.stop = threading.Event()
        self.signed: list[int] = []
        self.progress = threading.Condition()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            for n in range(LOAD_LIMIT):
                if self.stop.is_set():
                    return
                doc_id = sign_one(self.api, n)
                with self.progress:
                    self.signed.append(doc_id)
                    self.progress.notify_all()
        except BaseException as exc:  # reported by the test
            self.error = exc

    def wait_for(self, count: int, timeout: float = 120) -> None:
        with self.progress:
            assert self.progress.wait_for(
                lambda: len(self.signed) >= count or self.error is not None, timeout
            ), "the signing load did not progress"
        assert self.error is None, self.error


@pytest.fixture
def restored_instance(
    request: pytest.FixtureRequest, tmp_path: Path, instance: Path, db_backend: str
) -> Iterator[Path]:
    """A fresh instance folder holding only the passphrases, brought back from where
    they are kept offline (here: the original instance); on PostgreSQL a new, empty
    database."""
    target = tmp_path / "restored"
    target.mkdir()
    for name in ("ca_passphrase", "seal_passphrase"):
        shutil.copy2(instance / name, target / name)
    if db_backend == "sqlite":
        yield target
        return
    cluster: PgCluster = request.getfixturevalue("pg_cluster")
    name = f"trinhky_test_{os.getpid()}_{uuid.uuid4().hex[:12]}"
    write_database_config(target, cluster.create(name))
    try:
        yield target
    finally:
        cluster.drop(name)


def facts_of(backup: Path) -> dict[str, Any]:
    facts: dict[str, Any] = json.loads((backup / "manifest.json").read_text())["facts"]
    return facts


# pg_dump in an exported snapshot on PostgreSQL, the online backup API on SQLite.
@pytest.mark.both_databases
def test_backup_during_signing_then_restore(
    app: Flask, api: Api, services: Services, tmp_path: Path, restored_instance: Path
) -> None:
    # Before the load: an issued document (the seal signature) and one signed document.
    issued = upload_on(api)
    act(api, "truongban", issued, "approve")
    act(api, "vanthu", issued, "approve")
    act(api, "bithu", issued, "sign", {"passphrase": DEMO_PASSWORD})
    act(api, "vanthu", issued, "issue")
    before = [issued, sign_one(api, 100)]

    load = SigningLoad(app)
    load.start()
    try:
        load.wait_for(1)
        with load.progress:
            committed = before + list(load.signed)  # committed before the backup starts
        backup = tmp_path / "backup"
        done = app.test_cli_runner().invoke(args=["backup", str(backup)])
        assert done.exit_code == 0, done.output
        with load.progress:
            during = len(load.signed)
        load.wait_for(during + 1)  # the load went on after the backup
    finally:
        load.stop.set()
        load.join(timeout=120)
    assert load.error is None, load.error
    print(done.output)

    facts = facts_of(backup)
    assert facts["audit"]["ok"] and facts["signatures"] >= len(committed) + 1  # the seal too
    secrets = {"ca_passphrase", "seal_passphrase", "secret_key", "demo_password"}
    assert not secrets & {p.name for p in backup.rglob("*")}
    with services.session_factory() as session:
        live = figures(session, services.settings, facts["coverage"]["year"])
        assert live["T2"]["denominator"] > facts["coverage"]["figures"]["T2"]["denominator"]

    # Restore into the fresh instance; it verifies itself.
    target = create_app(app_config(restored_instance))
    try:
        restored = target.test_cli_runner().invoke(args=["restore", str(backup)])
        print(restored.output)
        assert restored.exit_code == 0, restored.output
        for line in (
            "OK   audit chain",
            "OK   rows",
            "OK   coverage",
            "OK   blobs",
            f"OK   signatures: {facts['signatures']} signatures valid",
            "OK   CA passphrase",
            "OK   seal passphrase",
        ):
            assert line in restored.output
        # Checked again later (e.g. after putting the passphrases back): the same.
        again = target.test_cli_runner().invoke(args=["restore", "--verify-only", str(backup)])
        assert again.exit_code == 0, again.output
        svc: Services = target.extensions[EXTENSION_KEY]
        with svc.session_factory() as session:
            assert (
                figures(session, svc.settings, facts["coverage"]["year"])
                == facts["coverage"]["figures"]
            )
            for doc_id in committed:
                doc = session.get(Document, doc_id)
                assert doc is not None and doc.state in ("signed", "issued"), doc_id
                signatures = session.scalars(
                    select(Signature).where(Signature.document_id == doc_id)
                ).all()
                assert len(signatures) == (2 if doc_id == issued else 1)
                original = [
                    r.blob_sha256
                    for r in session.scalars(select(Revision).where(Revision.document_id == doc_id))
                ]
                assert all(svc.blobs.verify(k) for k in original)
        # The restored server serves them: validation of the issued document, the seal too.
        report = Api(target).get("kiemtra", f"/documents/{issued}/validation").get_json()
        assert report["verdict"] == "valid" and len(report["signatures"]) == 2
        refused = target.test_cli_runner().invoke(args=["restore", str(backup)])
        assert refused.exit_code == 1 and "already" in refused.output
    finally:
        svc = target.extensions[EXTENSION_KEY]
        svc.engine.dispose()


def test_a_damaged_backup_or_missing_passphrases_are_refused(
    app: Flask, api: Api, tmp_path: Path
) -> None:
    sign_one(api, 1)
    backup = tmp_path / "backup"
    assert app.test_cli_runner().invoke(args=["backup", str(backup)]).exit_code == 0
    assert app.test_cli_runner().invoke(args=["backup", str(backup)]).exit_code == 1  # not empty

    # Without the passphrases kept offline the restore says which are missing, exit 1.
    bare = create_app(app_config(tmp_path / "bare"))
    try:
        result = bare.test_cli_runner().invoke(args=["restore", str(backup)])
        assert result.exit_code == 1
        assert "FAIL CA passphrase: not given" in result.output
        assert "FAIL seal passphrase: not given" in result.output
        assert "OK   signatures: 1 signatures valid" in result.output
        assert not (tmp_path / "bare" / "ca_passphrase").exists()  # never invented
    finally:
        bare.extensions[EXTENSION_KEY].engine.dispose()

    # One changed byte in a blob: refused before anything is written.
    blob = next(p for p in (backup / "blobs").rglob("*") if p.is_file())
    blob.write_bytes(flip_byte(blob.read_bytes()))
    fresh = create_app(app_config(tmp_path / "fresh"))
    try:
        result = fresh.test_cli_runner().invoke(args=["restore", str(backup)])
        assert (
            result.exit_code == 1
            and f"changed blobs/{blob.relative_to(backup / 'blobs').as_posix()}" in result.output
        )
        assert not (tmp_path / "fresh" / "trinhky.sqlite3").exists()
    finally:
        fresh.extensions[EXTENSION_KEY].engine.dispose()
