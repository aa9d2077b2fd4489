"""Test PDFs made on the fly (no third-party files in the repository)."""

from __future__ import annotations

from io import BytesIO

from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.pdf_utils.writer import copy_into_new_writer
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas

from signing.stamps import SERIF_FONT_PATH


def simple_pdf(text: str = "Cong van thu nghiem", pages: int = 1) -> bytes:
    """A small valid A4 PDF with one line of Helvetica text per page, built by hand."""
    objects: list[bytes] = [b"<< /Type /Catalog /Pages 2 0 R >>"]
    page_ids = [4 + 2 * i for i in range(pages)]
    kids = b" ".join(b"%d 0 R" % pid for pid in page_ids)
    objects.append(b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, pages))
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    for i in range(pages):
        content = b"BT /F1 14 Tf 72 770 Td (%s - trang %d) Tj ET" % (text.encode("latin-1"), i + 1)
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
            b"/Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>" % (page_ids[i] + 1)
        )
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content))
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for num, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (num, body)
    xref_at = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref_at,
    )
    return bytes(out)


def encrypted_pdf(user_password: str = "secret") -> bytes:
    """A PDF encrypted (AES-256) with a user password."""
    writer = copy_into_new_writer(PdfFileReader(BytesIO(simple_pdf())))
    writer.encrypt(owner_pass="owner-" + user_password, user_pass=user_password)
    out = BytesIO()
    writer.write(out)
    return out.getvalue()


def truncated_pdf() -> bytes:
    """A valid PDF cut in half (an interrupted upload)."""
    data = simple_pdf(pages=3)
    return data[: len(data) // 2]


def hybrid_xref_pdf(text: str = "Tep tham chieu lai") -> bytes:
    """A hybrid-reference file (PDF 1.5 compatibility files, as Word and older Acrobat
    write them): a classic cross-reference table whose trailer points with ``/XRefStm``
    to a cross-reference stream listing the object kept in an object stream (the font).

    A reader that ignores ``/XRefStm`` still finds the page, without its font; a reader
    that follows it finds everything.
    """
    content = b"BT /F1 14 Tf 72 770 Td (%s) Tj ET" % text.encode("latin-1")
    font = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"
    objstm_data = b"5 0 " + font
    bodies: dict[int, bytes] = {
        1: b"<< /Type /Catalog /Pages 2 0 R >>",
        2: b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        3: b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
        b"/Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>",
        4: b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content),
        6: b"<< /Type /ObjStm /N 1 /First 4 /Length %d >>\nstream\n%s\nendstream"
        % (len(objstm_data), objstm_data),
    }
    out = bytearray(b"%PDF-1.5\n%\xe2\xe3\xcf\xd3\n")
    offsets: dict[int, int] = {}
    for num, body in bodies.items():
        offsets[num] = len(out)
        out += b"%d 0 obj\n%s\nendobj\n" % (num, body)
    # the cross-reference stream: object 5 is entry 0 of object stream 6
    entries = bytes([2]) + (6).to_bytes(4, "big") + (0).to_bytes(2, "big")
    offsets[7] = len(out)
    out += (
        b"7 0 obj\n<< /Type /XRef /Size 8 /W [1 4 2] /Index [5 1] /Length %d >>\nstream\n"
        % len(entries)
        + entries
        + b"\nendstream\nendobj\n"
    )
    xref_at = len(out)
    # the table skips object 5 (two subsections): the stream is where it is found
    out += b"xref\n0 5\n0000000000 65535 f \n"
    out += b"".join(b"%010d 00000 n \n" % offsets[num] for num in range(1, 5))
    out += b"6 2\n" + b"".join(b"%010d 00000 n \n" % offsets[num] for num in (6, 7))
    out += b"trailer\n<< /Size 8 /Root 1 0 R /XRefStm %d >>\nstartxref\n%d\n%%%%EOF\n" % (
        offsets[7],
        xref_at,
    )
    return bytes(out)


def header_pdf(
    number_line: str, date_line: str | None, body: str = "QUYẾT ĐỊNH", date_y: float = 764
) -> bytes:
    """A one-page document with a Party header in Times-like type: the unit and the "Số"
    line on the left (``number_line``, e.g. ``'Số: ……/QĐ-BTG'``), the party name and the
    place-and-date line on the right (``date_line``), then a title and a signature block.
    """
    if "TkSerif" not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont("TkSerif", str(SERIF_FONT_PATH)))
    out = BytesIO()
    pdf = canvas.Canvas(out, pagesize=(595, 842))
    pdf.setFont("TkSerif", 13)
    pdf.drawString(60, 790, "BAN TUYÊN GIÁO")
    pdf.drawString(300, 790, "ĐẢNG CỘNG SẢN VIỆT NAM")
    pdf.drawString(60, 764, number_line)
    if date_line:
        pdf.drawString(300, date_y, date_line)
    pdf.drawString(60, 700, body)
    pdf.drawString(60, 680, "về việc ban hành quy chế làm việc của Ban")
    pdf.drawString(360, 300, "TRƯỞNG BAN")
    pdf.showPage()
    pdf.save()
    return out.getvalue()
