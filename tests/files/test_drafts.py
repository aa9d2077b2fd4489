"""A Word draft with a table and an image and two appendices: converted by LibreOffice
(the one conversion of the suite), approved and signed once; the signature covers the
whole file for every validator, the Vietnamese text is in the PDF, the appendices are
pages of it and their original files can be downloaded. And a scan made searchable by
the OCR job, before any signature."""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from docx import Document as DocxDocument
from docx.shared import Inches
from PIL import Image
from pypdf import PdfReader
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas
from sqlalchemy import select

from signing.stamps import SERIF_FONT_PATH
from storage.models import Revision, Unit
from storage.types import utcnow
from tests import factories
from tests.conftest import DEMO_PASSWORD, Api, closed
from tests.pdfs import simple_pdf
from tests.test_journey_api import INDEPENDENT_VERIFY
from tests.test_web import login
from workflow.documents import scans, usecases
from workflow.registry import registers
from workflow.services import Services

needs_office = pytest.mark.skipif(
    shutil.which("soffice") is None, reason="LibreOffice (libreoffice-writer-nogui) not installed"
)
needs_ocr = pytest.mark.skipif(
    shutil.which("ocrmypdf") is None or shutil.which("pdftoppm") is None,
    reason="ocrmypdf / tesseract-ocr-vie / poppler-utils not installed",
)


def word_draft() -> bytes:
    """A .docx with Vietnamese text, a table and an image (python-docx)."""
    doc = DocxDocument()
    doc.add_heading("Nghị quyết về đẩy mạnh chuyển đổi số", level=1)
    doc.add_paragraph(
        "Ban Thường vụ Đảng ủy Khối quyết nghị: đẩy mạnh ứng dụng chữ ký số trong "
        "toàn Đảng bộ, bảo đảm 100% văn bản trao đổi dưới dạng điện tử."
    )
    table = doc.add_table(rows=3, cols=2)
    table.style = "Table Grid"
    for row, (unit, target) in enumerate(
        [("Đơn vị", "Chỉ tiêu"), ("Ban Tuyên giáo", "100%"), ("Văn phòng", "90%")]
    ):
        table.cell(row, 0).text = unit
        table.cell(row, 1).text = target
    image = io.BytesIO()
    Image.new("RGB", (120, 80), (178, 34, 34)).save(image, "PNG")
    image.seek(0)
    doc.add_picture(image, width=Inches(1.2))
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def _text(pdf: Path) -> str:
    done = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, check=True)
    return done.stdout.decode()


