"""Signing layer: visible signature stamp (Vietnamese text, embedded DejaVu Sans)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from functools import lru_cache
from io import BytesIO
from pathlib import Path
from typing import Any

from pyhanko.pdf_utils import layout
from pyhanko.pdf_utils.font.opentype import GlyphAccumulator, GlyphAccumulatorFactory
from pyhanko.pdf_utils.text import TextBoxStyle
from pyhanko.stamp import TextStampStyle

VIETNAM_TZ = timezone(timedelta(hours=7), "ICT")
"""Vietnam time (UTC+07:00, no daylight saving)."""

FONT_PATH = Path(__file__).resolve().parent / "fonts" / "DejaVuSans-upem1000.ttf"
"""DejaVu Sans rescaled to unitsPerEm 1000 (see ``fonts/make_fonts.py``)."""

FONT_SIZE = 9
"""Stamp text size in points."""

LEADING = 13
"""Distance between baselines, about 1.4 x the font size (room for stacked diacritics)."""

STAMP_WIDTH = 230.0
"""Width of the default stamp box in points."""

STAMP_HEIGHT = 80.0
"""Height of the default stamp box in points."""

STAMP_MARGIN = 36.0
"""Distance of the default stamp box from the page edges in points."""

TEXT_PARAM = "trinhky_text"
"""Name of the text parameter the stamp template interpolates."""

_BORDER_COLOR = (0.05, 0.25, 0.6)
_TEXT_COLOR = (0.0, 0.13, 0.4)


@lru_cache(maxsize=1)
def _font_bytes() -> bytes:
    """The stamp font, read from disk once per process."""
    return FONT_PATH.read_bytes()


@dataclass(frozen=True)
class _InMemoryFontFactory(GlyphAccumulatorFactory):
    """Font factory that embeds the font from memory.

    pyHanko's factory opens the font file for every stamp and never closes it
    (a ``ResourceWarning`` per signature); this one reuses the bytes read once.
    """

    def create_font_engine(self, writer: Any, obj_stream: Any = None) -> GlyphAccumulator:
        """Create the glyph accumulator for one stamp.

        :param writer: the PDF writer the font is embedded into.
        :param obj_stream: optional object stream for the font's objects.
        :returns: the font engine.
        """
        if obj_stream is None and writer.stream_xrefs and self.create_objstream_if_needed:
            obj_stream = writer.prepare_object_stream()
        return GlyphAccumulator(
            writer=writer,
            font_handle=BytesIO(_font_bytes()),
            font_size=self.font_size,
            ot_script_tag=self.ot_script_tag,
            ot_language_tag=self.ot_language_tag,
            writing_direction=self.writing_direction,
            bcp47_lang_code=self.bcp47_lang_code,
            obj_stream=obj_stream,
        )


@dataclass(frozen=True)
class StampContent:
    """What the visible stamp says."""

    signer_name: str
    """Signer's full name, e.g. ``'Lê Văn Đức'``."""
    title: str
    """Signer's position."""
    unit: str
    """Signer's unit or organisation."""
    signed_at: datetime
    """Signing time (timezone-aware); shown in Vietnam time."""
    heading: str = "Đã ký số bởi"
    """First line of the stamp."""
    extra_lines: tuple[str, ...] = ()
    """Further lines appended after the time."""


@dataclass(frozen=True)
class StampPlacement:
    """Where the visible stamp goes."""

    page: int = -1
    """Page index; negative values count from the end (-1 = last page)."""
    box: tuple[float, float, float, float] | None = None
    """``(x1, y1, x2, y2)`` in PDF points; None = bottom right of the page."""


def vietnam_iso(moment: datetime) -> str:
    """Format a datetime as ISO 8601 in Vietnam time, to the second.

    :param moment: a timezone-aware datetime (naive values are taken as UTC).
    :returns: e.g. ``'2026-11-27T21:06:00+07:00'``.
    """
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(VIETNAM_TZ).replace(microsecond=0).isoformat()


def stamp_text(content: StampContent) -> str:
    """The stamp's lines: heading, name, title, unit, time, extra lines.

    :param content: what to show.
    :returns: the text, one line per stamp line.
    """
    lines = [
        content.heading,
        content.signer_name,
        content.title,
        content.unit,
        f"Thời gian: {vietnam_iso(content.signed_at)}",
        *content.extra_lines,
    ]
    return "\n".join(line for line in lines if line)


@lru_cache(maxsize=1)
def stamp_style() -> TextStampStyle:
    """The shared stamp style: embedded DejaVu Sans, thin blue border.

    The template interpolates the text parameter :data:`TEXT_PARAM`, so text
    containing ``%`` needs no escaping.

    :returns: the (cached) style.
    """
    text_style = TextBoxStyle(
        font=_InMemoryFontFactory(str(FONT_PATH), font_size=FONT_SIZE),
        font_size=FONT_SIZE,
        leading=LEADING,
        text_color=_TEXT_COLOR,
    )
    return TextStampStyle(
        stamp_text=f"%({TEXT_PARAM})s",
        text_box_style=text_style,
        border_width=1,
        border_color=_BORDER_COLOR,
        background=None,
        inner_content_layout=layout.SimpleBoxLayoutRule(
            x_align=layout.AxisAlignment.ALIGN_MIN,
            y_align=layout.AxisAlignment.ALIGN_MID,
            margins=layout.Margins(left=8, right=6, top=4, bottom=4),
        ),
    )


def default_box(
    page_box: tuple[float, float, float, float],
) -> tuple[float, float, float, float]:
    """The default stamp box: bottom right of the page, inside 36 pt margins.

    :param page_box: the page's visible area ``(x1, y1, x2, y2)`` (CropBox or MediaBox).
    :returns: the stamp box ``(x1, y1, x2, y2)``.
    """
    left, bottom = min(page_box[0], page_box[2]), min(page_box[1], page_box[3])
    right = max(page_box[0], page_box[2])
    width = min(STAMP_WIDTH, max(right - left - 2 * STAMP_MARGIN, 50.0))
    x2 = right - STAMP_MARGIN
    y1 = bottom + STAMP_MARGIN
    return (x2 - width, y1, x2, y1 + STAMP_HEIGHT)
