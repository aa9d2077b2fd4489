"""Test PDFs made on the fly (no third-party files in the repository)."""

from __future__ import annotations

from io import BytesIO

from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.pdf_utils.writer import copy_into_new_writer


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
