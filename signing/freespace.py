"""Signing layer: where a stamp can go without covering the document's own text.

The text of a page is read as rectangles by PDFium (the ``pypdfium2`` wheel, which the
viewer already uses): the boxes of its text runs, in PDF user space. A stamp box of
a given size is then moved to the nearest place on the page that touches none of them
(with a small margin), searched outwards from where it would go by default (under the
signer's title, or the bottom right corner). Reading the text is best effort: a page
whose text cannot be read is taken as having none.
"""

from __future__ import annotations

import math
from pathlib import Path

from signing.pdfium_guard import PDFIUM_LOCK

Box = tuple[float, float, float, float]

CLEARANCE = 3.0
"""Space kept between the stamp and any text, in points."""
STEP = 6.0
"""Grid of the search, in points."""
EDGE = 18.0
"""The stamp stays this far inside the page edges, in points."""


def text_boxes(path: Path, page: int) -> list[Box]:
    """:returns: the rectangles of the text on page ``page`` (negative counts from the
    end), ``(x1, y1, x2, y2)`` in PDF user space; none if it cannot be read."""
    import pypdfium2 as pdfium  # the wheel loads PDFium: only when a stamp is placed

    # PDFium is not thread-safe (pypdfium2's documentation): a gthread worker signs in
    # several threads at once, and two of them in PDFium crash the process (SIGSEGV).
    with PDFIUM_LOCK:
        try:
            pdf = pdfium.PdfDocument(str(path))
        except pdfium.PdfiumError:
            return []
        try:
            pdf_page = pdf[page % len(pdf)]
            textpage = pdf_page.get_textpage()
            rects = [_normal(textpage.get_rect(i)) for i in range(textpage.count_rects())]
            # Closed here, under the lock, not by a finalizer in another thread's time.
            textpage.close()
            pdf_page.close()
            return rects
        except (pdfium.PdfiumError, ZeroDivisionError, IndexError):
            return []
        finally:
            pdf.close()


def _normal(rect: tuple[float, float, float, float]) -> Box:
    x1, y1, x2, y2 = rect
    return (min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2))


def overlaps(box: Box, others: list[Box], clearance: float = 0.0) -> bool:
    """:returns: whether ``box`` comes within ``clearance`` of any of ``others``."""
    x1, y1, x2, y2 = box
    return any(
        x1 < o[2] + clearance
        and o[0] - clearance < x2
        and y1 < o[3] + clearance
        and o[1] - clearance < y2
        for o in others
    )


def nearest_free(wanted: Box, page_box: Box, texts: list[Box]) -> Box | None:
    """The box of the size of ``wanted`` nearest to it that covers no text.

    :param wanted: where the stamp would go, ``(x1, y1, x2, y2)``.
    :param page_box: the page's visible area.
    :param texts: the text rectangles of the page (:func:`text_boxes`).
    :returns: ``wanted`` itself if it covers no text, else the nearest free place
        (by the distance of the centres), or None if the page has no room.
    """
    px1, py1, px2, py2 = _normal(page_box)
    width, height = wanted[2] - wanted[0], wanted[3] - wanted[1]
    edge = min(EDGE, max(0.0, (px2 - px1 - width) / 2), max(0.0, (py2 - py1 - height) / 2))
    low_x, high_x = px1 + edge, px2 - edge - width
    low_y, high_y = py1 + edge, py2 - edge - height
    if high_x < low_x or high_y < low_y:
        return None
    start_x = min(max(wanted[0], low_x), high_x)
    start_y = min(max(wanted[1], low_y), high_y)
    first = (start_x, start_y, start_x + width, start_y + height)
    if not overlaps(first, texts, CLEARANCE):
        return first
    candidates: list[tuple[float, Box]] = []
    steps_x = int((high_x - low_x) // STEP) + 1
    steps_y = int((high_y - low_y) // STEP) + 1
    for i in range(steps_x + 1):
        x = min(low_x + i * STEP, high_x)
        for j in range(steps_y + 1):
            y = min(low_y + j * STEP, high_y)
            box = (x, y, x + width, y + height)
            distance = math.hypot(x - start_x, y - start_y)
            candidates.append((distance, box))
    candidates.sort(key=lambda c: c[0])
    for _distance, box in candidates:
        if not overlaps(box, texts, CLEARANCE):
            return box
    return None
