"""Verification: ETSI indications, validation reports of any PDF (JSON, HTML, signed PDF),
verification codes and the public page, the QR code of the seal stamp."""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import re
import subprocess
from datetime import UTC, datetime, timedelta
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import signers
from pyhanko.sign.fields import SigFieldSpec
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext
from sqlalchemy import select

import workflow.verification.web  # noqa: F401 - adds POST /api/v1/validate to the API blueprint
from signing import etsi
from signing.keys import load_signer
from signing.stamps import StampContent
from signing.validate import MSG_BROKEN, validate_pdf
from storage.models import Certificate, Document
from storage.verification_models import VerificationCode
from tests.conftest import DEMO_PASSWORD, Api, blob_files
from tests.pdfs import encrypted_pdf, simple_pdf
from tests.test_web import csrf_token, login
from tests.test_workflow_routes import act, upload_on
from workflow.services import Services
from workflow.verification import service as verification

# --- helpers --------------------------------------------------------------------------


def signed_document(api: Api, issue: bool = False) -> tuple[int, bytes]:
    """A document signed by the competent person through the API (and issued)."""
    doc_id = upload_on(api)
    act(api, "truongban", doc_id, "approve")
    act(api, "vanthu", doc_id, "approve")
    act(api, "bithu", doc_id, "sign", {"passphrase": DEMO_PASSWORD})
    if issue:
        act(api, "vanthu", doc_id, "issue")
    data: bytes = api.get("kiemtra", f"/documents/{doc_id}/file").data
    return doc_id, data


def tampered(data: bytes) -> bytes:
    """Flip one byte of the page text, inside the signed byte range."""
    at = data.index(b"Cong van thu nghiem")
    return data[:at] + b"X" + data[at + 1 :]


def appended(data: bytes) -> bytes:
    """An incremental update after the signature that adds page content."""
    writer = IncrementalPdfFileWriter(BytesIO(data))
    content = generic.StreamObject(stream_data=b"BT /F1 20 Tf 72 700 Td (Them sau khi ky) Tj ET")
    writer.add_stream_to_page(0, writer.add_object(content))
    out = BytesIO()
    writer.write(out)
    return out.getvalue()


def validate(api: Api, data: bytes, user: str = "kiemtra", fmt: str | None = None) -> Any:
    query = f"?format={fmt}" if fmt else ""
    return api.post(
        user,
        "/validate" + query,
        data={"file": (BytesIO(data), "kiem-tra.pdf")},
        content_type="multipart/form-data",
    )


def pyhanko_statuses(services: Services, data: bytes) -> list[Any]:
    """pyHanko's own verdicts, with a fresh context trusting our root."""
    roots = [services.settings.pki_dir / "root.pem"]
    from signing.validate import _load_certs

    statuses = []
    for sig in PdfFileReader(BytesIO(data)).embedded_signatures:
        ctx = ValidationContext(
            trust_roots=_load_certs(tuple(p.read_bytes() for p in roots)),
            other_certs=_load_certs(services.trust.other_certs_pem),
            allow_fetching=False,
        )
        statuses.append(validate_pdf_signature(sig, ctx))
    return statuses


def add_code(services: Services, doc_id: int) -> str:
    with services.session_factory() as session:
        doc = session.get(Document, doc_id)
        assert doc is not None
        code = verification.ensure_code(session, doc)
        session.commit()
    return code


# --- reports against pyHanko's own verdicts ------------------------------------------