@needs_office
@pytest.mark.tools
def test_word_draft_with_two_appendices_is_signed_once(
    api: Api, services: Services, tmp_path: Path
) -> None:
    files = [
        ("file", (io.BytesIO(word_draft()), "nghi-quyet.docx")),
        ("appendices", (io.BytesIO(simple_pdf("Phu luc danh sach", pages=2)), "danh-sach.pdf")),
        ("appendices", (io.BytesIO(simple_pdf("Phu luc bieu mau")), "bieu-mau.pdf")),
    ]
    created = api.post(
        "chuyenvien",
        "/documents",
        data={
            "subject": "Nghị quyết về đẩy mạnh chuyển đổi số",
            "doc_type": "NQ",
            "file": files[0][1],
            "appendices": [f[1] for f in files[1:]],
        },
        content_type="multipart/form-data",
    )
    assert created.status_code == 201, created.get_json()
    doc_id = created.get_json()["id"]
    listed = api.get("chuyenvien", f"/documents/{doc_id}/files").get_json()["files"]
    assert [(f["role"], f["filename"]) for f in listed] == [
        ("source", "nghi-quyet.docx"),
        ("appendix", "danh-sach.pdf"),
        ("appendix", "bieu-mau.pdf"),
    ]
    main_pages = listed[1]["first_page"] - 1
    assert listed[2]["first_page"] == main_pages + 3 and listed[2]["pages"] == 1

    assert api.post("chuyenvien", f"/documents/{doc_id}/submit").status_code == 200
    task = api.task_for("truongban", doc_id)
    assert api.post("truongban", f"/tasks/{task['id']}/approve", json={}).status_code == 200
    task = api.task_for("bithu", doc_id)
    signed = api.post("bithu", f"/tasks/{task['id']}/sign", json={"passphrase": DEMO_PASSWORD})
    assert signed.status_code == 200, signed.get_json()
    assert signed.get_json()["validation"]["verdict"] == "valid"

    pdf = tmp_path / "signed.pdf"
    pdf.write_bytes(api.get("chuyenvien", f"/documents/{doc_id}/file").data)
    reader = PdfReader(str(pdf))
    assert len(reader.pages) == main_pages + 3
    text = _text(pdf)
    for words in ("chuyển đổi số", "Ban Tuyên giáo", "Chỉ tiêu", "PHỤ LỤC 1", "PHỤ LỤC 2"):
        assert words in text, words
    assert "Phu luc bieu mau" in text
    sig = subprocess.run(["pdfsig", str(pdf)], capture_output=True, text=True)
    assert sig.stdout.count("Signature #") == 1, sig.stdout
    assert "Total document signed" in sig.stdout, sig.stdout
    # The original draft and each appendix can be downloaded as they were uploaded.
    source = api.get("chuyenvien", f"/documents/{doc_id}/files/{listed[0]['id']}")
    assert source.status_code == 200 and source.data[:2] == b"PK"
    second = api.get("chuyenvien", f"/documents/{doc_id}/files/{listed[2]['id']}")
    assert second.data == simple_pdf("Phu luc bieu mau")
    # The document page lists them; search finds the Word text.
    client = api.app.test_client()
    login(client, "chuyenvien")
    page = closed(client.get(f"/documents/{doc_id}")).get_data(as_text=True)
    assert "Phụ lục 2" in page and "bieu-mau.pdf" in page and "nghi-quyet.docx" in page
    download = closed(client.get(f"/documents/{doc_id}/files/{listed[1]['id']}"))
    assert download.status_code == 200 and download.data == simple_pdf("Phu luc danh sach", pages=2)
    found = api.get("chuyenvien", "/search?q=chu+ky+so+toan+dang+bo").get_json()
    assert doc_id in [r["id"] for r in found["results"] if r["kind"] == "document"]

    if INDEPENDENT_VERIFY.exists():
        root = tmp_path / "root.pem"
        root.write_bytes(api.client.get("/pki/root.pem").data)
        verify_python = Path.home() / ".cache/independent_verify/venv/bin/python"
        cmd = [sys.executable, str(INDEPENDENT_VERIFY)]
        if verify_python.exists():
            cmd += ["--python", str(verify_python)]
        result = subprocess.run(
            [*cmd, str(pdf), str(root)], capture_output=True, text=True, timeout=600
        )
        print(result.stdout)
        assert result.returncode == 0, result.stdout + result.stderr
        lines = {line.split(":")[0]: line for line in result.stdout.splitlines() if ":" in line}
        for validator in ("pdfsig", "coverage"):
            assert ": valid" in lines.get(validator, ""), result.stdout


def test_a_broken_word_file_is_refused_with_a_clear_message(api: Api) -> None:
    refused = api.upload("chuyenvien", b"not a zip", filename="du-thao.docx")
    assert refused.status_code == 422
    assert "không đúng định dạng .docx" in refused.get_json()["detail"]


