"""Archival renewal: a B-LTA document whose document timestamp is renewed before the TSA
certificate expires still validates (AdES long-term validation: everything before the
newest timestamp from the file alone, the newest against the TSA's present status) years
later; one whose renewal was skipped does not. The clock moves five years."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from signing.archival import validate_archival
from storage.archival_models import ArchivalStamp
from storage.models import AuditEvent, Document
from tests.conftest import Api, app_config
from tests.factories import awaiting_issue
from workflow import create_app
from workflow.jobs import catalogue
from workflow.services import EXTENSION_KEY, Services
from workflow.signatures import archival

pytestmark = [pytest.mark.signature_level("B-LTA"), pytest.mark.both_databases]


def services_of(app: Flask) -> Services:
    svc: Services = app.extensions[EXTENSION_KEY]
    return svc


def issued_documents(app: Flask, n: int) -> list[int]:
    api = Api(app)
    ids = []
    for task_id in awaiting_issue(services_of(app), n):
        issued = api.post("vanthu", f"/tasks/{task_id}/issue", json={})
        assert issued.status_code == 200, issued.get_json()
        ids.append(issued.get_json()["document"]["id"])
    return ids


def archival_results(services: Services, doc_id: int, at: datetime, tmp: Path) -> dict[str, bool]:
    """:returns: each signature's AdES long-term verdict at ``at``, by field name."""
    with services.session_factory() as session:
        doc = session.get(Document, doc_id)
        assert doc is not None
        key = doc.current_revision.blob_sha256
    path = tmp / f"{doc_id}.pdf"
    path.write_bytes(services.blobs.read_bytes(key))
    # The newest timestamp is checked against the TSA's status now (as a validator would
    # fetch it); everything older must be proved from the file.
    got = validate_archival(path, services.trust, None, services.trust_services.revocation_source())
    return {r.field_name: r.passed for r in got}


def test_renewed_in_time_survives_the_tsa_expiry_and_skipped_does_not(
    app: Flask, clock: Any, instance: Path, database_url: str, tmp_path: Path
) -> None:
    renewed, skipped = issued_documents(app, 2)
    services = services_of(app)
    now = datetime.now(UTC)
    report = archival.renew_due(
        services.session_factory,
        services.blobs,
        services.trust,
        services.trust_services,
        services.settings,
        now,
    )
    assert report.renewed == [] and report.checked == 2  # nothing due yet: just recorded
    with services.session_factory() as session:
        rows = session.scalars(select(ArchivalStamp)).all()
        assert {r.document_id for r in rows} == {renewed, skipped}
        expiry = rows[0].tsa_not_after
        assert expiry is not None and all(r.timestamps == 1 for r in rows)
    # The seal (the issued document's own signature) passes; the signer's signature
    # before it is AdES-indeterminate (SIG_CONSTRAINTS_FAILURE) whatever the time: the
    # test factory signs it at B-B, without a signature timestamp (signed through the API
    # at the policy's B-LTA it passes: test_archival_renewal_checks). What a renewal must
    # do is keep each verdict as it is.
    before = archival_results(services, renewed, now, tmp_path)
    skipped_before = archival_results(services, skipped, now, tmp_path)
    seals = [n for n in before if n.startswith("DauCoQuan")]
    skipped_seal = next(n for n in skipped_before if n.startswith("DauCoQuan"))
    assert len(seals) == 1 and before[seals[0]] and skipped_before[skipped_seal]

    # 100 days before the TSA certificate expires: a server started now has a new TSA
    # certificate (renewed on load), and the daily job renews what is due.
    clock.move_to(expiry - timedelta(days=100))
    # A server still running with the old TSA certificate refuses (a new timestamp by it
    # would be due again tomorrow) and audits the failure; nothing is stored.
    stale = archival.renew_due(
        services.session_factory,
        services.blobs,
        services.trust,
        services.trust_services,
        services.settings,
        datetime.now(UTC),
        only=[renewed],
    )
    assert stale.renewed == [] and [d for d, _ in stale.failed] == [renewed]
    assert "restart the server" in stale.failed[0][1]
    services.engine.dispose()
    later = create_app(app_config(instance, DATABASE_URL=database_url, SIGNATURE_LEVEL="B-LTA"))
    try:
        moved = services_of(later)
        due = archival.renew_due(
            moved.session_factory,
            moved.blobs,
            moved.trust,
            moved.trust_services,
            moved.settings,
            datetime.now(UTC),
            only=[renewed],
        )
        assert due.renewed == [renewed] and due.failed == []
        with moved.session_factory() as session:
            doc = session.get(Document, renewed)
            assert doc is not None and doc.current_revision.kind == "archival"
            assert doc.current_revision.created_by_id is None
            newest = session.scalars(
                select(ArchivalStamp).where(ArchivalStamp.revision_id == doc.current_revision.id)
            ).one()
            assert newest.timestamps == 2
            assert newest.tsa_not_after is not None and newest.tsa_not_after > expiry + timedelta(
                days=365
            )
            audited = session.scalars(
                select(AuditEvent)
                .where(AuditEvent.action == archival.RENEWED)
                .order_by(AuditEvent.seq)
            ).one()
            assert audited.object_id == str(renewed) and audited.details["reason"] == "expiry"
            refused = session.scalars(
                select(AuditEvent)
                .where(AuditEvent.action == archival.FAILED)
                .order_by(AuditEvent.seq)
            ).one()
            assert refused.object_id == str(renewed)
        # The document's validation report lists the new document timestamp (valid, by
        # the new TSA certificate); point-in-time validation of the signers' expired
        # certificates is what the long-term validation below is for.
        report_json = Api(later).get("kiemtra", f"/documents/{renewed}/validation").get_json()
        newest = report_json["signatures"][-1]
        assert newest["pades_level"] == "DTS" and newest["intact"] and newest["trusted"], newest
        assert [s["pades_level"] for s in report_json["signatures"]].count("DTS") == 2

        # A month after the old TSA certificate expired.
        clock.move_to(expiry + timedelta(days=30))
        at = datetime.now(UTC)
        assert archival_results(moved, renewed, at, tmp_path) == before
        lost = archival_results(moved, skipped, at, tmp_path)
        assert lost[skipped_seal] is False  # no renewal: the seal can no longer be proved
    finally:
        services_of(later).engine.dispose()


def test_the_archival_job_is_scheduled_daily_and_reports(app: Flask) -> None:
    job = catalogue.BY_NAME["archival"]
    assert job.interval == timedelta(days=1)
    issued_documents(app, 1)
    services = services_of(app)
    with services.session_factory() as session:
        context = catalogue.JobContext(session, services, None, None, datetime.now(UTC))  # type: ignore[arg-type]
        summary = job.run(context)
    assert summary.startswith("kiểm tra 1 văn bản lưu trữ; gia hạn dấu thời gian 0")
