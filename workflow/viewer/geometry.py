"""workflow: page geometry for placing stamps (reads the PDF's page boxes)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pyhanko.pdf_utils.reader import PdfFileReader

from signing.stamps import default_box

GAP = 8.0
A4 = (0.0, 0.0, 595.0, 842.0)


def _inherited(page: Any, key: str) -> Any:
    node = page
    for _ in range(64):
        if key in node:
            return node[key]
        if "/Parent" not in node:
            return None
        node = node["/Parent"].get_object()
    return None


def last_page_box(path: Path) -> tuple[float, float, float, float]:
    """:returns: the CropBox (else MediaBox, else A4) of the last page."""
    with path.open("rb") as f:
        reader = PdfFileReader(f, strict=False)
        page = reader.find_page_for_modification(-1)[0].get_object()
        for key in ("/CropBox", "/MediaBox"):
            box = _inherited(page, key)
            if box is not None and len(box) == 4:
                x1, y1, x2, y2 = (float(v) for v in box)
                return (x1, y1, x2, y2)
    return A4


def seal_box(path: Path) -> tuple[float, float, float, float]:
    """:returns: where the organisation's seal stamp goes: left of the signer's stamp."""
    x1, y1, x2, y2 = default_box(last_page_box(path))
    width = x2 - x1
    left = max(x1 - GAP - width, 36.0)
    return (left, y1, left + width, y2)
