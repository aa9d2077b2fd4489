"""Issue 14: at issuance the number and date are written into the document's own "Số:"
and "ngày … tháng … năm …" lines when its first page has them, and every signature stays
valid: the competent person's (pyHanko: intact, DocMDP ok, form filling; poppler's pdfsig;
the team's independent validators) and the organisation's two. A document without a
"Số:" line issues as before (the number in the seal stamp only)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from io import BytesIO
from pathlib import Path

import pytest
from asn1crypto import pem, x509
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext
from sqlalchemy import select

from storage.models import AuditEvent, Document
from tests.conftest import DEMO_PASSWORD, Api
from tests.pdfs import header_pdf, simple_pdf
from tests.test_journey_api import INDEPENDENT_VERIFY
from tests.test_workflow_routes import FULL, act
from workflow.registry import number_line
from workflow.services import Services

needs_poppler = pytest.mark.skipif(
    any(shutil.which(t) is None for t in ("pdftotext", "pdfsig", "pdftoppm")),
    reason="needs poppler-utils (`make test-deps` installs it)",
)


def issue(api: Api, data: bytes) -> tuple[int, dict[str, object], bytes]:
    """Upload ``data`` on the issuing route, walk it to issuance; :returns: id, answer, PDF."""
    response = api.post(
        "chuyenvien",
        "/documents",
        data={
            "file": (BytesIO(data), "quyet-dinh.pdf"),
            "subject": "Quyết định ban hành quy chế làm việc của Ban Tuyên giáo",
            "doc_type": "QĐ",
            "route": FULL,
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 201, response.get_json()
    doc_id: int = response.get_json()["id"]
    assert api.post("chuyenvien", f"/documents/{doc_id}/submit").status_code == 200
    act(api, "truongban", doc_id, "approve")
    act(api, "vanthu", doc_id, "approve")
    act(api, "bithu", doc_id, "sign", {"passphrase": DEMO_PASSWORD})
    issued = act(api, "vanthu", doc_id, "issue")
    return doc_id, issued, api.get("chuyenvien", f"/documents/{doc_id}/file").data


def _context(api: Api) -> ValidationContext:
    root = x509.Certificate.load(pem.unarmor(api.client.get("/pki/root.pem").data)[2])
    return ValidationContext(trust_roots=[root], allow_fetching=False)


def _layout_text(path: Path) -> str:
    return subprocess.run(
        ["pdftotext", "-layout", "-f", "1", "-l", "1", str(path), "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def _issued_audit(services: Services, doc_id: int) -> AuditEvent:
    """The newest "document:issued" audit entry of ``doc_id``."""
    with services.session_factory() as session:
        return session.scalars(
            select(AuditEvent)
            .where(AuditEvent.action == "document:issued", AuditEvent.object_id == doc_id)
            .order_by(AuditEvent.seq)
        ).all()[-1]


@needs_poppler
def test_number_and_date_written_into_the_documents_own_lines(
    api: Api, services: Services, tmp_path: Path
) -> None:
    data = header_pdf("Số: ……………/QĐ-BTG", "Hà Nội, ngày …… tháng …… năm ……")
    doc_id, issued, signed = issue(api, data)
    symbol = str(issued["symbol"])
    out = tmp_path / "issued.pdf"
    out.write_bytes(signed)

    # The number on the "Số" line, the date on the date line (Vietnam time, Decree 30).
    text = _layout_text(out)
    so_line = next(line for line in text.splitlines() if "Số:" in line)
    assert f"Số: {symbol}" in so_line, text
    issued_on = re.fullmatch(r"(\d{4})-(\d{2})-(\d{2}).*", str(issued["issued_at"]))
    assert issued_on is not None
    year, month, day = issued_on.groups()
    for part in (day, month.lstrip("0") if int(month) >= 3 else month, year):
        assert re.search(rf"\b{part}\b", text), text

    # Written as the appearance of the organisation's signature field over the page,
    # which stays as the signer signed it; then the seal as before.
    reader = PdfFileReader(BytesIO(signed))
    names = [s.field_name for s in reader.embedded_signatures]
    assert len(names) == 3 and names[1] == f"SoVanBan_{issued['number']}", names
    assert names[2].startswith("DauCoQuan_")
    context = _context(api)
    for sig in reader.embedded_signatures:
        status = validate_pdf_signature(sig, context)
        assert status.intact and status.valid and status.trusted, status.pretty_print_details()
        assert status.docmdp_ok is not False
        assert status.modification_level is None or status.modification_level.name in (
            "NONE",
            "FORM_FILLING",
        ), (sig.field_name, status.modification_level)
    leader = validate_pdf_signature(reader.embedded_signatures[0], context)
    assert leader.modification_level.name == "FORM_FILLING"

    # The page the signer signed is the same content stream: only fields were added.
    first = PdfFileReader(BytesIO(signed)).embedded_signatures[0]
    assert first.signed_revision < reader.xrefs.total_revisions - 1

    report = api.get("kiemtra", f"/documents/{doc_id}/validation").get_json()
    assert report["verdict"] and all(
        s["modification_level"] in ("none", "form_filling") for s in report["signatures"]
    ), report

    pdfsig = subprocess.run(["pdfsig", str(out)], capture_output=True, text=True).stdout
    print(pdfsig)
    assert pdfsig.count("Signature Validation: Signature is Valid.") == 3, pdfsig

    assert _issued_audit(services, doc_id).details["number_line"] is True
    with services.session_factory() as session:
        doc = session.get(Document, doc_id)
        assert doc is not None and number_line.planned(services.blobs, doc)  # clerk told

    if INDEPENDENT_VERIFY.exists():
        root = tmp_path / "root.pem"
        root.write_bytes(api.client.get("/pki/root.pem").data)
        verify_python = Path.home() / ".cache/independent_verify/venv/bin/python"
        cmd = [sys.executable, str(INDEPENDENT_VERIFY)]
        if verify_python.exists():
            cmd += ["--python", str(verify_python)]
        result = subprocess.run(
            [*cmd, str(out), str(root)], capture_output=True, text=True, timeout=600
        )
        print(result.stdout)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "pdfsig: valid" in result.stdout, result.stdout


@needs_poppler
def test_a_document_without_a_number_line_issues_as_before(
    api: Api, services: Services, tmp_path: Path
) -> None:
    doc_id, issued, signed = issue(api, simple_pdf("Thong bao khong co dong so"))
    reader = PdfFileReader(BytesIO(signed))
    names = [s.field_name for s in reader.embedded_signatures]
    assert len(names) == 2 and names[1].startswith("DauCoQuan_"), names
    out = tmp_path / "issued.pdf"
    out.write_bytes(signed)
    text = subprocess.run(
        ["pdftotext", "-layout", str(out), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert f"Số: {issued['symbol']}" in text, text  # in the seal stamp, as before
    assert _issued_audit(services, doc_id).details["number_line"] is False
    with services.session_factory() as session:
        doc = session.get(Document, doc_id)
        assert doc is not None and not number_line.planned(services.blobs, doc)