def test_report_of_a_good_signed_document(api: Api, services: Services) -> None:
    _doc_id, data = signed_document(api)
    response = validate(api, data)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["verdict"] == "valid" and body["error"] is None
    assert body["indication"] == {"indication": "TOTAL-PASSED", "sub_indication": None}
    assert body["file"]["name"] == "kiem-tra.pdf" and len(body["file"]["sha256"]) == 64
    (sig,) = body["signatures"]
    (status,) = pyhanko_statuses(services, data)
    assert status.bottom_line and sig["bottom_line"]
    assert sig["intact"] == status.intact and sig["valid"] == status.valid
    assert sig["signer"]["name"] == "Lê Văn Đức"
    chain = sig["certificate_chain"]
    assert len(chain) >= 2 and chain[-1]["trust_anchor"] and not chain[0]["trust_anchor"]
    for cert in chain:
        assert {
            "subject",
            "issuer",
            "serial",
            "not_before",
            "not_after",
            "fingerprint_sha256",
        } <= set(cert)
    assert chain[0]["fingerprint_sha256"] == status.signing_cert.sha256.hex()
    assert sig["trust"]["trusted"] and sig["trust"]["root"] == chain[-1]["subject"]
    assert sig["revocation"]["status"] == "good"
    assert sig["revocation"]["at_signing_time"] == "good"
    coverage = sig["coverage"]
    assert coverage["level"] == status.coverage.name.lower() and coverage["signed_revision"] == 2
    assert coverage["whole_file"] == (coverage["total_revisions"] == 2)  # B-LT adds a DSS
    assert sig["modifications"]["level"] == "none"
    print(body)
    assert sig["pades_level"] in ("B-B", "B-T", "B-LT", "B-LTA")
    if sig["pades_level"] != "B-B":
        assert sig["timestamp"]["valid"] and sig["timestamp"]["authority"]
    assert sig["etsi"] == {"indication": "TOTAL-PASSED", "sub_indication": None}


def test_tampered_file_is_total_failed_hash_failure(api: Api, services: Services) -> None:
    _doc_id, data = signed_document(api)
    bad = tampered(data)
    (status,) = pyhanko_statuses(services, bad)
    assert not status.intact and not status.bottom_line
    body = validate(api, bad).get_json()
    assert body["verdict"] == "invalid"
    assert body["signatures"][0]["intact"] is False
    assert body["signatures"][0]["etsi"] == {
        "indication": "TOTAL-FAILED",
        "sub_indication": "HASH_FAILURE",
    }
    assert body["indication"]["sub_indication"] == "HASH_FAILURE"


def test_content_appended_after_signing_is_flagged(api: Api, services: Services) -> None:
    _doc_id, data = signed_document(api)
    changed = appended(data)
    (status,) = pyhanko_statuses(services, changed)
    assert status.intact and status.valid and not status.bottom_line  # pyHanko's verdict
    body = validate(api, changed).get_json()
    (sig,) = body["signatures"]
    assert sig["intact"] and not sig["bottom_line"]
    assert sig["modifications"]["level"] == "other"
    assert sig["coverage"]["whole_file"] is False
    total = PdfFileReader(BytesIO(data)).xrefs.total_revisions
    assert (
        sig["coverage"]["signed_revision"] == 2 and sig["coverage"]["total_revisions"] == total + 1
    )
    assert body["indication"]["indication"] != "TOTAL-PASSED"
    assert sig["etsi"]["sub_indication"] == "SIG_CONSTRAINTS_FAILURE"


def test_unsigned_file(api: Api) -> None:
    body = validate(api, simple_pdf()).get_json()
    assert body["verdict"] == "unsigned" and body["signatures"] == []
    assert body["indication"] == {
        "indication": "INDETERMINATE",
        "sub_indication": "SIGNED_DATA_NOT_FOUND",
    }


def test_issued_document_has_two_passing_signatures(api: Api) -> None:
    _doc_id, data = signed_document(api, issue=True)
    body = validate(api, data, user="vanthu").get_json()
    assert [s["etsi"]["indication"] for s in body["signatures"]] == ["TOTAL-PASSED"] * 2
    leader, seal = body["signatures"]
    assert leader["coverage"]["whole_file"] is False and leader["coverage"]["signed_revision"] == 2
    assert leader["modifications"]["level"] in ("none", "form_filling")
    assert seal["coverage"]["signed_revision"] > leader["coverage"]["signed_revision"]
    assert seal["coverage"]["level"] in ("entire_file", "entire_revision")


def test_html_report(api: Api) -> None:
    _doc_id, data = signed_document(api)
    response = validate(api, data, fmt="html")
    assert response.status_code == 200 and response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert "Báo cáo kiểm tra chữ ký số" in html and "TOTAL-PASSED" in html and "Lê Văn Đức" in html


