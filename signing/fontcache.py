"""Signing layer: embed stamp fonts fast (layout tables stripped once, subsets cached).

pyHanko's ``GlyphAccumulator`` parses the font and runs fontTools' subsetter for
every stamp. fontTools 4.68 decompiles the whole ``GSUB``/``GPOS`` tables before it
drops them (pyHanko drops them: a PDF font program needs no layout tables), which
was most of the 45 ms a visible stamp cost; recomputing every bounding box on
save was most of the rest. Here:

- HarfBuzz still shapes with the full font (marks positioned by ``GPOS``);
- the font program that fontTools parses and subsets is a copy without
  ``GSUB``/``GPOS``/``GDEF``, made once per font, and parsed once per process for
  the metrics every stamp reads (names, widths, descriptor), never modified;
- the compressed subset is kept in a small LRU cache keyed by font and glyph set
  (a miss subsets a fresh parse of the program). The subset always holds the
  digits, so a signer's stamps (same name, title and unit, another date and
  time) reuse one subset.
"""

from __future__ import annotations

import threading
import zlib
from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache
from io import BytesIO
from pathlib import Path
from typing import Any

import uharfbuzz as hb
from fontTools import subset, ttLib
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.font.api import FontEngine
from pyhanko.pdf_utils.font.opentype import CIDFontType2, GlyphAccumulator
from pyhanko.pdf_utils.generic import pdf_name

_LAYOUT_TABLES = ("GSUB", "GPOS", "GDEF", "MATH")
"""Tables HarfBuzz uses but a PDF font program does not (pyHanko drops the first three
from the embedded subset; ``MATH`` only costs subsetting time)."""
_ALWAYS_EMBEDDED = "0123456789"
"""Characters always put in a subset, so that stamps differing only in their
date and time share one cached subset."""
SUBSET_CACHE_SIZE = 64
"""Font subsets kept per process (each a few kilobytes compressed)."""


@dataclass(frozen=True)
class StampFont:
    """A stamp font prepared once per process."""

    path: str
    """Where the font was read from (the cache key)."""
    full: bytes
    """The font file as shipped (HarfBuzz shapes with it)."""
    program: bytes
    """The same font without layout tables (what is subset and embedded)."""
    parsed: ttLib.TTFont
    """:attr:`program` parsed, its tables loaded: read-only, shared by all stamps."""
    postscript_name: str
    """The PostScript name (``name`` ID 6)."""
    face: hb.Face
    """The HarfBuzz face of :attr:`full` (immutable, shareable)."""


@lru_cache(maxsize=8)
def stamp_font(path: str) -> StampFont:
    """Read a TrueType font and make its layout-free copy, once per process.

    :param path: the font file.
    :returns: both versions of the font and the shared parse.
    :raises ValueError: the font is not TrueType (a CFF font program).
    """
    full = Path(path).read_bytes()
    tt = ttLib.TTFont(BytesIO(full))
    if "glyf" not in tt:
        raise ValueError(f"{path}: only TrueType (glyf) stamp fonts are supported")
    for tag in _LAYOUT_TABLES:
        if tag in tt:
            del tt[tag]
    out = BytesIO()
    tt.save(out)
    program = out.getvalue()
    parsed = ttLib.TTFont(BytesIO(program))
    for tag in parsed.keys():  # load every table now, not lazily from several threads
        parsed[tag]  # noqa: B018
    parsed.getGlyphSet(preferCFF=True)
    parsed.getReverseGlyphMap()
    names = parsed["name"]
    postscript_name = next(n.toUnicode() for n in names.names if n.nameID == 6)
    return StampFont(
        path=path,
        full=full,
        program=program,
        parsed=parsed,
        postscript_name=postscript_name,
        face=hb.Face(full),
    )


