"""Signing layer: the document's own "Số:" and date lines, and the appearance that writes
the issued number and date into them.

A Party or administrative document prints its number line ("Số: ……/QĐ-BTG", "Số 12-
CV/ĐUK" with blanks) and its place-and-date line ("Hà Nội, ngày … tháng … năm …") at
the top of the first page, for the clerk to fill at issuance. Both are found in the page
text as read by PDFium (the ``pypdfium2`` wheel the viewer already uses), character by
character, so the blanks (dots, ellipses, underscores or plain spaces) have their real
positions. The page itself is never changed: the number and date are drawn as the
appearance of a new signature field (an incremental update that earlier approval
signatures allow as form filling), see :class:`FillStampStyle`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from pyhanko.pdf_utils import layout
from pyhanko.pdf_utils.content import ResourceType
from pyhanko.pdf_utils.generic import pdf_name
from pyhanko.pdf_utils.writer import BasePdfFileWriter
from pyhanko.stamp.base import BaseStamp, BaseStampStyle

from signing.fontcache import FastGlyphAccumulator, stamp_font
from signing.pdfium_guard import PDFIUM_LOCK
from signing.stamps import SERIF_FONT_PATH, VIETNAM_TZ, text_width

Box = tuple[float, float, float, float]

_BLANK = " \t\u00a0.…_"
_NUMBER_RE = re.compile(rf"(?<![^\s])(S[ốỐ])(?:\s*:)?([{_BLANK}]*)([^\s{_BLANK}]*)", re.IGNORECASE)
_DATE_RE = re.compile(rf"ngày([{_BLANK}\d]*)tháng([{_BLANK}\d]*)năm([{_BLANK}\d]*)", re.IGNORECASE)
_DOTS = set(".…_")
_HEADER_PART = 0.45
"""The number and date lines are looked for in this top part of the page only."""
_FAR = 6.0
"""An unprinted blank wider than this many font sizes ends the line: what follows is
another column (the date line printed level with the number line)."""
_OPEN_WIDTH = 4.0
"""Writing after a label with nothing printed behind it starts this many points after it."""


@dataclass(frozen=True)
class Blank:
    """A blank on a line of the page, to be written into."""

    x1: float
    """Left end (right of the label before it), in PDF points."""
    x2: float
    """Right end (left of the text after it, or the label's end when nothing follows)."""
    baseline: float
    """Baseline of the line, in PDF points."""
    size: float
    """Font size of the line, in points."""
    dotted: bool
    """Whether the blank is printed (dots, ellipses, underscores): it is covered."""
    open_end: bool
    """Nothing follows on the line: the text starts at :attr:`x1` instead of centred."""


@dataclass(frozen=True)
class Header:
    """The number and date lines found on a page."""

    page: int
    """Page index (0-based)."""
    number: Blank
    """The blank after "Số:"."""
    suffix: str
    """What the template prints right after the blank (e.g. ``'/QĐ-BTG'``), or ''."""
    suffix_x2: float
    """Right end of :attr:`suffix` (= ``number.x2`` when there is none)."""
    day: Blank | None = None
    """The blank after "ngày" (None: no date line, or the day is printed)."""
    month: Blank | None = None
    """The blank after "tháng"."""
    year: Blank | None = None
    """The blank after "năm" (None also when the year is printed)."""


@dataclass(frozen=True)
class Fill:
    """One piece of text written on the page, in the field's own coordinates."""

    text: str
    """What is written."""
    x: float
    """Left end of the text."""
    baseline: float
    """Baseline."""
    size: float
    """Font size in points."""
    cover: Box | None = None
    """A white rectangle drawn first, over the printed dots the text replaces."""


def _chars(path: Path, page: int) -> tuple[str, list[Box], list[float], float] | None:
    """The page text with one box and one font size per character, and the page's top
    edge, or None."""
    import pypdfium2 as pdfium  # loads PDFium: only when a document is issued
    import pypdfium2.raw as pdfium_c

    with PDFIUM_LOCK:  # not thread-safe: see signing.pdfium_guard
        try:
            pdf = pdfium.PdfDocument(str(path))
        except pdfium.PdfiumError:
            return None
        try:
            pdf_page = pdf[page]
            textpage = pdf_page.get_textpage()
            count = textpage.count_chars()
            text = textpage.get_text_range(0, count)
            if len(text) != count:  # characters outside the BMP: positions would not match
                return None
            boxes = [textpage.get_charbox(i) for i in range(count)]
            sizes = [float(pdfium_c.FPDFText_GetFontSize(textpage.raw, i)) for i in range(count)]
            height = float(pdf_page.get_height())
            # Closed here, under the lock, not by a finalizer in another thread's time.
            textpage.close()
            pdf_page.close()
            return text, boxes, sizes, height
        except (pdfium.PdfiumError, IndexError):
            return None
        finally:
            pdf.close()


def _blank(
    text: str,
    boxes: list[Box],
    sizes: list[float],
    label: tuple[int, int],
    start: int,
    end: int,
) -> Blank:
    """The blank ``text[start:end]`` after the label ``text[label[0]:label[1]]``."""
    last = boxes[label[1] - 1]
    size = sizes[label[1] - 1] or 11.0
    # the baseline: the lowest letters of the label sit on it (ignore descenders)
    baseline = max(boxes[i][1] for i in range(*label) if not text[i].isspace())
    follows = end < len(text) and text[end] not in "\r\n" and not text[end].isspace()
    dots = [i for i in range(start, end) if text[i] in _DOTS]
    if follows and not dots and boxes[end][0] - last[2] > _FAR * size:
        follows = False  # text far away on the same line belongs to another column
    if follows:
        x2 = boxes[end][0]
    elif dots:
        x2 = boxes[dots[-1]][2]
    else:
        x2 = last[2]
    return Blank(
        x1=last[2],
        x2=max(x2, last[2]),
        baseline=baseline,
        size=size,
        dotted=bool(dots),
        open_end=not follows,
    )


def find_header(path: Path, page: int = 0) -> Header | None:
    """Find the "Số:" line (and the "ngày … tháng … năm …" line) on a page.

    :param path: the PDF.
    :param page: the page to search (the first by default).
    :returns: the blanks found, or None when the page has no "Số" followed by a blank,
        or when its text cannot be read.
    """
    read = _chars(path, page)
    if read is None:
        return None
    text, boxes, sizes, height = read
    header_top = height * (1 - _HEADER_PART)
    for number in _NUMBER_RE.finditer(text):
        if boxes[number.start(1)][1] < header_top:
            continue  # the body's text: the number line is in the page's header
        found = _number_line(text, boxes, sizes, number)
        if found is not None:
            break
    else:
        return None
    blank, suffix, suffix_x2 = found
    for date in _DATE_RE.finditer(text):
        if boxes[date.start()][1] < header_top:
            continue
        blanks: list[Blank | None] = []
        label_start = date.start()
        for group in (1, 2, 3):
            start, end = date.span(group)
            if any(c.isdigit() for c in text[start:end]):
                blanks.append(None)  # printed already
            else:
                blanks.append(_blank(text, boxes, sizes, (label_start, start), start, end))
            label_start = end
        if any(b is not None for b in blanks):
            day, month, year = blanks
            return Header(page, blank, suffix, suffix_x2, day, month, year)
    return Header(page, blank, suffix, suffix_x2)


def _number_line(
    text: str, boxes: list[Box], sizes: list[float], number: re.Match[str]
) -> tuple[Blank, str, float] | None:
    """The blank of a "Số" match and the symbol's printed rest after it, or None when the
    match is not a number line ("Số lượng", "Số 12-CV/ĐUK" already numbered)."""
    suffix = number.group(3)
    if suffix and suffix[0].isdigit():
        return None
    label_end = number.start(2)
    colon = text[number.end(1) : label_end].strip() == ":"
    while text[label_end - 1].isspace():
        label_end -= 1
    blank = _blank(text, boxes, sizes, (number.start(1), label_end), label_end, number.end(2))
    symbol_rest = any(c in "-/" for c in suffix)
    if not (colon or blank.dotted or blank.open_end or symbol_rest):
        return None  # "Số lượng", "Số điện thoại": a word, not a blank to fill
    if not number.group(2) and suffix:  # "Số:/QĐ-BTG" has no room to write in
        blank = Blank(blank.x1, blank.x1, blank.baseline, blank.size, False, False)
    if blank.open_end or not symbol_rest:
        suffix = ""  # "Số:" with nothing behind it, or the next column's words
    suffix_x2 = boxes[number.end(3) - 1][2] if suffix else blank.x2
    return blank, suffix, suffix_x2


def _norm(text: str) -> str:
    return re.sub(r"\s+", "", text).casefold()


def _in_blank(text: str, blank: Blank) -> tuple[float, float]:
    """``(x, width)`` of ``text`` written into ``blank``: centred between the words
    around it, or a little after the label when nothing follows."""
    width = text_width(text, "attachment") * blank.size / 10.0
    if blank.open_end:
        return blank.x1 + _OPEN_WIDTH, width
    return blank.x1 + (blank.x2 - blank.x1 - width) / 2, width


def _cover(blank: Blank, x2: float | None = None) -> Box:
    """The white rectangle over a printed blank (up to the text after it, which stays), or
    over a blank and the template's suffix up to ``x2`` (both replaced)."""
    right = blank.x2 - 0.5 if x2 is None else x2 + 1.0
    return (
        blank.x1 + 0.5,
        blank.baseline - 0.25 * blank.size,
        right,
        blank.baseline + 0.78 * blank.size,
    )


def header_fills(header: Header, symbol: str, issued_at: datetime) -> list[tuple[Fill, Box]]:
    """What to write where, in page coordinates, with each piece's extent.

    The number goes into the "Số:" blank: only the number when the template already
    prints the rest of the symbol after it (``'…-CV/ĐUK'`` and ``'01-CV/ĐUK'``), else the
    whole symbol over the blank and the template's own suffix (covered). The date is
    written as Decree 30 has it: day and month with two digits below 10 and 3.

    :param header: from :func:`find_header`.
    :param symbol: the number and symbol given at issuance, e.g. ``'01-QĐ/BTG'``.
    :param issued_at: the issuance time (shown in Vietnam time).
    :returns: pairs of the fill (page coordinates) and its extent ``(x1, y1, x2, y2)``.
    """
    fills: list[tuple[Fill, Box]] = []
    blank = header.number
    suffix = header.suffix
    if suffix and _norm(symbol).endswith(_norm(suffix)) and len(_norm(symbol)) > len(_norm(suffix)):
        head = symbol[: len(symbol) - len(suffix)].rstrip() if symbol.endswith(suffix) else None
        if head is None:  # same symbol with other spacing: cut by characters kept
            kept = len(_norm(symbol)) - len(_norm(suffix))
            head = symbol.replace(" ", "")[:kept]
        text, cover = head, (_cover(blank) if blank.dotted else None)
        x, width = _in_blank(text, blank)
        x = max(x, blank.x2 - width)  # against the printed rest of the symbol: "07-CV/ĐUK"
    else:
        text = symbol
        closed = Blank(blank.x1, header.suffix_x2, blank.baseline, blank.size, True, True)
        cover = _cover(closed, header.suffix_x2) if (blank.dotted or suffix) else None
        x, width = _in_blank(text, closed)
    fills.append(_fill(text, x, width, blank, cover))
    local = issued_at.astimezone(VIETNAM_TZ)
    parts = (
        (header.day, f"{local.day:02d}"),
        (header.month, f"{local.month:02d}" if local.month < 3 else str(local.month)),
        (header.year, str(local.year)),
    )
    for part, value in parts:
        if part is None:
            continue
        x, width = _in_blank(value, part)
        fills.append(_fill(value, x, width, part, _cover(part) if part.dotted else None))
    return fills


def _fill(text: str, x: float, width: float, blank: Blank, cover: Box | None) -> tuple[Fill, Box]:
    extent = (x, blank.baseline - 0.3 * blank.size, x + width, blank.baseline + 0.9 * blank.size)
    if cover is not None:
        extent = (
            min(extent[0], cover[0]),
            min(extent[1], cover[1]),
            max(extent[2], cover[2]),
            max(extent[3], cover[3]),
        )
    return Fill(text, x, blank.baseline, blank.size, cover), extent


def field_box(fills: list[tuple[Fill, Box]]) -> tuple[Box, tuple[Fill, ...]]:
    """The signature field's rectangle (whole points, around every fill) and the fills
    moved into its coordinates.

    :param fills: from :func:`header_fills`.
    :returns: the rectangle on the page and the fills relative to its lower left corner.
    """
    x1 = math.floor(min(e[0] for _, e in fills)) - 1
    y1 = math.floor(min(e[1] for _, e in fills)) - 1
    x2 = math.ceil(max(e[2] for _, e in fills)) + 1
    y2 = math.ceil(max(e[3] for _, e in fills)) + 1
    moved = tuple(
        Fill(
            f.text,
            f.x - x1,
            f.baseline - y1,
            f.size,
            None
            if f.cover is None
            else (f.cover[0] - x1, f.cover[1] - y1, f.cover[2] - x1, f.cover[3] - y1),
        )
        for f, _ in fills
    )
    return (x1, y1, x2, y2), moved


@dataclass(frozen=True)
class FillStampStyle(BaseStampStyle):
    """pyHanko stamp style writing text at given places (no border, no background):
    the appearance of the number-and-date signature field."""

    fills: tuple[Fill, ...] = ()
    """What to write, in the field's coordinates."""
    border_width: int = 0
    """No border: the text belongs to the page's own lines."""

    def create_stamp(
        self, writer: BasePdfFileWriter, box: layout.BoxConstraints, text_params: dict[str, Any]
    ) -> _FillStamp:
        """Create the stamp for the field.

        :param writer: the PDF writer.
        :param box: the field's size.
        :param text_params: ignored (the text is in :attr:`fills`).
        :returns: the stamp.
        """
        del text_params
        return _FillStamp(writer=writer, style=self, box=box)


class _FillStamp(BaseStamp):
    """White covers first, then the text in the document's serif face, black."""

    def _render_inner_content(self) -> list[bytes]:
        fills: tuple[Fill, ...] = self.style.fills
        ops: list[bytes] = []
        covers = [f.cover for f in fills if f.cover is not None]
        if covers:
            ops.append(b"q 1 g")
            ops += [b"%g %g %g %g re" % (c[0], c[1], c[2] - c[0], c[3] - c[1]) for c in covers]
            ops.append(b"f Q")
        engine = FastGlyphAccumulator(self.writer, stamp_font(str(SERIF_FONT_PATH)), 10)
        self.set_resource(
            category=ResourceType.FONT, name=pdf_name("/TkF"), value=engine.as_resource()
        )
        ops.append(b"q 0 g BT")
        for fill in fills:
            engine.font_size = round(fill.size)  # the Tf operator carries the exact size
            shaped = engine.shape(fill.text)
            ops.append(
                b"/TkF %g Tf 1 0 0 1 %g %g Tm %s"
                % (fill.size, fill.x, fill.baseline, shaped.graphics_ops)
            )
        ops.append(b"ET Q")
        return ops