def test_pdf_report_is_signed_by_the_organisation_and_validates(
    api: Api, services: Services, tmp_path: Path
) -> None:
    _doc_id, data = signed_document(api)
    response = validate(api, tampered(data), fmt="pdf")
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert response.mimetype == "application/pdf"
    out = tmp_path / "report.pdf"
    out.write_bytes(response.data)
    report = validate_pdf(out, services.trust)
    assert report.bottom_line, report.to_dict()
    (sig,) = report.signatures
    with services.session_factory() as session:
        seal = session.scalars(
            select(Certificate).where(Certificate.fingerprint == sig.cert_fingerprint_sha256)
        ).one()
    assert seal.purpose == "seal"
    text = subprocess.run(["pdftotext", str(out), "-"], capture_output=True, text=True).stdout
    assert "BÁO CÁO KIỂM TRA CHỮ KÝ SỐ" in text
    assert "HASH_FAILURE" in text and "Lê Văn Đức" in text


# --- permissions and bad input ----------------------------------------------------------


def test_only_auditors_and_clerks_may_validate_files(api: Api, instance: Path) -> None:
    before = blob_files(instance)
    assert validate(api, simple_pdf(), user="chuyenvien").status_code == 403
    assert validate(api, simple_pdf(), user="bithu").status_code == 403
    assert validate(api, simple_pdf(), user="vanthu").status_code == 200
    anonymous = api.client.post(
        "/api/v1/validate",
        data={"file": (BytesIO(simple_pdf()), "a.pdf")},
        content_type="multipart/form-data",
    )
    assert anonymous.status_code == 401
    assert blob_files(instance) == before


@pytest.mark.parametrize(
    ("data", "status"),
    [
        (b"", 422),
        (b"Day khong phai la tep PDF", 422),
        (b"%PDF-1.7\n garbage without objects", 422),
        (encrypted_pdf(), 422),
    ],
    ids=["empty", "not-pdf", "broken", "encrypted"],
)
def test_bad_input_is_refused_and_nothing_is_kept(
    api: Api, instance: Path, data: bytes, status: int
) -> None:
    before = blob_files(instance)
    response = validate(api, data)
    assert response.status_code == status, response.get_json()
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["detail"]
    assert blob_files(instance) == before


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.parametrize("extra", [3 * 1024 * 1024, 2 * 1024 * 1024], ids=["huge", "just-over"])
def test_files_over_the_limit_are_413(api: Api, instance: Path, extra: int) -> None:
    # Werkzeug's test client spools a large body to a temporary file it never closes
    # (see test_bad_input.py); real HTTP is covered in test_serving.py.
    before = blob_files(instance)
    response = validate(api, simple_pdf() + b"%" + b"x" * extra)
    status, detail = response.status_code, response.get_json()["detail"]
    del response  # it holds the test client's spool: release it inside this warning filter
    gc.collect()
    assert status == 413 and "MB" in detail
    assert blob_files(instance) == before


def test_missing_file_and_bad_format(api: Api) -> None:
    assert api.post("kiemtra", "/validate").status_code == 422
    assert validate(api, simple_pdf(), fmt="docx").status_code == 422


