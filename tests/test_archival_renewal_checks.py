"""Archival renewal: the per-document checks that replace a second full validation.

A renewal validates the renewed file in full and its new document timestamp directly;
the verdicts it must keep are expected from what is known (the revision's stored
verdicts, or the pass's first document of the same signers), and the document's own are
validated where the renewed file differs. These tests make each check refuse: a TSA
whose token does not match the file, a renewal that changes signed content, and a
document unlike its peers (validated on its own, its verdicts kept as they are).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import tsp
from flask import Flask
from pyhanko.pdf_utils.generic import NameObject, NumberObject
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from sqlalchemy import select

from signing.archival import validate_archival
from signing.errors import SigningError
from signing.tsa import EmbeddedTimeStamper
from storage.archival_models import ArchivalStamp
from storage.models import AuditEvent, Document
from tests.conftest import DEMO_PASSWORD, Api
from tests.factories import ISSUING_ROUTE, approved, open_task, submitted_document
from tests.test_archival_renewal import issued_documents, services_of
from workflow.services import Services
from workflow.signatures import archival

pytestmark = [pytest.mark.signature_level("B-LTA")]


def renew_now(services: Services, doc_id: int, knowledge: archival.PassKnowledge) -> None:
    """Renew ``doc_id`` now (due or not: the checks are what is tested) and commit."""
    with services.session_factory() as session:
        doc = session.get(Document, doc_id)
        assert doc is not None
        archival.renew(
            session,
            services.blobs,
            services.trust,
            services.trust_services,
            doc,
            "expiry",
            datetime.now(UTC),
            knowledge,
        )
        session.commit()


def revisions(services: Services, doc_id: int) -> int:
    with services.session_factory() as session:
        doc = session.get(Document, doc_id)
        assert doc is not None
        return len(doc.revisions)


def expected_from(services: Services) -> dict[str, str]:
    """:returns: where each renewal's expected verdicts came from, by document id."""
    with services.session_factory() as session:
        events = session.scalars(
            select(AuditEvent).where(AuditEvent.action == archival.RENEWED).order_by(AuditEvent.seq)
        ).all()
        return {e.object_id: e.details["verdicts_expected_from"] for e in events}


def tampered(data: bytes) -> bytes:
    """The file with one digit of its first page's MediaBox changed (signed bytes)."""
    at = data.index(b"/MediaBox")
    digit = next(i for i in range(at, at + 64) if data[i : i + 1].isdigit() and data[i] != 0x30)
    return data[:digit] + (b"7" if data[digit] != ord("7") else b"8") + data[digit + 1 :]


@pytest.mark.both_databases
def test_verdicts_are_expected_from_the_situation_then_stored_and_an_odd_document_is_validated_alone(
    app: Flask, clock: Any
) -> None:
    first, peer, odd = issued_documents(app, 3)
    services = services_of(app)
    with services.session_factory() as session:
        doc = session.get(Document, odd)
        assert doc is not None
        rev = doc.current_revision
        changed = tampered(services.blobs.read_bytes(rev.blob_sha256))
        rev.blob_sha256 = services.blobs.put_bytes(changed)
        session.commit()

    knowledge = archival.PassKnowledge.start(services.trust, services.trust_services)
    for doc_id in (first, peer, odd):
        renew_now(services, doc_id, knowledge)
    # One situation (same signer, seal and TSA): validated once, on the first document.
    assert len(knowledge.situations) == 1
    (expected,) = knowledge.situations.values()
    assert any(expected)
    sources = expected_from(services)
    assert sources == {str(first): "situation", str(peer): "situation", str(odd): "document"}

    with services.session_factory() as session:
        rows = {
            r.document_id: r
            for r in session.scalars(select(ArchivalStamp).where(ArchivalStamp.timestamps == 2))
        }
        assert set(rows) == {first, peer, odd}
        for doc_id in (first, odd):
            doc = session.get(Document, doc_id)
            assert doc is not None
            with services.blobs.local_copy(doc.current_revision.blob_sha256) as path:
                found = validate_archival(
                    path, services.trust, None, services.trust_services.revocation_source()
                )
            assert rows[doc_id].verdicts == [[r.field_name, r.passed] for r in found]
        # The tampered document kept its (failing) verdicts: nothing was made to pass.
        assert [p for _, p in rows[odd].verdicts or []] != list(expected)
        assert not all(p for _, p in rows[odd].verdicts or [])

    # The next renewal of a renewed revision expects its own stored verdicts.
    renew_now(
        services, first, archival.PassKnowledge.start(services.trust, services.trust_services)
    )
    with services.session_factory() as session:
        last = session.scalars(
            select(AuditEvent)
            .where(AuditEvent.action == archival.RENEWED)
            .order_by(AuditEvent.seq.desc())
        ).first()
        assert last is not None and last.details["verdicts_expected_from"] == "stored"
        assert last.details["timestamps"] == 3