@needs_ocr
@pytest.mark.tools
def test_a_scan_becomes_searchable_before_it_is_signed(
    api: Api, services: Services, tmp_path: Path
) -> None:
    page = tmp_path / "page.pdf"
    page.write_bytes(_vietnamese_page())
    subprocess.run(
        ["pdftoppm", "-r", "150", "-gray", "-png", "-singlefile", str(page), str(tmp_path / "p")],
        check=True,
    )
    scan = io.BytesIO()
    Image.open(tmp_path / "p.png").save(scan, "PDF", resolution=150)
    created = api.upload(
        "chuyenvien", scan.getvalue(), subject="Công văn giấy đã quét", filename="scan.pdf"
    )
    assert created.status_code == 201
    doc_id = created.get_json()["id"]
    # The same scan in a document signed before the OCR job ran: never rewritten.
    signed_id = factories.submitted_document(services, pdf=scan.getvalue(), subject="Bản quét")
    factories.approved(services, signed_id, "truongban")
    factories.signed(services, signed_id)
    before = api.get("chuyenvien", "/search?q=khen+thuong").get_json()
    assert before["total"] == 0

    with services.session_factory() as session:
        run = scans.run_ocr(session, services.blobs)
        session.commit()
    assert (run.done, run.revised, run.failed) == (1, 1, 0)

    found = api.get("chuyenvien", "/search?q=khen+thuong").get_json()
    assert sorted(r["id"] for r in found["results"]) == [doc_id, signed_id]
    assert "<mark>" in found["results"][0]["snippet_html"]

    def kinds(document_id: int) -> list[str]:
        with services.session_factory() as session:
            return list(
                session.scalars(
                    select(Revision.kind)
                    .where(Revision.document_id == document_id)
                    .order_by(Revision.number)
                )
            )

    assert kinds(doc_id) == ["upload", "ocr"]
    assert kinds(signed_id) == ["upload", "signed"]
    # Same page image: the OCR'd file keeps the scan's image stream, text added.
    new = tmp_path / "ocr.pdf"
    new.write_bytes(api.get("chuyenvien", f"/documents/{doc_id}/file").data)
    assert _images(new) == _images_of(scan.getvalue())


def _vietnamese_page() -> bytes:
    pdfmetrics.registerFont(TTFont("ScanSerif", str(SERIF_FONT_PATH)))
    out = io.BytesIO()
    page = canvas.Canvas(out)
    page.setFont("ScanSerif", 22)
    page.drawString(72, 740, "ĐẢNG ỦY KHỐI CƠ QUAN")
    page.drawString(72, 700, "Quyết định khen thưởng đảng viên")
    page.drawString(72, 660, "hoàn thành xuất sắc nhiệm vụ năm 2026")
    page.save()
    return out.getvalue()


def _images_of(data: bytes) -> list[bytes]:
    reader = PdfReader(io.BytesIO(data))
    return [img.data for p in reader.pages for img in p.images]


def _images(path: Path) -> list[bytes]:
    return _images_of(path.read_bytes())


def test_the_outgoing_register_lists_the_appendices(services: Services, clock: Any) -> None:
    with services.session_factory() as session:
        author = factories.user(session, "chuyenvien")
        doc = usecases.create_document(
            session,
            services.blobs,
            author,
            staged=services.blobs.stage(io.BytesIO(simple_pdf("Thong bao"))),
            filename="thong-bao.pdf",
            subject="Thông báo kết luận của Thường trực",
            doc_type="TB",
            appendices=[
                (services.blobs.stage(io.BytesIO(simple_pdf("Danh sach"))), "danh-sach.pdf"),
                (services.blobs.stage(io.BytesIO(simple_pdf("Lich"))), "lich-cong-tac.pdf"),
            ],
        )
        # Numbered as issuance would (the register reads the number, not how it came).
        root = session.scalars(select(Unit).where(Unit.parent_id.is_(None))).one()
        doc.issuer_unit_id, doc.register, doc.year, doc.number = root.id, "outgoing", 2026, 7
        doc.symbol, doc.issued_at, doc.state = "07-TB/ĐUK", utcnow(), "issued"
        session.commit()
        rows = registers.outgoing(session, root.id, registers.Filters(year=2026))
    assert [r["appendices"] for r in rows if r["document_id"] == doc.id] == [
        ["danh-sach.pdf", "lich-cong-tac.pdf"]
    ]