def test_verify_page_for_auditors_and_clerks(app: Flask, instance: Path) -> None:
    anonymous = app.test_client()
    assert anonymous.get("/verify").status_code == 302
    drafter = app.test_client()
    login(drafter, "chuyenvien")
    assert drafter.get("/verify").status_code == 403
    auditor = app.test_client()
    login(auditor, "kiemtra")
    token = csrf_token(auditor, "/verify")
    before = blob_files(instance)
    response = auditor.post(
        "/verify",
        data={"csrf_token": token, "format": "html", "file": (BytesIO(simple_pdf()), "x.pdf")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 200
    assert "Tệp không có chữ ký số" in response.get_data(as_text=True)
    assert blob_files(instance) == before


# --- verification codes and the public page ---------------------------------------------


def test_codes_are_random_unique_and_stable(api: Api, services: Services) -> None:
    doc_id, _data = signed_document(api, issue=True)
    code = add_code(services, doc_id)
    assert re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{10}", code)
    assert add_code(services, doc_id) == code
    assert str(doc_id) not in code or len({verification.new_code() for _ in range(50)}) == 50
    assert verification.normalise_code(code.lower()[:5] + "-" + code[5:]) == code
    assert verification.normalise_code("ILO0000000") == "1100000000"
    assert verification.normalise_code("U234567890") is None
    with services.session_factory() as session:
        assert session.scalars(select(VerificationCode)).all()[0].document_id == doc_id


def test_public_page_without_login(api: Api, services: Services, app: Flask) -> None:
    doc_id, _data = signed_document(api, issue=True)
    code = add_code(services, doc_id)
    public = app.test_client()
    body = public.get(f"/api/v1/verify/{code}").get_json()
    assert body["status"] == "valid" and body["indication"]["indication"] == "TOTAL-PASSED"
    assert body["register"]["symbol"] == "01-NQ/ĐUK" and body["register"]["state"] == "issued"
    assert body["register"]["subject"].startswith("Nghị quyết")
    assert [s["kind"] for s in body["signatures"]] == ["personal", "seal"]
    page = public.get(f"/v/{code.lower()}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "01-NQ/ĐUK" in html and "Hợp lệ" in html
    assert "TOTAL-PASSED" not in html  # the public reads words, not ETSI codes
    text = html + str(body)
    for name in ("Nguyễn Thị Hồng Nhung", "Trần Văn Phương", "Phạm Thị Thu", "Lê Văn Đức"):
        assert name not in text  # no drafter, approver, clerk or signer names
    assert "/file" not in html  # no download
    # The code is random, not the document id (a 10-character code may contain its digits).
    assert body.get("code") not in (str(doc_id), f"{doc_id:010d}")
    qr = public.get(f"/v/{code}/qr.svg")
    assert qr.status_code == 200 and qr.mimetype == "image/svg+xml" and b"<svg" in qr.data
    assert public.get("/v/0000000000").status_code == 404
    assert public.get("/api/v1/verify/not-a-code").status_code == 404
    # Recalled: still shown, marked as recalled.
    recalled = api.post("vanthu", f"/documents/{doc_id}/recall", json={"reason": "Ban hành nhầm"})
    assert recalled.status_code == 200
    body = public.get(f"/api/v1/verify/{code}").get_json()
    assert body["status"] == "recalled" and body["register"]["recalled"]
    assert "Ban hành nhầm" not in str(body)


def test_public_page_hides_the_subject_of_a_classified_document(
    api: Api, services: Services, app: Flask
) -> None:
    subject = "Về công tác bảo vệ chính trị nội bộ năm 2027"
    created = api.post(
        "vanthu", "/documents", json={"classification": "mat", "doc_type": "CV", "subject": subject}
    )
    assert created.status_code == 201, created.get_json()
    code = add_code(services, created.get_json()["id"])
    public = app.test_client()
    body = public.get(f"/api/v1/verify/{code}").get_json()
    assert body["register"]["subject"] is None and body["register"]["classified"]
    assert body["status"] == "no_content" and body["signatures"] == []
    html = public.get(f"/v/{code}").get_data(as_text=True)
    assert subject not in html and subject not in str(body)
    assert "Văn bản mật" in html


def test_documents_not_issued_have_no_public_page(api: Api, services: Services, app: Flask) -> None:
    doc_id, _data = signed_document(api)  # signed, not issued
    code = add_code(services, doc_id)
    assert app.test_client().get(f"/api/v1/verify/{code}").status_code == 404


def test_qr_images() -> None:
    svg = verification.qr_svg("https://trinhky.example/v/7Q2K9XW4MB")
    assert svg.lstrip().startswith(b"<?xml") or b"<svg" in svg[:200]
    assert verification.qr_png("https://trinhky.example/v/7Q2K9XW4MB").startswith(b"\x89PNG")
    url = verification.verification_url("https://trinhky.example/", "7Q2K9XW4MB")
    assert url == "https://trinhky.example/v/7Q2K9XW4MB"


def test_seal_stamp_with_qr_code_validates(services: Services, tmp_path: Path) -> None:
    """What issuance will pass to pyHanko: a QR stamp style and its text parameters."""
    with services.session_factory() as session:
        seal = session.scalars(
            select(Certificate).where(Certificate.purpose == "seal", Certificate.status == "active")
        ).first()
        assert seal is not None
    signer = load_signer(
        seal.cert_pem.encode(),
        seal.encrypted_key_pem.encode(),
        services.seal_passphrase,
        services.trust.other_certs_pem,
    )
    url = "https://trinhky.example/v/7Q2K9XW4MB"
    content = StampContent(
        heading="Ký số bởi tổ chức",
        signer_name="Đảng ủy Khối",
        title="Số: 01-NQ/ĐUK",
        unit="Ngày ban hành: 27/11/2026",
        signed_at=datetime.now(UTC),
    )
    writer = IncrementalPdfFileWriter(BytesIO(simple_pdf()))
    pdf_signer = signers.PdfSigner(
        signers.PdfSignatureMetadata(field_name="DauCoQuan_1", md_algorithm="sha256"),
        signer=signer,
        stamp_style=verification.seal_stamp_style(),
        new_field_spec=SigFieldSpec("DauCoQuan_1", on_page=0, box=(60, 36, 300, 116)),
    )
    out = pdf_signer.sign_pdf(
        writer, appearance_text_params=verification.seal_stamp_params(content, url)
    )
    path = tmp_path / "seal.pdf"
    path.write_bytes(out.getvalue())
    report = validate_pdf(path, services.trust)
    assert report.bottom_line, report.to_dict()
    sig = PdfFileReader(BytesIO(path.read_bytes())).embedded_signatures[0]
    appearance = sig.sig_field["/Kids"][0] if "/Kids" in sig.sig_field else sig.sig_field
    normal = appearance["/AP"]["/N"]
    assert "/QR" in normal["/Resources"]["/XObject"]
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True).stdout
    assert "01-NQ/ĐUK" in text


# --- the ETSI mapping, rule by rule ---------------------------------------------------


@pytest.fixture
def good(api: Api, services: Services, tmp_path: Path) -> tuple[Any, Any]:
    """A passing SignatureReport and its facts."""
    _doc_id, data = signed_document(api)
    path = tmp_path / "good.pdf"
    path.write_bytes(data)
    (report,) = validate_pdf(path, services.trust).signatures
    (facts,) = etsi.collect_facts(path, services.trust)
    return report, facts


def test_etsi_rules(good: tuple[Any, Any]) -> None:
    report, facts = good
    passed = etsi.indication(report, facts)
    assert passed == etsi.PASSED and passed.to_dict()["sub_indication"] is None

    def sub(**changes: Any) -> str | None:
        result = etsi.indication(dataclasses.replace(report, **changes), facts)
        return f"{result.indication}/{result.sub_indication}"

    assert sub(problems=(MSG_BROKEN,), bottom_line=False) == "TOTAL-FAILED/FORMAT_FAILURE"
    assert sub(cert_fingerprint_sha256="") == "INDETERMINATE/NO_SIGNING_CERTIFICATE_FOUND"
    assert sub(intact=False, bottom_line=False) == "TOTAL-FAILED/HASH_FAILURE"
    assert sub(valid=False, bottom_line=False) == "TOTAL-FAILED/SIG_CRYPTO_FAILURE"
    assert sub(coverage="partial", bottom_line=False) == "TOTAL-FAILED/FORMAT_FAILURE"
    signed_at = datetime(2026, 11, 1, tzinfo=UTC)
    revoked = dataclasses.replace(
        report, revoked=True, trusted=False, bottom_line=False, signing_time=signed_at
    )
    # Revoked, no timestamp: no proof the signature existed before the revocation.
    no_ts = dataclasses.replace(revoked, timestamp_time=None)
    assert etsi.indication(no_ts, facts).sub_indication == "REVOKED_NO_POE"
    later = signed_at + timedelta(days=1)
    assert etsi.indication(no_ts, facts, revoked_at=later).sub_indication == "REVOKED_NO_POE"
    earlier = signed_at - timedelta(days=1)
    failed = etsi.indication(no_ts, facts, revoked_at=earlier)
    assert failed == etsi.EtsiResult(etsi.Indication.TOTAL_FAILED, etsi.SubIndication.REVOKED)
    # A valid timestamp before the revocation proves the signature predates it.
    with_ts = dataclasses.replace(revoked, timestamp_time=signed_at)
    assert etsi.indication(with_ts, facts, revoked_at=later) == etsi.PASSED
    # Untrusted: no chain to a root; expired without proof of existence; unknown status.
    untrusted = dataclasses.replace(report, trusted=False, bottom_line=False)
    orphan = dataclasses.replace(facts, reaches_trust_anchor=False)
    assert etsi.indication(untrusted, orphan).sub_indication == "NO_CERTIFICATE_CHAIN_FOUND"
    far = facts.chain[0].not_after + timedelta(days=1)
    no_poe = dataclasses.replace(untrusted, timestamp_time=None)
    assert etsi.indication(no_poe, facts, now=far).sub_indication == "OUT_OF_BOUNDS_NO_POE"
    unknown = etsi.indication(untrusted, facts, revocation_unknown=True)
    assert unknown.sub_indication == "TRY_LATER"
    assert etsi.indication(untrusted, facts).sub_indication == "CHAIN_CONSTRAINTS_FAILURE"
    assert sub(modification_level="annotations", bottom_line=False) == (
        "INDETERMINATE/SIG_CONSTRAINTS_FAILURE"
    )
    assert sub(docmdp_ok=False, bottom_line=False) == "INDETERMINATE/SIG_CONSTRAINTS_FAILURE"
    # pyHanko's AdES result refines, but never lifts a hash failure.
    assert etsi.indication(report, facts, ades="AdESIndeterminate.NO_POE").sub_indication == (
        "NO_POE"
    )
    assert etsi.indication(no_ts, facts, ades="AdESPassed.OK") == etsi.PASSED
    broken = dataclasses.replace(report, intact=False, bottom_line=False)
    assert etsi.indication(broken, facts, ades="AdESPassed.OK").sub_indication == "HASH_FAILURE"
    assert etsi.from_ades("AdESFailure.REVOKED") == etsi.EtsiResult(
        etsi.Indication.TOTAL_FAILED, etsi.SubIndication.REVOKED
    )
    assert etsi.from_ades("something else") is None


def test_etsi_overall() -> None:
    from signing.validate import ValidationReport

    failed = etsi.EtsiResult(etsi.Indication.TOTAL_FAILED, etsi.SubIndication.HASH_FAILURE)
    unsure = etsi.EtsiResult(etsi.Indication.INDETERMINATE, etsi.SubIndication.TRY_LATER)
    report = ValidationReport(signatures=())
    assert etsi.overall(report, [etsi.PASSED, unsure, failed]) == failed
    assert etsi.overall(report, [etsi.PASSED, unsure]) == unsure
    assert etsi.overall(report, [etsi.PASSED]) == etsi.PASSED
    assert etsi.overall(report, []).sub_indication == "SIGNED_DATA_NOT_FOUND"
    unreadable = ValidationReport(signatures=(), error="x")
    assert etsi.overall(unreadable, []).sub_indication == "FORMAT_FAILURE"


def test_collect_facts_tolerates_garbage(tmp_path: Path, services: Services) -> None:
    path = tmp_path / "x.pdf"
    path.write_bytes(b"not a pdf")
    assert etsi.collect_facts(path, services.trust) == ()
    path.write_bytes(encrypted_pdf())
    assert etsi.collect_facts(path, services.trust) == ()


# A long-term document: signed at the production default level.
@pytest.mark.signature_level()
def test_ades_engine_agrees_on_a_long_term_document(api: Api, services: Services) -> None:
    """pyHanko's AdES verdict, where the archival engine applies, maps consistently."""
    from signing import archival

    _doc_id, data = signed_document(api, issue=True)
    path = Path(services.settings.instance_path) / "ades.pdf"
    path.write_bytes(data)
    try:
        results = archival.validate_archival(path, services.trust)
        reports = validate_pdf(path, services.trust).signatures
    finally:
        path.unlink()
    for result in results:
        mapped = etsi.from_ades(result.indication)
        assert mapped is not None
        assert (mapped == etsi.PASSED) == result.passed
    assert len(results) == len([r for r in reports if r.pades_level != "DTS"])
    asyncio.get_event_loop_policy()  # the sync API ran asyncio.run: no loop left behind
