"""Validation reports cached per (file hash, trust-list version): pages never revalidate."""

from __future__ import annotations

import time
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from signing.validate import validate_pdf
from storage.blobs import FilesystemBlobStore, filesystem
from storage.models import Document, Signature
from storage.validation_cache import ValidationResult, bump_trust_version, trust_version
from tests.conftest import Api, closed, rewrite_blob
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


def flip_signed_byte(data: bytes) -> bytes:
    """``data`` with one bit changed in the bytes the signatures cover: just before the
    signature's value (a third of the way in can be the value's own zero padding)."""
    changed = bytearray(data)
    changed[data.rindex(b"/Contents <") - 2] ^= 0x01
    return bytes(changed)


def test_a_file_changed_on_disk_is_validated_again_though_its_check_was_remembered(
    app: Flask, services: Services, validations: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The page trusts the store's check of the file (``BlobStore.intact``), which re-hashes
    a file that may have changed: a rewrite is found at the next view, never served the
    report of the old bytes, and a broken file's report is never kept."""
    if not isinstance(services.blobs, FilesystemBlobStore):
        pytest.skip("the file is changed in place on the filesystem store")
    monkeypatch.setattr(filesystem, "SETTLED_SECONDS", 0.05)
    doc_id = submitted_document(services)
    approved(services, doc_id, "truongban")
    signed(services, doc_id)
    with services.session_factory() as session:
        doc = session.get(Document, doc_id)
        assert doc is not None
        sha = doc.current_revision.blob_sha256
    rehashed: list[str] = []
    verify = services.blobs.verify
    monkeypatch.setattr(services.blobs, "verify", lambda key: rehashed.append(key) or verify(key))
    time.sleep(0.1)  # the file has settled

    client = app.test_client()
    login(client, "chuyenvien")
    for _ in range(3):
        page = closed(client.get(f"/documents/{doc_id}")).get_data(as_text=True)
        assert "Tất cả chữ ký hợp lệ" in page
    assert rehashed == [sha] and validations == []  # re-hashed once, then remembered

    rewrite_blob(services.blobs, sha, flip_signed_byte)
    for n in (1, 2):
        page = closed(client.get(f"/documents/{doc_id}")).get_data(as_text=True)
        assert "Tất cả chữ ký hợp lệ" not in page and "Không tìm thấy" not in page
        assert len(validations) == n  # validated afresh at every view while broken
    with services.session_factory() as session:
        kept = session.scalars(
            select(ValidationResult.verdict).where(ValidationResult.sha256 == sha)
        )
        assert list(kept) == ["valid"]  # the report of the good bytes, not replaced