class _SubsetCache:
    """A thread-safe LRU map from (font, glyph ids) to a compressed font program."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[tuple[str, frozenset[int]], bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[str, frozenset[int]]) -> bytes | None:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: tuple[str, frozenset[int]], value: bytes) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


SUBSETS = _SubsetCache(SUBSET_CACHE_SIZE)
"""The process-wide subset cache (``SUBSETS.clear()`` empties it)."""


class _CachedCIDFontType2(CIDFontType2):
    """A ``/CIDFontType2`` whose font program comes from :data:`SUBSETS`."""

    def __init__(self, owner: FastGlyphAccumulator, base_ps_name: str, prefix: str) -> None:
        super().__init__(owner.tt, base_ps_name, prefix)
        self._owner = owner

    def set_font_file(self, writer: Any) -> generic.IndirectObject:
        """Add the (cached) compressed subset to ``writer`` and point the descriptor at it."""
        data = self._owner.compressed_program()
        font_stream = generic.StreamObject(
            {pdf_name("/Filter"): pdf_name("/FlateDecode")}, encoded_data=data
        )
        font_stream_ref: generic.IndirectObject = writer.add_object(font_stream)
        self._font_descriptor[pdf_name("/FontFile2")] = font_stream_ref
        return font_stream_ref


class FastGlyphAccumulator(GlyphAccumulator):
    """pyHanko's glyph accumulator on a shared parsed font, with cached subsets.

    ``__init__`` does what pyHanko 0.38's ``GlyphAccumulator.__init__`` does for a
    TrueType font, without parsing the font again; the rest is pyHanko's.
    """

    def __init__(
        self,
        writer: Any,
        font: StampFont,
        font_size: float,
        features: Any = None,
        ot_language_tag: str | None = None,
        ot_script_tag: str | None = None,
        writing_direction: str | None = None,
        bcp47_lang_code: str | None = None,
        obj_stream: Any = None,
    ) -> None:
        """Create the accumulator for one stamp.

        :param writer: the PDF writer the font is embedded into.
        :param font: the prepared font, see :func:`stamp_font`.
        :param font_size: the text size.
        :param features: OpenType features for HarfBuzz.
        :param ot_language_tag: OpenType language tag.
        :param ot_script_tag: OpenType script tag.
        :param writing_direction: ``'ltr'``, ``'rtl'``, ``'ttb'`` or ``'btt'``.
        :param bcp47_lang_code: language of the text, marked in the content stream.
        :param obj_stream: optional object stream for the font's objects.
        """
        FontEngine.__init__(
            self,
            writer,
            font.postscript_name,
            embedded_subset=True,
            obj_stream=obj_stream,
            font_size=font_size,  # type: ignore[arg-type]
        )
        self.hb_font = hb.Font(font.face)
        self.tt = font.parsed
        self._font = font
        self._program: bytes | None = None
        self._font_ref = writer.allocate_placeholder()
        self.cff_charset = None
        self.use_raw_gids = True
        self.cidfont_obj = _CachedCIDFontType2(self, font.postscript_name, str(self.subset_prefix))
        self.features = features
        self.units_per_em = font.parsed["head"].unitsPerEm
        self._glyphs = {}
        self._glyph_set = font.parsed.getGlyphSet(preferCFF=True)
        self._cid_to_unicode = {}
        self._GlyphAccumulator__reverse_cmap = None
        for tag in (ot_language_tag, ot_script_tag):
            if tag is not None and (len(tag) != 4 or not tag.isascii()):
                raise ValueError("OpenType tags must be 4 ASCII characters")
        self.ot_language_tag = ot_language_tag
        self.ot_script_tag = ot_script_tag
        if writing_direction not in (None, "ltr", "rtl", "ttb", "btt"):
            raise ValueError("Writing direction must be one of 'ltr', 'rtl', 'ttb' or 'btt'.")
        self.writing_direction = writing_direction
        self.bcp47_lang_code = bcp47_lang_code
        self._subset_created = self._write_prepared = False

    def _subset_gids(self) -> frozenset[int]:
        """The glyphs used so far, plus the digits."""
        gids = set(self._glyphs)
        cmap = self.tt.getBestCmap() or {}
        for char in _ALWAYS_EMBEDDED:
            name = cmap.get(ord(char))
            if name is not None:
                gids.add(self.tt.getGlyphID(name))
        return frozenset(gids)

    def _extract_subset(self, options: subset.Options | None = None) -> None:
        """Subset a fresh parse of the font program (or take the subset from the cache)."""
        key = (self._font.path, self._subset_gids())
        program = SUBSETS.get(key)
        if program is None:
            opts = subset.Options(layout_closure=False)
            opts.drop_tables += list(_LAYOUT_TABLES)
            opts.retain_gids = True  # CIDs are glyph ids (/CIDToGIDMap /Identity)
            subsetter = subset.Subsetter(options=opts)
            subsetter.populate(gids=sorted(key[1]))
            # A fresh parse (the shared one stays intact); bounding boxes are kept
            # from the full font (a valid superset) instead of being recomputed.
            own = ttLib.TTFont(
                BytesIO(self._font.program), recalcBBoxes=False, recalcTimestamp=False
            )
            subsetter.subset(own)
            out = BytesIO()
            own.save(out)
            program = zlib.compress(out.getvalue())
            SUBSETS.put(key, program)
        self._program = program

    def compressed_program(self) -> bytes:
        """The FlateDecode-compressed font subset, after :meth:`prepare_write` subset it."""
        if self._program is None:
            self._extract_subset()
        assert self._program is not None  # noqa: S101 - set by _extract_subset
        return self._program
