"""signing.freespace: the default stamp place moves off the document's own text."""

from __future__ import annotations

from pathlib import Path

from signing.freespace import nearest_free, overlaps, text_boxes
from tests.pdfs import simple_pdf

A4 = (0.0, 0.0, 595.0, 842.0)


def test_a_free_place_is_kept_as_it_is() -> None:
    wanted = (359.0, 36.0, 559.0, 146.0)
    assert nearest_free(wanted, A4, [(72.0, 760.0, 260.0, 780.0)]) == wanted


def test_a_place_over_text_moves_to_the_nearest_free_one() -> None:
    text = [(300.0, 100.0, 595.0, 120.0)]  # a line across the wanted box
    wanted = (359.0, 60.0, 559.0, 170.0)
    moved = nearest_free(wanted, A4, text)
    assert moved is not None and not overlaps(moved, text, 3.0)
    assert moved[2] - moved[0] == 200 and moved[3] - moved[1] == 110  # same size
    assert abs(moved[1] - wanted[1]) < 80  # nearby, not across the page


def test_no_room_says_so() -> None:
    assert nearest_free((0, 0, 200, 110), A4, [A4]) is None


def test_text_boxes_of_a_real_page(tmp_path: Path) -> None:
    path = tmp_path / "doc.pdf"
    path.write_bytes(simple_pdf("Cong van"))
    [(x1, y1, x2, y2)] = text_boxes(path, -1)
    assert 70 < x1 < 75 and 760 < y1 < y2 < 785 and x2 > 150  # "Cong van - trang 1", 14 pt
    path.write_bytes(b"%PDF-1.7 not really")
    assert text_boxes(path, 0) == []
