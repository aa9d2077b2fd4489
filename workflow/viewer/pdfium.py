"""Render one PDF page to PNG with pdfium (the ``pypdfium2`` wheel): the page viewer's
renderer when neither poppler-utils nor mupdf-tools is installed.

Run as a script in a child process (``python pdfium.py SRC INDEX SIZE OUT``),
never imported by the server: a hostile PDF may crash or exhaust the renderer, and the
parent bounds the child's time and memory (see :mod:`workflow.viewer.render`).
"""

from __future__ import annotations

import sys


def main(argv: list[str]) -> int:
    import pypdfium2 as pdfium

    source, index, size, out = argv[0], int(argv[1]), int(argv[2]), argv[3]
    pdf = pdfium.PdfDocument(source)
    try:
        page = pdf[index]
        width, height = page.get_size()  # the crop box, in points, rotation applied
        scale = size / max(width, height, 1.0)
        bitmap = page.render(scale=scale, may_draw_forms=True)
        bitmap.to_pil().save(out, format="PNG")
    finally:
        pdf.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
