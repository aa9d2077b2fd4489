"""Crash safety: what a crash leaves in the blob store (temporary uploads, signed output
no row names) is removed after a grace period, at start and by the ``cleanup`` job, each
removal audited; nothing a row references and nothing in progress is touched. And the
database file and blob folders are created readable by the service user only."""

from __future__ import annotations

import os
import stat
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from storage import audit
from storage.blobs import BlobStore, FilesystemBlobStore
from storage.db import make_engine
from storage.models import AuditEvent, Revision
from storage.types import utcnow
from tests.conftest import Api
from tests.pdfs import simple_pdf
from workflow.jobs import catalogue
from workflow.mail import NullMailer
from workflow.services import Services
from workflow.setup.bootstrap import sweep_leftovers

DAY = timedelta(days=1)


def _age(path: Path, moment: datetime) -> None:
    os.utime(path, (moment.timestamp(), moment.timestamp()))


def _blob_path(blobs: BlobStore, key: str) -> Path:
    with blobs.local_copy(key) as path:
        return path


def _temporary(blobs: FilesystemBlobStore, data: bytes, moment: datetime) -> Path:
    path = blobs.new_temp_path(".part")
    path.write_bytes(data)
    _age(path, moment)
    return path


def _run_cleanup(services: Services, now: datetime) -> str:
    job = next(j for j in catalogue.JOBS if j.name == "cleanup")
    with services.session_factory() as session:
        context = catalogue.JobContext(session, services, NullMailer(), None, now)
        summary = job.run(context)
        session.commit()
    return summary


@pytest.mark.both_databases
def test_cleanup_removes_old_leftovers_only_and_audits_each(
    api: Api, services: Services, clock: Any
) -> None:
    blobs = services.blobs
    assert isinstance(blobs, FilesystemBlobStore)
    now = utcnow()
    old, young = now - 2 * DAY, now - timedelta(hours=1)
    # A document's file (a row names it), old.
    created = api.upload("chuyenvien", simple_pdf("Van ban con dung"))
    assert created.status_code == 201
    with services.session_factory() as session:
        document_key = session.scalars(select(Revision.blob_sha256)).one()
    _age(_blob_path(blobs, document_key), old)
    # A blob named only in an audit entry's details (like a signed coverage report), old.
    report_key = blobs.put_bytes(b"%PDF- report named by the audit log")
    with services.session_factory() as session:
        audit.append(
            session,
            "ledger:report_signed",
            actor_id=None,
            object_type="ledger_report",
            object_id="2026-Q4",
            details={"sha256": report_key},
        )
        session.commit()
    _age(_blob_path(blobs, report_key), old)
    # Signed output whose transaction never committed: old, and young (in progress).
    orphan = blobs.put_bytes(b"%PDF- signed, then the worker was killed")
    _age(_blob_path(blobs, orphan), old)
    fresh_orphan = blobs.put_bytes(b"%PDF- published a moment ago, row not yet committed")
    _age(_blob_path(blobs, fresh_orphan), young)
    # Uploads cut off by kill -9: old, and one still streaming.
    stale = _temporary(blobs, b"%PDF-1.7 half an upl", old)
    streaming = _temporary(blobs, b"%PDF-1.7 still arriving", young)

    summary = _run_cleanup(services, now)

    assert "xóa 1 tệp tạm" in summary and "1 tệp không còn bản ghi nào tham chiếu" in summary
    assert not stale.exists() and streaming.exists()
    assert not blobs.exists(orphan)
    assert blobs.exists(fresh_orphan) and blobs.exists(document_key) and blobs.exists(report_key)
    with services.session_factory() as session:
        events = session.scalars(
            select(AuditEvent).where(AuditEvent.action.like("storage:%")).order_by(AuditEvent.seq)
        ).all()
    assert [(e.action, e.object_id) for e in events] == [
        ("storage:temporary_removed", stale.name),
        ("storage:blob_removed", orphan),
    ]
    assert events[1].details["size"] > 0 and events[1].details["age_hours"] == 48.0
    # The document is still whole: its file downloads.
    doc_id = created.get_json()["id"]
    assert api.get("chuyenvien", f"/documents/{doc_id}/file").status_code == 200


def test_republishing_old_content_makes_it_young(services: Services, clock: Any) -> None:
    blobs = services.blobs
    now = utcnow()
    key = blobs.put_bytes(b"%PDF- old orphan, uploaded again")
    _age(_blob_path(blobs, key), now - 2 * DAY)
    assert blobs.put_bytes(b"%PDF- old orphan, uploaded again") == key  # a row will name it
    _run_cleanup(services, now)
    assert blobs.exists(key)


def test_leftovers_are_swept_at_start(services: Services, clock: Any) -> None:
    blobs = services.blobs
    assert isinstance(blobs, FilesystemBlobStore)
    stale = _temporary(blobs, b"%PDF-1.7 cut off", utcnow() - 2 * DAY)
    assert sweep_leftovers(services) == 1
    assert not stale.exists()


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_database_and_blobs_are_private_whatever_the_umask(tmp_path: Path) -> None:
    previous = os.umask(0o000)  # the most permissive: modes must be set explicitly
    try:
        database = tmp_path / "instance" / "trinhky.sqlite3"
        database.parent.mkdir()
        engine = make_engine(f"sqlite:///{database}")
        with engine.connect() as connection:
            connection.exec_driver_sql("CREATE TABLE t (x INTEGER)")
            connection.commit()
        engine.dispose()
        blobs = FilesystemBlobStore(tmp_path / "blobs")
        key = blobs.put_bytes(b"%PDF- private")
        temporary = blobs.new_temp_path(".part")
    finally:
        os.umask(previous)
    assert _mode(database) == 0o600
    assert all(_mode(p) == 0o600 for p in database.parent.glob("trinhky.sqlite3-*"))
    blob = _blob_path(blobs, key)
    assert _mode(blob) == 0o400
    assert {_mode(d) for d in (tmp_path / "blobs", blob.parent, blob.parent.parent)} == {0o700}
    assert _mode(tmp_path / "blobs" / "tmp") == 0o700 and _mode(temporary) == 0o600


def test_an_existing_database_file_is_made_private(tmp_path: Path, app: Flask) -> None:
    database = tmp_path / "old.sqlite3"
    database.touch()
    database.chmod(0o644)
    make_engine(f"sqlite:///{database}").dispose()
    assert _mode(database) == 0o600