class WrongImprint(EmbeddedTimeStamper):
    """A TSA that timestamps something else than it was asked to (a faulty TSA)."""

    def answer(self, req: tsp.TimeStampReq) -> tsp.TimeStampResp:
        wrong = req.copy()
        digest = wrong["message_imprint"]["hashed_message"].native
        wrong["message_imprint"]["hashed_message"] = bytes(b ^ 0x5A for b in digest)
        return super().answer(wrong)


def test_a_timestamp_that_does_not_cover_the_file_is_refused(
    app: Flask, clock: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    (doc_id,) = issued_documents(app, 1)
    services = services_of(app)
    pki = services.trust_services.pki
    faulty = WrongImprint(pki.tsa.cert, pki.tsa.key, [pki.issuing_cert])
    issued = revisions(services, doc_id)
    knowledge = archival.PassKnowledge.start(services.trust, services.trust_services)
    with monkeypatch.context() as patched:
        patched.setattr(services.trust_services, "timestamper", faulty)
        with pytest.raises(SigningError, match="new document timestamp does not validate"):
            renew_now(services, doc_id, knowledge)
    assert revisions(services, doc_id) == issued and expected_from(services) == {}
    renew_now(services, doc_id, knowledge)  # the same document, a sound TSA: renewed
    assert revisions(services, doc_id) == issued + 1


def test_a_renewal_that_changes_signed_content_is_refused(
    app: Flask, clock: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    (doc_id,) = issued_documents(app, 1)
    services = services_of(app)
    real = archival.renew_archival_timestamp
    issued = revisions(services, doc_id)

    def rotating(in_path: Path, out_path: Path, *args: Any, **kwargs: Any) -> Any:
        """A renewal that also turns the first page (an illegal change after signing)."""
        turned = out_path.with_name(out_path.name + ".turned")
        with in_path.open("rb") as fh:
            writer = IncrementalPdfFileWriter(fh, strict=False)
            page = writer.root["/Pages"]["/Kids"][0].get_object()
            page[NameObject("/Rotate")] = NumberObject(90)
            writer.update_container(page)
            with turned.open("wb") as out:
                writer.write(out)
        try:
            return real(turned, out_path, *args, **kwargs)
        finally:
            turned.unlink()

    monkeypatch.setattr(archival, "renew_archival_timestamp", rotating)
    knowledge = archival.PassKnowledge.start(services.trust, services.trust_services)
    with pytest.raises(SigningError, match="differ from the document's"):
        renew_now(services, doc_id, knowledge)
    assert revisions(services, doc_id) == issued and expected_from(services) == {}


def test_a_signer_signing_at_the_policy_level_passes_long_term_validation(app: Flask) -> None:
    """The signer's signature is AdES-indeterminate only when made at B-B (the test
    factory's cheap level): signed as the web and API sign, at the instance's B-LTA, it
    has a signature timestamp and passes, like the seal."""
    services = services_of(app)
    api = Api(app)
    doc_id = submitted_document(services, route=ISSUING_ROUTE, subject="Văn bản ký theo chính sách")
    approved(services, doc_id, "truongban", "vanthu")
    with services.session_factory() as session:
        task_id = open_task(session, "bithu", doc_id).id
    signed = api.post("bithu", f"/tasks/{task_id}/sign", json={"passphrase": DEMO_PASSWORD})
    assert signed.status_code == 200, signed.get_json()
    with services.session_factory() as session:
        task_id = open_task(session, "vanthu", doc_id).id
    issued = api.post("vanthu", f"/tasks/{task_id}/issue", json={})
    assert issued.status_code == 200, issued.get_json()
    with services.session_factory() as session:
        doc = session.get(Document, doc_id)
        assert doc is not None
        key = doc.current_revision.blob_sha256
    with services.blobs.local_copy(key) as path:
        found = validate_archival(
            path, services.trust, None, services.trust_services.revocation_source()
        )
    assert [(r.field_name.split("_")[0], r.indication) for r in found] == [
        ("ChuKy2", "AdESPassed.OK"),
        ("DauCoQuan", "AdESPassed.OK"),
    ]
