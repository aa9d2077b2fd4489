"""Page geometry read with pyHanko (signing.pages): boxes and /Rotate inherited through the
page tree, the crop box before the media box, encrypted and hostile files, and the same
box for the signer's default stamp as for the viewer."""

from __future__ import annotations

from io import BytesIO
from pathlib import Path

import pytest
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

from signing.errors import PageGeometryError
from signing.pages import A4, file_pages, last_page_box, page_box, read_pages
from tests.pdfs import encrypted_pdf, simple_pdf


def hand_made(bodies: dict[int, bytes]) -> bytes:
    """A PDF of the given objects (1 is the catalogue), with a correct xref table."""
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = {}
    for num in sorted(bodies):
        offsets[num] = len(out)
        out += b"%d 0 obj\n%s\nendobj\n" % (num, bodies[num])
    xref_at = len(out)
    size = max(bodies) + 1
    out += b"xref\n0 %d\n0000000000 65535 f \n" % size
    out += b"".join(b"%010d 00000 n \n" % offsets[num] for num in range(1, size))
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (size, xref_at)
    return bytes(out)


# A two-level page tree: the root gives every page a MediaBox and /Rotate 90; an inner
# node overrides the rotation for its pages; one page has its own (inverted) CropBox.
TREE = {
    1: b"<< /Type /Catalog /Pages 2 0 R >>",
    2: b"<< /Type /Pages /Kids [3 0 R 4 0 R] /Count 3 /MediaBox [0 0 612 792] /Rotate 90 >>",
    3: b"<< /Type /Page /Parent 2 0 R >>",
    4: b"<< /Type /Pages /Parent 2 0 R /Kids [5 0 R 6 0 R] /Count 2 /Rotate -90 >>",
    5: b"<< /Type /Page /Parent 4 0 R /CropBox [510 820 10 20] >>",
    6: b"<< /Type /Page /Parent 4 0 R /MediaBox [0 0 420 595] /Rotate 45 >>",
}


def test_inherited_boxes_and_rotation() -> None:
    first, second, third = read_pages(BytesIO(hand_made(TREE)))
    assert (first.box, first.rotation) == ((0, 0, 612, 792), 90)
    assert (first.width, first.height) == (792, 612)
    assert (second.box, second.rotation) == ((10, 20, 510, 820), 270)  # crop box, normalised
    assert (third.box, third.rotation) == ((0, 0, 420, 595), 0)  # 45 is not a quarter turn
    assert [p.index for p in read_pages(BytesIO(hand_made(TREE)), limit=2)] == [0, 1]


def test_the_signer_and_the_viewer_read_the_same_box(tmp_path: Path) -> None:
    data = hand_made(TREE)
    writer = IncrementalPdfFileWriter(BytesIO(data))
    for index, page in enumerate(read_pages(BytesIO(data))):
        ref, _ = writer.find_page_for_modification(index)  # type: ignore[no-untyped-call]
        assert page_box(ref.get_object()) == page.box
    path = tmp_path / "tree.pdf"
    path.write_bytes(data)
    assert last_page_box(path) == (0, 0, 420, 595)


def test_a_page_without_boxes_is_a4() -> None:
    bodies = {**TREE, 2: TREE[2].replace(b" /MediaBox [0 0 612 792]", b"")}
    assert read_pages(BytesIO(hand_made(bodies)))[0].box == A4


def test_encrypted_files(tmp_path: Path) -> None:
    # The empty user password opens the file, as viewers do; a real password does not.
    (page,) = read_pages(BytesIO(encrypted_pdf(user_password="")))
    assert page.box == A4
    with pytest.raises(PageGeometryError, match="password"):
        read_pages(BytesIO(encrypted_pdf()))
    path = tmp_path / "locked.pdf"
    path.write_bytes(encrypted_pdf())
    assert last_page_box(path) == A4  # a stamp still gets a place


def test_hostile_and_missing_files(tmp_path: Path) -> None:
    circular = {**TREE, 4: TREE[4].replace(b"[5 0 R 6 0 R]", b"[2 0 R]")}
    with pytest.raises(PageGeometryError, match="circular"):
        read_pages(BytesIO(hand_made(circular)))
    with pytest.raises(PageGeometryError):
        read_pages(BytesIO(simple_pdf()[:200]))
    with pytest.raises(PageGeometryError):
        file_pages(tmp_path / "missing.pdf")
