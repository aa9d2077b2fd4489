"""Validation reports cached per (file hash, trust-list version): pages never revalidate."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from signing.validate import validate_pdf
from storage.models import Document, Signature
from storage.validation_cache import ValidationResult, bump_trust_version, trust_version
from tests.conftest import Api, closed
from tests.factories import approved, signed, submitted_document, user
from tests.test_web import login
from workflow.services import Services
from workflow.signatures import certificates
from workflow.verification import reports

pytestmark = pytest.mark.both_databases


@pytest.fixture
def validations(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The files the pages validate (the real validation, counted)."""
    calls: list[str] = []

    def counted(path: Any, *args: Any) -> Any:
        calls.append(str(path))
        return validate_pdf(path, *args)

    monkeypatch.setattr(reports, "validate_pdf", counted)
    return calls


def test_pages_read_the_report_signing_stored_until_the_trust_list_changes(
    app: Flask, services: Services, validations: list[str]
) -> None:
    doc_id = submitted_document(services)
    approved(services, doc_id, "truongban")
    signed(services, doc_id)
    with services.session_factory() as session:
        doc = session.get(Document, doc_id)
        assert doc is not None
        sha = doc.current_revision.blob_sha256
        version = trust_version(session)
        (row,) = session.scalars(select(ValidationResult).where(ValidationResult.sha256 == sha))
        assert (row.trust_version, row.verdict) == (version, "valid")

    client = app.test_client()
    login(client, "chuyenvien")
    for _ in range(3):
        page = closed(client.get(f"/documents/{doc_id}"))
        assert page.status_code == 200 and "Hợp lệ" in page.get_data(as_text=True)
    api = Api(app)
    report = api.get("chuyenvien", f"/documents/{doc_id}/validation").get_json()
    assert report["verdict"] == "valid"
    assert validations == []  # the signing flow's report, read back four times

    with services.session_factory() as session:  # the trust-list admin changes the list
        assert bump_trust_version(session) == version + 1
        session.commit()
    assert api.get("chuyenvien", f"/documents/{doc_id}/validation").get_json()["verdict"] == (
        "valid"
    )
    assert closed(client.get(f"/documents/{doc_id}")).status_code == 200
    assert len(validations) == 1  # once for every worker, then read from the table

    with services.session_factory() as session:  # a revocation invalidates the reports
        sig = session.scalars(select(Signature).where(Signature.document_id == doc_id)).one()
        admin = user(session, "admin")
        certificates.revoke(session, admin, sig.certificate_id, "key_compromise")
        session.commit()
        assert trust_version(session) == version + 2
    verdict = api.get("chuyenvien", f"/documents/{doc_id}/validation").get_json()["verdict"]
    assert len(validations) == 2 and verdict == "invalid"
