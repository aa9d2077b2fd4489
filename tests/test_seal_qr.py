"""Issue #5: the organisation's seal stamp carries a QR code of the document's public
verification page, inside the Decree 30 layout (seal image over the signer's image,
number and date), read back from the rendered page with zbarimg."""

from __future__ import annotations

import shutil
import subprocess
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from pyhanko.pdf_utils.reader import PdfFileReader
from sqlalchemy import select

from storage.verification_models import VerificationCode
from tests.conftest import DEMO_PASSWORD, Api
from tests.test_workflow_routes import act, upload_on
from workflow.services import Services

TOOLS = ("pdftoppm", "pdftotext", "zbarimg")
needs_tools = pytest.mark.skipif(
    any(shutil.which(t) is None for t in TOOLS),
    reason="needs poppler-utils and zbar-tools (`make test-deps` installs them)",
)


def issue_document(api: Api) -> tuple[int, dict[str, Any], bytes]:
    """Upload, approve, review, sign and issue a document; :returns: id, answer, PDF."""
    doc_id = upload_on(api)
    act(api, "truongban", doc_id, "approve")
    act(api, "vanthu", doc_id, "approve")
    act(api, "bithu", doc_id, "sign", {"passphrase": DEMO_PASSWORD})
    issued = act(api, "vanthu", doc_id, "issue")
    data = api.get("chuyenvien", f"/documents/{doc_id}/file").data
    return doc_id, issued, data


def code_of(services: Services, doc_id: int) -> str:
    with services.session_factory() as session:
        code = session.scalars(
            select(VerificationCode.code).where(VerificationCode.document_id == doc_id)
        ).one()
    return code


def decode_qr(pdf: Path, page: int, out_dir: Path, dpi: int = 150) -> list[str]:
    """Render ``page`` (1-based) with pdftoppm and decode every QR code on it."""
    prefix = out_dir / f"page{page}"
    subprocess.run(
        ["pdftoppm", "-r", str(dpi), "-f", str(page), "-l", str(page), "-png", "-singlefile"]
        + [str(pdf), str(prefix)],
        check=True,
        timeout=60,
    )
    found = subprocess.run(
        ["zbarimg", "--quiet", "--raw", "-Sdisable", "-Sqrcode.enable", f"{prefix}.png"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return [line for line in found.stdout.splitlines() if line]


def _rect(sig: Any) -> tuple[float, float, float, float]:
    field = sig.sig_field
    widget = field["/Kids"][0] if "/Kids" in field else field
    x1, y1, x2, y2 = (float(v) for v in widget["/Rect"])
    return min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2)


@needs_tools
def test_seal_stamp_qr_opens_the_public_page(api: Api, services: Services, tmp_path: Path) -> None:
    doc_id, issued, data = issue_document(api)
    out = tmp_path / "issued.pdf"
    out.write_bytes(data)
    url = f"http://localhost/v/{code_of(services, doc_id)}"

    reader = PdfFileReader(BytesIO(data))
    leader, seal = reader.embedded_signatures
    assert decode_qr(out, len(list(reader.root["/Pages"]["/Kids"])), tmp_path) == [url]
    assert api.client.get(url.removeprefix("http://localhost")).status_code == 200

    # Decree 30 layout kept: the seal image and the QR are both in the seal's appearance,
    # and the seal stamp still reaches over the competent person's stamp.
    widget = seal.sig_field["/Kids"][0] if "/Kids" in seal.sig_field else seal.sig_field
    xobjects = widget["/AP"]["/N"]["/Resources"]["/XObject"]
    assert "/TkImg" in xobjects
    lx1, ly1, lx2, ly2 = _rect(leader)
    sx1, sy1, sx2, sy2 = _rect(seal)
    assert sx1 < lx1 < sx2 < lx2 and sy1 < ly2 and ly1 < sy2

    text = subprocess.run(
        ["pdftotext", "-layout", str(out), "-"], capture_output=True, text=True, check=True
    ).stdout
    for phrase in (f"Số: {issued['symbol']}", "Ngày ban hành:", "Lê Văn Đức", "Ngày "):
        assert phrase in text, text

    from signing.validate import validate_pdf

    report = validate_pdf(out, services.trust)
    assert report.bottom_line and len(report.signatures) == 2, report.to_dict()


def test_qr_follows_public_base_url(api: Api, services: Services, tmp_path: Path) -> None:
    """Behind a proxy the QR names PUBLIC_BASE_URL, not the address the request came to."""
    object.__setattr__(services.settings, "public_url", "https://trinhky.example/")
    doc_id, _issued, data = issue_document(api)
    if shutil.which("pdftoppm") is None or shutil.which("zbarimg") is None:
        pytest.skip("needs pdftoppm and zbarimg")
    out = tmp_path / "issued.pdf"
    out.write_bytes(data)
    pages = len(list(PdfFileReader(BytesIO(data)).root["/Pages"]["/Kids"]))
    expected = f"https://trinhky.example/v/{code_of(services, doc_id)}"
    assert decode_qr(out, pages, tmp_path) == [expected]
