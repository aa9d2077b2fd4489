"""Issue 14: the number and date written into the document's own "Số:" and date lines at
issuance, as the appearance of a new signature field: the page shows them where the
template left blanks, and the signature made before stays valid (pyHanko's difference
analysis: form filling; poppler's pdfsig: valid)."""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

from asn1crypto import pem, x509
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

from signing.keys import LoadedKeySigner
from signing.numberline import field_box, find_header, header_fills
from signing.pades import sign_pdf_file
from signing.pki import EmbeddedPki
from signing.profiles import SigningProfile, TrustConfig
from signing.stamps import StampContent, StampPlacement
from signing.validate import validate_pdf
from tests import pdfs

ISSUED_AT = datetime(2026, 2, 4, 2, 30, tzinfo=UTC)  # 09:30 on 4 February in Vietnam


def header_pdf(path: Path, number_line: str, date_line: str | None) -> Path:
    path.write_bytes(pdfs.header_pdf(number_line, date_line))
    return path


def test_blanks_are_found_with_their_places(tmp_path: Path) -> None:
    pdf = header_pdf(tmp_path / "a.pdf", "Số: ……………/QĐ-BTG", "Hà Nội, ngày …… tháng …… năm ……")
    header = find_header(pdf)
    assert header is not None
    assert header.suffix == "/QĐ-BTG" and header.number.dotted
    assert 75 < header.number.x1 < header.number.x2 < 150
    assert abs(header.number.baseline - 764) < 0.5
    assert header.day and header.month and header.year
    assert header.day.x1 < header.day.x2 < header.month.x1 < header.month.x2 < header.year.x1
    assert all(abs(b.baseline - 764) < 0.5 for b in (header.day, header.month, header.year))

    written = [f.text for f, _ in header_fills(header, "01-QĐ/BTG", ISSUED_AT)]
    assert written == ["01-QĐ/BTG", "04", "02", "2026"]  # Decree 30: 04, 02 with a zero

    party = header_pdf(tmp_path / "b.pdf", "Số       -CV/ĐUK", "Hà Nội, ngày    tháng    năm 2026")
    found = find_header(party)
    assert found is not None and found.suffix == "-CV/ĐUK" and found.year is None
    written = [f.text for f, _ in header_fills(found, "07-CV/ĐUK", ISSUED_AT)]
    assert written == ["07", "04", "02"]  # the template prints the rest of the symbol

    # "Số:" with nothing after it, the date line level with it in the other column.
    bare = find_header(header_pdf(tmp_path / "e.pdf", "Số:", "Hà Nội, ngày ... tháng ... năm ..."))
    assert bare is not None and bare.suffix == "" and bare.number.open_end
    assert bare.day and bare.month and bare.year and bare.year.open_end
    fills = header_fills(bare, "07-CV/ĐUK", ISSUED_AT)
    assert [f.text for f, _ in fills] == ["07-CV/ĐUK", "04", "02", "2026"]
    assert fills[0][1][2] < 200 < bare.day.x1  # the symbol stays in its column

    # The date line printed above the number line (read first) is still found.
    (tmp_path / "g.pdf").write_bytes(
        pdfs.header_pdf("Số: ……/QĐ-BTG", "Hà Nội, ngày … tháng … năm …", date_y=777)
    )
    higher = find_header(tmp_path / "g.pdf")
    assert higher and higher.day and abs(higher.day.baseline - 777) < 0.5

    assert find_header(header_pdf(tmp_path / "c.pdf", "Kính gửi: các đảng ủy", None)) is None
    assert find_header(header_pdf(tmp_path / "d.pdf", "Số 12-CV/ĐUK", None)) is None
    assert find_header(header_pdf(tmp_path / "f.pdf", "Số lượng đảng viên: 120", None)) is None


def _sign(src: Path, out: Path, signer: LoadedKeySigner, profile: SigningProfile) -> Path:
    sign_pdf_file(src, out, signer, profile)
    return out


def test_number_field_keeps_the_earlier_signature_valid(
    tmp_path: Path,
    pki: EmbeddedPki,
    duc_signer: LoadedKeySigner,
    clerk_signer: LoadedKeySigner,
    trust: TrustConfig,
) -> None:
    src = header_pdf(tmp_path / "in.pdf", "Số: ……………/QĐ-BTG", "Hà Nội, ngày …… tháng …… năm ……")
    personal = StampContent("Lê Văn Đức", "Trưởng ban", "Ban Tuyên giáo", ISSUED_AT)
    signed = _sign(
        src,
        tmp_path / "signed.pdf",
        duc_signer,
        SigningProfile("Sig1", stamp=personal, placement=StampPlacement(0, (340, 200, 560, 290))),
    )
    header = find_header(signed)
    assert header is not None
    box, fills = field_box(header_fills(header, "01-QĐ/BTG", ISSUED_AT))
    numbered = _sign(
        signed,
        tmp_path / "numbered.pdf",
        clerk_signer,
        SigningProfile("SoVanBan_1", fills=fills, placement=StampPlacement(0, box)),
    )

    with numbered.open("rb") as fh:
        reader = PdfFileReader(fh)
        first, second = reader.embedded_signatures
        root = x509.Certificate.load(pem.unarmor(pki.root_pem())[2])
        context = ValidationContext(
            trust_roots=[root],
            other_certs=[x509.Certificate.load(pem.unarmor(pki.chain_pems()[0])[2])],
            allow_fetching=False,
        )
        status = validate_pdf_signature(first, context)
        assert status.intact and status.valid and status.docmdp_ok
        assert status.modification_level.name == "FORM_FILLING", status.pretty_print_details()
    report = validate_pdf(numbered, trust)
    assert report.bottom_line, report.to_dict()
    assert [s.modification_level for s in report.signatures] == ["form_filling", "none"]

    if shutil.which("pdftotext"):
        text = subprocess.run(
            ["pdftotext", "-layout", "-f", "1", "-l", "1", str(numbered), "-"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        print(text)
        line = next(line for line in text.splitlines() if "Số" in line)
        assert "01-QĐ/BTG" in line, text
    if shutil.which("pdfsig"):
        out = subprocess.run(["pdfsig", str(numbered)], capture_output=True, text=True).stdout
        print(out)
