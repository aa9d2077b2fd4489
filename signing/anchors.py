"""Signing layer: find where a stamp goes from the page text (anchors); the boxes of pages
and existing fields are read by :mod:`signing.pages`.

Text positions come from pypdf's content-stream visitor (pure Python). A PDF's
text is split into chunks arbitrarily by the producing software, so chunks are
grouped into lines by baseline and the anchor is searched in each line with
Unicode normalisation, case folding and collapsed spaces. Widths are estimated
(half the font size per character) where the PDF does not say.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pypdf import PdfReader

Box = tuple[float, float, float, float]

_LINE_TOLERANCE = 2.5
_MAX_PAGES = 200


@dataclass(frozen=True)
class AnchorHit:
    """Where an anchor text was found."""

    page: int
    """Page index (0-based)."""
    x1: float
    """Left end of the match, in PDF points."""
    x2: float
    """Right end of the match (estimated), in PDF points."""
    baseline: float
    """Baseline of the matching line, in PDF points."""
    font_size: float
    """Effective font size of the line, in points."""


@dataclass(frozen=True)
class _Chunk:
    x: float
    y: float
    size: float
    text: str


def _normalise(text: str) -> str:
    return re.sub(r"\s+", " ", unicodedata.normalize("NFC", text)).casefold().strip()


def _chunks(page: Any) -> list[_Chunk]:
    chunks: list[_Chunk] = []

    def visit(text: str, cm: Any, tm: Any, font_dict: Any, font_size: float) -> None:
        del font_dict
        if not text or not text.strip():
            return
        x = tm[4] * cm[0] + tm[5] * cm[2] + cm[4]
        y = tm[4] * cm[1] + tm[5] * cm[3] + cm[5]
        scale = abs(tm[3] * cm[3]) or abs(tm[0] * cm[0]) or 1.0
        chunks.append(_Chunk(x, y, float(font_size) * scale, text.replace("\n", " ")))

    page.extract_text(visitor_text=visit)
    return chunks


def _lines(chunks: list[_Chunk]) -> list[list[_Chunk]]:
    lines: list[list[_Chunk]] = []
    for chunk in sorted(chunks, key=lambda c: (-c.y, c.x)):
        if lines and abs(lines[-1][0].y - chunk.y) <= _LINE_TOLERANCE:
            lines[-1].append(chunk)
        else:
            lines.append([chunk])
    return [sorted(line, key=lambda c: c.x) for line in lines]


def _match(line: list[_Chunk], needle: str) -> tuple[float, float] | None:
    """x-range of ``needle`` in a line of chunks, or None."""
    text = ""
    starts: list[tuple[int, _Chunk]] = []
    for chunk in line:
        if text and not text.endswith(" ") and not chunk.text.startswith(" "):
            gap_ok = chunk.x - (
                starts[-1][1].x + len(starts[-1][1].text) * starts[-1][1].size * 0.5
            )
            if gap_ok > starts[-1][1].size * 0.2:
                text += " "
        starts.append((len(text), chunk))
        text += chunk.text
    norm = _normalise(text)
    at = norm.find(needle)
    if at < 0:
        return None
    end = at + len(needle)
    first = next(c for i, c in reversed(starts) if i <= at)
    last = next(c for i, c in reversed(starts) if i < end)
    last_start = next(i for i, c in starts if c is last)
    per_char = first.size * 0.5
    x1 = first.x + max(0, at - next(i for i, c in starts if c is first)) * per_char
    x2 = last.x + (end - last_start) * last.size * 0.5
    return x1, max(x2, x1 + per_char)


def find_anchor(path: Path, anchor: str, *, page: int | None = None) -> AnchorHit | None:
    """Find the last occurrence of ``anchor`` (e.g. the signer's title) in the page text.

    :param path: the PDF.
    :param anchor: the text to find; case, spacing and Unicode form are ignored.
    :param page: search only this page (negative counts from the end); None searches
        every page (up to 200) and returns the last hit, nearest the signature block.
    :returns: the hit, or None if the text is not found or not extractable.
    """
    found = find_first_anchor(path, (anchor,), page=page)
    return found[1] if found is not None else None


def find_first_anchor(
    path: Path, anchors: Sequence[str], *, page: int | None = None
) -> tuple[int, AnchorHit] | None:
    """:func:`find_anchor` for several anchors in order of preference, reading the text
    once: the first anchor found, and its hit (its last occurrence).

    :param path: the PDF.
    :param anchors: the texts to find, preferred first (empty ones are skipped).
    :param page: as for :func:`find_anchor`.
    :returns: ``(index in anchors, hit)``, or None if none is found or the text is not
        extractable.
    """
    needles = [(i, n) for i, n in enumerate(_normalise(a) for a in anchors) if n]
    if not needles:
        return None
    try:
        reader = PdfReader(path, strict=False)
        if reader.is_encrypted and not reader.decrypt(""):
            return None
        count = len(reader.pages)
        indexes = [page % count] if page is not None else list(range(min(count, _MAX_PAGES)))
        pages = [(ix, _lines(_chunks(reader.pages[ix]))) for ix in indexes]
    except Exception:  # noqa: BLE001 - an unreadable text layer just means "no anchor"
        return None
    for index, needle in needles:
        hit: AnchorHit | None = None
        for ix, lines in pages:
            for line in lines:
                found = _match(line, needle)
                if found is not None:
                    size = max(c.size for c in line)
                    hit = AnchorHit(ix, found[0], found[1], line[0].y, size)
        if hit is not None:
            return index, hit
    return None


def box_below(hit: AnchorHit, width: float, height: float, gap: float = 4.0) -> Box:
    """A stamp box centred under an anchor hit.

    :param hit: where the anchor is.
    :param width: stamp width in points.
    :param height: stamp height in points.
    :param gap: space between the anchor's descenders and the box.
    :returns: ``(x1, y1, x2, y2)`` in PDF points.
    """
    centre = (hit.x1 + hit.x2) / 2
    top = hit.baseline - 0.3 * hit.font_size - gap
    return (centre - width / 2, top - height, centre + width / 2, top)
