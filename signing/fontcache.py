"""Signing layer: embed stamp fonts fast (layout tables stripped once, subsets cached).

pyHanko's ``GlyphAccumulator`` parses the font and runs fontTools' subsetter for
every stamp. fontTools 4.68 decompiles the whole ``GSUB``/``GPOS`` tables before it
drops them (pyHanko drops them: a PDF font program needs no layout tables), which
was most of the 45 ms a visible stamp cost. Here:

- HarfBuzz still shapes with the full font (marks positioned by ``GPOS``);
- the font program that fontTools parses and subsets is a copy without
  ``GSUB``/``GPOS``/``GDEF``, made once per font;
- the compressed subset is kept in a small LRU cache keyed by font and glyph set.
  The subset always holds the digits, so a signer's stamps (same name, title and
  unit, another date and time) reuse one subset.
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
from pyhanko.pdf_utils.font.opentype import CIDFontType2, GlyphAccumulator
from pyhanko.pdf_utils.generic import pdf_name

_LAYOUT_TABLES = ("GSUB", "GPOS", "GDEF")
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
    """The same font without layout tables (fontTools parses and subsets it)."""


@lru_cache(maxsize=8)
def stamp_font(path: str) -> StampFont:
    """Read a TrueType font and make its layout-free copy, once per process.

    :param path: the font file.
    :returns: both versions of the font.
    """
    full = Path(path).read_bytes()
    tt = ttLib.TTFont(BytesIO(full))
    for tag in _LAYOUT_TABLES:
        if tag in tt:
            del tt[tag]
    out = BytesIO()
    tt.save(out)
    return StampFont(path=path, full=full, program=out.getvalue())


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
    """pyHanko's glyph accumulator with a layout-free font program and cached subsets.

    Only TrueType (``glyf``) fonts are accelerated; CFF fonts behave as in pyHanko.
    """

    def __init__(self, writer: Any, font: StampFont, font_size: float, **kwargs: Any) -> None:
        """Create the accumulator for one stamp.

        :param writer: the PDF writer the font is embedded into.
        :param font: the prepared font, see :func:`stamp_font`.
        :param font_size: the text size.
        :param kwargs: further :class:`GlyphAccumulator` arguments.
        """
        super().__init__(writer, BytesIO(font.program), font_size, **kwargs)
        self.hb_font = hb.Font(hb.Face(font.full))  # shape with GSUB/GPOS
        self._font = font
        self._program: bytes | None = None
        if isinstance(self.cidfont_obj, CIDFontType2):
            base_ps_name = self.cidfont_obj.name.split("+", 1)[-1]
            self.cidfont_obj = _CachedCIDFontType2(self, base_ps_name, str(self.subset_prefix))

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
        """Subset the font program (or take it from the cache)."""
        if not isinstance(self.cidfont_obj, _CachedCIDFontType2):
            super()._extract_subset(options)
            return
        key = (self._font.path, self._subset_gids())
        program = SUBSETS.get(key)
        if program is None:
            opts = subset.Options(layout_closure=False)
            opts.drop_tables += list(_LAYOUT_TABLES)
            opts.retain_gids = True  # CIDs are glyph ids (/CIDToGIDMap /Identity)
            subsetter = subset.Subsetter(options=opts)
            subsetter.populate(gids=sorted(key[1]))
            subsetter.subset(self.tt)
            out = BytesIO()
            self.tt.save(out)
            program = zlib.compress(out.getvalue())
            SUBSETS.put(key, program)
        self._program = program

    def compressed_program(self) -> bytes:
        """The FlateDecode-compressed font subset, after :meth:`prepare_write` subset it."""
        if self._program is None:
            self._extract_subset()
        assert self._program is not None  # noqa: S101 - set by _extract_subset
        return self._program
