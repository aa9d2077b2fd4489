"""Build tool (not used at runtime): regenerate the stamp font shipped in signing/fonts.

pyHanko writes glyph widths in font units instead of thousandths of an em, so a
font with unitsPerEm 2048 (DejaVu Sans) is laid out with about twice the letter
spacing. Rescaling the font once to unitsPerEm 1000 avoids that.

Usage (from the repository root, with fonts-dejavu-core installed)::

    .venv/bin/python signing/fonts/make_fonts.py [/path/to/DejaVuSans.ttf]

The licence of the source font is in ``LICENSE-DejaVu.txt`` next to this script.
"""

from __future__ import annotations

import sys
from pathlib import Path

from fontTools.ttLib import TTFont
from fontTools.ttLib.scaleUpem import scale_upem

SOURCE = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
TARGET = Path(__file__).resolve().parent / "DejaVuSans-upem1000.ttf"


def main(argv: list[str]) -> int:
    """Rescale the source font to unitsPerEm 1000 and write it next to this script.

    :param argv: command line arguments; an optional path to DejaVuSans.ttf.
    :returns: the process exit code.
    """
    source = Path(argv[1]) if len(argv) > 1 else SOURCE
    font = TTFont(source)
    scale_upem(font, 1000)
    if "FFTM" in font:  # FontForge timestamps: the subsetter cannot subset them and logs noise
        del font["FFTM"]
    tmp = TARGET.with_suffix(".tmp")
    font.save(tmp)
    tmp.replace(TARGET)
    print(f"wrote {TARGET} (unitsPerEm={font['head'].unitsPerEm})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
