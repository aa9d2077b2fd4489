"""workflow: appendices (phụ lục) merged behind a document's main text, each first page
marked at the top right like Decree 30's attachment stamp (Times, 10 pt), so that the
one signature of the competent person (and the seal) covers every page.

Why merged pages rather than embedded files (PDF associated files): a validator
(pdfsig, pyHanko, the EU DSS) reports coverage of the byte range, the same for both;
but clerks print, page through and forward the PDF, and embedded files are invisible
there (a paperclip panel some viewers lack, never printed, not rendered by our page
viewer, not in ``pdftotext`` and so not searchable). Merged pages are seen by every
reader, and each appendix's original file is kept beside the document for download.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

from pypdf import PdfReader, PdfWriter
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas

from signing.stamps import ATTACHMENT_MARGIN, ATTACHMENT_SIZE, SERIF_FONT_PATH

_FONT = "TrinhKySerifAppendix"


@dataclass(frozen=True)
class Part:
    """One appendix to merge."""

    pdf: Path
    label: str
    """The first line of its mark, e.g. ``'Phụ lục 1'``."""


@dataclass(frozen=True)
class Placed:
    """Where an appendix landed in the merged PDF."""

    first_page: int
    """1-based."""
    pages: int


def _font() -> str:
    if _FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont(_FONT, str(SERIF_FONT_PATH)))
    return _FONT


def _mark(width: float, height: float, lines: Sequence[str]) -> PdfReader:
    font = _font()
    out = BytesIO()
    page = canvas.Canvas(out, pagesize=(width, height))
    page.setFont(font, ATTACHMENT_SIZE)
    leading = ATTACHMENT_SIZE * 1.25
    text_width = max(pdfmetrics.stringWidth(line, font, ATTACHMENT_SIZE) for line in lines)
    x = width - ATTACHMENT_MARGIN - text_width - 4
    y = height - ATTACHMENT_MARGIN - leading
    box_h = leading * len(lines) + 4
    page.setLineWidth(0.6)
    page.rect(x - 4, y - box_h + leading + 1, text_width + 8, box_h)
    for line in lines:
        page.drawString(x, y + 2, line)
        y -= leading
    page.save()
    return PdfReader(BytesIO(out.getvalue()))


def merge(main: Path, parts: Sequence[Part], document_line: str, out: Path) -> list[Placed]:
    """Write ``main`` followed by every part's pages to ``out``; mark each part's first
    page with its label and ``document_line`` (what it accompanies).

    :returns: where each part starts, in order.
    """
    writer = PdfWriter(clone_from=str(main))
    placed: list[Placed] = []
    for part in parts:
        reader = PdfReader(str(part.pdf))
        if reader.is_encrypted:
            reader.decrypt("")
        first = len(writer.pages)
        writer.append(reader)
        page = writer.pages[first]
        box = page.mediabox
        mark = _mark(float(box.width), float(box.height), [part.label, document_line])
        page.merge_translated_page(mark.pages[0], float(box.left), float(box.bottom))
        placed.append(Placed(first + 1, len(reader.pages)))
    with out.open("wb") as fh:
        writer.write(fh)
    return placed
