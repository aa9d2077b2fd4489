"""Hostile PDFs written as raw bytes, cheaply (no PDF library, no big temporary data): a
file of very many pages sharing one content stream, a deflate bomb, deep nesting, a page
tree whose ``/Count`` lies, and files carrying active content (JavaScript, XFA, Launch,
embedded files, OpenAction, AA)."""

from __future__ import annotations

import zlib

_CONTENT = b"BT /F1 24 Tf 72 720 Td (Trang) Tj ET"


def raw_pdf(objects: list[bytes], root: int = 1) -> bytes:
    """A PDF of ``objects`` (object ``i + 1`` is ``objects[i]``) with a correct xref table."""
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        root,
        xref,
    )
    return bytes(out)


def _stream(data: bytes, extra: bytes = b"") -> bytes:
    return b"<< /Length %d%s >>\nstream\n" % (len(data), extra) + data + b"\nendstream"


def _page(parent: int, contents: int, extra: bytes = b"") -> bytes:
    return b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 595 842] /Contents %d 0 R%s >>" % (
        parent,
        contents,
        extra,
    )


def many_pages_pdf(pages: int, count: int | None = None) -> bytes:
    """``pages`` pages sharing one content stream (``count``: what ``/Count`` claims)."""
    first_page = 4
    kids = b" ".join(b"%d 0 R" % (first_page + i) for i in range(pages))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Count %d /Kids [%s] >>" % (pages if count is None else count, kids),
        _stream(_CONTENT),
    ]
    objects += [_page(2, 3)] * pages
    return raw_pdf(objects)


def deflate_bomb_pdf(inflated_mb: int) -> bytes:
    """One page whose content stream inflates to ``inflated_mb`` MiB of spaces."""
    packer = zlib.compressobj(9)
    chunk = b" " * (1024 * 1024)
    bomb = b"".join(packer.compress(chunk) for _ in range(inflated_mb)) + packer.flush()
    return raw_pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Count 1 /Kids [4 0 R] >>",
            _stream(bomb, b" /Filter /FlateDecode"),
            _page(2, 3),
        ]
    )


def deep_nesting_pdf(depth: int) -> bytes:
    """One page carrying an array nested ``depth`` levels deep."""
    return raw_pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Count 1 /Kids [4 0 R] >>",
            _stream(_CONTENT),
            _page(2, 3, b" /Deep " + b"[" * depth + b"]" * depth),
        ]
    )


def many_objects_pdf(objects: int) -> bytes:
    """One page and ``objects`` unused small objects."""
    return raw_pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Count 1 /Kids [4 0 R] >>",
            _stream(_CONTENT),
            _page(2, 3),
        ]
        + [b"%d" % i for i in range(objects)]
    )


def active_content_pdf() -> bytes:
    """A page with JavaScript on opening, in the name tree, a Launch link, an embedded
    file, page AA and an XFA form."""
    return raw_pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R /OpenAction 5 0 R /Names << /JavaScript 6 0 R"
            b" /EmbeddedFiles 7 0 R >> /AcroForm << /Fields [] /XFA 8 0 R >> >>",
            b"<< /Type /Pages /Count 1 /Kids [4 0 R] >>",
            _stream(_CONTENT),
            _page(
                2,
                3,
                b" /AA << /O << /S /JavaScript /JS (app.alert\\(2\\)) >> >>"
                b" /Annots [<< /Type /Annot /Subtype /Link /Rect [0 0 100 100]"
                b" /A << /S /Launch /F (cmd.exe) >> >>]",
            ),
            b"<< /S /JavaScript /JS (app.alert\\(1\\)) >>",
            b"<< /Names [(a) << /S /JavaScript /JS (1) >>] >>",
            b"<< /Names [] >>",
            _stream(b"<xdp:xdp xmlns:xdp='http://ns.adobe.com/xdp/'/>"),
        ]
    )
