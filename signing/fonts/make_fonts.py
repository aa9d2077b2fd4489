"""Build tool (not used at runtime): regenerate the stamp fonts shipped in signing/fonts.

pyHanko writes glyph widths in font units instead of thousandths of an em, so a
font with unitsPerEm 2048 (DejaVu Sans, Liberation Serif) is laid out with about
twice the letter spacing. Each font is rescaled once to unitsPerEm 1000, and
subset to what Vietnamese stamps need (Basic Latin, Latin-1, Latin Extended-A/B,
combining diacritics, Latin Extended Additional with the Vietnamese letters,
general punctuation and a few symbols) with its layout tables (``ccmp``,
``mark``, ``mkmk``... for combining marks) kept. pyHanko subsets the embedded
font again for every stamp; a small source font makes that ~10x cheaper.

Usage (from the repository root, with Debian's fonts-dejavu-core and
fonts-liberation2 installed)::

    .venv/bin/python signing/fonts/make_fonts.py

Outputs (committed): ``DejaVuSans-vi-upem1000.ttf`` (stamps) and
``TrinhKySerif-vi-upem1000.ttf``: Liberation Serif 2.1.5 (Times New Roman
metric-compatible, for the attachment stamp of Decree 30/2020), renamed because
the SIL OFL 1.1 reserves the name "Liberation" for unmodified versions. ``DejaVuSans-upem1000.ttf`` (the full
rescaled font, still used by workflow reports) was made by an earlier version of
this script (rescale only). Licences:
``LICENSE-DejaVu.txt`` and ``LICENSE-Liberation.txt`` next to this script.
"""

from __future__ import annotations

import sys
from pathlib import Path

from fontTools import subset
from fontTools.ttLib import TTFont
from fontTools.ttLib.scaleUpem import scale_upem

HERE = Path(__file__).resolve().parent
DEJAVU = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
LIBERATION_SERIF = Path("/usr/share/fonts/truetype/liberation2/LiberationSerif-Regular.ttf")

VIETNAMESE_RANGES: tuple[tuple[int, int], ...] = (
    (0x0020, 0x024F),  # Basic Latin, Latin-1, Latin Extended-A and -B (Ơ ơ Ư ư Đ đ)
    (0x0300, 0x036F),  # combining diacritical marks (decomposed input)
    (0x1E00, 0x1EFF),  # Latin Extended Additional (ạ ả ấ ầ ẩ ẫ ậ ... ỹ)
    (0x2000, 0x206F),  # general punctuation (– — ‘ ’ “ ” … • ‰)
    (0x20AB, 0x20AC),  # đồng and euro signs
    (0x2116, 0x2116),  # numero sign
    (0x2122, 0x2122),  # trade mark
    (0x2190, 0x2193),  # arrows
    (0x2212, 0x2212),  # minus sign
    (0x2605, 0x2606),  # stars
    (0x2713, 0x2714),  # check marks
)
"""Code points kept in the stamp fonts."""


def _codepoints() -> list[int]:
    return [cp for first, last in VIETNAMESE_RANGES for cp in range(first, last + 1)]


def _prepare(source: Path) -> TTFont:
    font = TTFont(source, recalcTimestamp=False)  # reproducible output
    scale_upem(font, 1000)
    if "FFTM" in font:  # FontForge timestamps: the subsetter cannot subset them and logs noise
        del font["FFTM"]
    return font


def _save(font: TTFont, target: Path) -> None:
    tmp = target.with_suffix(".tmp")
    font.save(tmp)
    tmp.replace(target)
    print(
        f"wrote {target.name}: {target.stat().st_size} bytes, unitsPerEm={font['head'].unitsPerEm}"
    )


def _rename(font: TTFont, family: str) -> None:
    """Give a modified font its own family name (the OFL reserves "Liberation")."""
    postscript = family.replace(" ", "") + "-Regular"
    names = {1: family, 3: f"{postscript};subset", 4: f"{family} Regular", 6: postscript}
    table = font["name"]
    for record in list(table.names):
        if record.nameID in (16, 17, 21, 22):
            table.removeNames(nameID=record.nameID)
        elif record.nameID in names:
            record.string = names[record.nameID]


def make_subset(source: Path, target: Path, family: str | None = None) -> None:
    """Rescale ``source`` to unitsPerEm 1000, subset it to Vietnamese and save it.

    :param source: the full TrueType font.
    :param target: where to write the subset font.
    :param family: new family name, for fonts whose licence reserves their name.
    """
    font = _prepare(source)
    options = subset.Options()
    options.layout_features = ["*"]  # keep ccmp/mark/mkmk so combining marks still stack
    options.name_IDs = ["*"]  # keep copyright and licence names (OFL / DejaVu licence)
    options.name_languages = ["*"]
    options.notdef_outline = True
    options.hinting = False  # PDF viewers ignore TrueType hinting; it is half the size
    options.glyph_names = False
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=_codepoints())
    subsetter.subset(font)
    if family is not None:
        _rename(font, family)
    _save(font, target)


def main(argv: list[str]) -> int:
    """Regenerate the shipped fonts.

    :param argv: command line arguments (unused).
    :returns: the process exit code.
    """
    del argv
    make_subset(DEJAVU, HERE / "DejaVuSans-vi-upem1000.ttf")
    make_subset(LIBERATION_SERIF, HERE / "TrinhKySerif-vi-upem1000.ttf", "TrinhKy Serif")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
