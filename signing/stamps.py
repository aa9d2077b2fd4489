"""Signing layer: visible signature stamps (Vietnamese text, Decree 30/2020 layouts).

Four kinds (:attr:`StampContent.kind`): ``'text'`` (the original bordered text
box), and the Decree 30/2020/ND-CP Appendix I appearances: ``'personal'`` (the
competent person's signature image between title and name), ``'seal'`` (the red
seal image, real size, over the left third of the signer's image, with the
number and date) and ``'attachment'`` (no image: number/symbol and signing time
at the top right of the first page, Times New Roman metrics, 10 pt).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from functools import lru_cache
from io import BytesIO
from pathlib import Path
from typing import Any, Literal

from pyhanko.pdf_utils import layout
from pyhanko.pdf_utils.content import ResourceType
from pyhanko.pdf_utils.font.opentype import GlyphAccumulator, GlyphAccumulatorFactory
from pyhanko.pdf_utils.generic import pdf_name
from pyhanko.pdf_utils.text import TextBoxStyle
from pyhanko.pdf_utils.writer import BasePdfFileWriter
from pyhanko.stamp import TextStampStyle
from pyhanko.stamp.base import BaseStamp, BaseStampStyle

from signing.fontcache import FastGlyphAccumulator, stamp_font
from signing.images import embed_image, prepare_image

StampKind = Literal["text", "personal", "seal", "attachment"]
"""The stamp appearances, see :attr:`StampContent.kind`."""

VIETNAM_TZ = timezone(timedelta(hours=7), "ICT")
"""Vietnam time (UTC+07:00, no daylight saving)."""

FONT_PATH = Path(__file__).resolve().parent / "fonts" / "DejaVuSans-vi-upem1000.ttf"
"""DejaVu Sans rescaled to unitsPerEm 1000 and subset to Vietnamese (``fonts/make_fonts.py``)."""

SERIF_FONT_PATH = Path(__file__).resolve().parent / "fonts" / "TrinhKySerif-vi-upem1000.ttf"
"""Liberation Serif (Times New Roman metrics), rescaled and subset like :data:`FONT_PATH`."""

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


@lru_cache(maxsize=4)
def _font_bytes(path: str = str(FONT_PATH)) -> bytes:
    """A stamp font, read from disk once per process."""
    return Path(path).read_bytes()


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
        return FastGlyphAccumulator(
            writer,
            stamp_font(self.font_file),
            self.font_size,
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
    """Further lines appended after the time (``'text'``), the name (``'personal'``)
    or the title (``'seal'``, ``'attachment'``)."""
    kind: StampKind = "text"
    """Appearance: ``'text'`` (bordered text box, the default), ``'personal'`` (title,
    :attr:`image_png`, then name and :attr:`extra_lines`; leave ``title`` empty when
    the document already prints it above the box), ``'seal'`` (:attr:`image_png` at
    real size on the right; title, unit and the time on its left), or
    ``'attachment'`` (title, e.g. ``'Số: 12-TB/ĐUK'``, and the time; no image)."""
    image_png: bytes | None = None
    """Signature image (``'personal'``) or seal image (``'seal'``): a PNG with
    transparency, see :func:`signing.images.normalise_signature_png` and
    :func:`signing.images.default_seal_png`."""
    qr_url: str | None = None
    """``'seal'`` only: a URL shown as a QR code under the text, left of the seal
    (the document's public verification page)."""


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


def vietnam_display(moment: datetime) -> str:
    """Format a datetime as a Vietnamese reader writes it, in Vietnam time (the ISO form
    stays in the signature's data: its signing time and ``/M``).

    :param moment: a timezone-aware datetime (naive values are taken as UTC).
    :returns: e.g. ``'Ngày 27/11/2026 21:06'``.
    """
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(VIETNAM_TZ).strftime("Ngày %d/%m/%Y %H:%M")


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
        f"Thời gian ký: {vietnam_display(content.signed_at)}",
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


# --- Decree 30/2020 appearances ------------------------------------------------------

SEAL_DIAMETER = 36.0 / 25.4 * 72
"""Seal image diameter on the page: 36 mm in points (real size)."""

PERSONAL_WIDTH = 200.0
"""Width of the default ``'personal'`` box in points."""
PERSONAL_HEIGHT = 110.0
"""Height of the default ``'personal'`` box in points."""
PERSONAL_SIZE = 10
"""Text size of ``'personal'`` stamps."""
SEAL_TEXT_SIZE = 8
"""Text size of ``'seal'`` stamps."""
ATTACHMENT_SIZE = 10
"""Text size of ``'attachment'`` stamps (Decree 30: Times New Roman, 10 pt)."""
ATTACHMENT_MARGIN = 20.0
"""Distance of the ``'attachment'`` box from the top and right page edges."""
QR_SIZE = 60.0
"""Side of the QR code in ``'seal'`` stamps, quiet zone included, in points (21 mm)."""
QR_MIN_SIZE = 36.0
"""Smallest QR side drawn when the box is short (still about 1 pt per module)."""
QR_QUIET_MODULES = 2
"""White modules around the QR code (scanners need a quiet zone)."""
_PAD = 3.0
_BLACK = (0.0, 0.0, 0.0)
_SEAL_TEXT_COLOR = (0.6, 0.0, 0.0)


def _font_for(kind: StampKind) -> tuple[str, int]:
    if kind == "attachment":
        return str(SERIF_FONT_PATH), ATTACHMENT_SIZE
    if kind == "seal":
        return str(FONT_PATH), SEAL_TEXT_SIZE
    return str(FONT_PATH), PERSONAL_SIZE


def _leading(size: int) -> float:
    return round(size * 1.4, 1)


@lru_cache(maxsize=4)
def _metrics(path: str) -> tuple[dict[int, str], dict[str, tuple[int, int]]]:
    from fontTools.ttLib import TTFont

    font = TTFont(BytesIO(_font_bytes(path)), lazy=True)
    return dict(font.getBestCmap()), dict(font["hmtx"].metrics)


def text_width(text: str, kind: StampKind = "personal") -> float:
    """Approximate width of one line in the font and size of a stamp kind (no kerning).

    :param text: the line.
    :param kind: the stamp kind, which picks the font and size.
    :returns: the width in points.
    """
    path, size = _font_for(kind)
    cmap, hmtx = _metrics(path)
    units = sum(hmtx.get(cmap.get(ord(ch), ".notdef"), (500, 0))[0] for ch in text)
    return units * size / 1000.0


def stamp_lines(content: StampContent) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The text lines of a Decree 30 stamp, split around the image.

    :param content: what to show (``kind`` other than ``'text'``).
    :returns: ``(lines above the image, lines below it)`` for ``'personal'``;
        ``((), lines)`` for ``'seal'`` and ``'attachment'``.
    """
    when = vietnam_display(content.signed_at)
    if content.kind == "personal":
        top = (content.title,) if content.title else ()
        below = (content.signer_name, *content.extra_lines)
        return top, tuple(line for line in below if line)
    if content.kind == "seal":
        lines = (content.title, content.unit, *content.extra_lines, when)
    else:
        lines = (content.title, *content.extra_lines, when)
    return (), tuple(line for line in lines if line)


Rect = tuple[float, float, float, float]


def _fit(area: Rect, aspect: float) -> Rect:
    """The largest rectangle of ``aspect`` (width/height) centred in ``area``."""
    x1, y1, x2, y2 = area
    width, height = max(x2 - x1, 1.0), max(y2 - y1, 1.0)
    if width / height > aspect:
        width = height * aspect
    else:
        height = width / aspect
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    return (cx - width / 2, cy - height / 2, cx + width / 2, cy + height / 2)


def personal_image_rect(width: float, height: float, content: StampContent) -> Rect:
    """Where a ``'personal'`` stamp draws its image, relative to the box's lower left.

    :param width: box width in points.
    :param height: box height in points.
    :param content: the stamp content (its lines and image).
    :returns: ``(x1, y1, x2, y2)`` inside the box.
    """
    top, below = stamp_lines(content)
    lead = _leading(PERSONAL_SIZE)
    area = (_PAD, _PAD + lead * len(below), width - _PAD, height - _PAD - lead * len(top))
    aspect = prepare_image(content.image_png).aspect if content.image_png else 3.0
    return _fit(area, aspect)


def seal_box_for(personal_box: Rect, personal: StampContent, seal: StampContent) -> Rect:
    """Box of the ``'seal'`` stamp so the seal covers the left third of the signer's image.

    :param personal_box: the competent person's stamp box on the page (x1, y1, x2, y2).
    :param personal: that stamp's content (for the image position).
    :param seal: the seal stamp's content (for the width of its text).
    :returns: the seal stamp box on the page.
    """
    px1, py1, px2, py2 = (
        min(personal_box[0], personal_box[2]),
        min(personal_box[1], personal_box[3]),
        max(personal_box[0], personal_box[2]),
        max(personal_box[1], personal_box[3]),
    )
    ix1, iy1, ix2, iy2 = personal_image_rect(px2 - px1, py2 - py1, personal)
    right = px1 + ix1 + (ix2 - ix1) / 3
    cy = py1 + (iy1 + iy2) / 2
    _, lines = stamp_lines(seal)
    text_w = max((text_width(line, "seal") for line in lines), default=0.0)
    text_h = _leading(SEAL_TEXT_SIZE) * len(lines)
    if seal.qr_url:
        text_w = max(text_w, QR_SIZE)
        text_h += QR_SIZE + 2 * _PAD
    left = right - SEAL_DIAMETER - (text_w + 2 * _PAD if text_w else 0.0)
    half = max(SEAL_DIAMETER, text_h) / 2
    return (left, cy - half, right, cy + half)


def default_box_for(
    content: StampContent | None, page_box: tuple[float, float, float, float]
) -> tuple[float, float, float, float]:
    """The default box of a stamp kind on a page.

    ``'attachment'``: the top right corner, sized to the text; ``'personal'``: bottom
    right (:data:`PERSONAL_WIDTH` x :data:`PERSONAL_HEIGHT`); ``'seal'``: left of
    where a default personal box would be; ``'text'``: :func:`default_box`.

    :param content: the stamp content, or None for the ``'text'`` default.
    :param page_box: the page's visible area ``(x1, y1, x2, y2)``.
    :returns: the stamp box ``(x1, y1, x2, y2)``.
    """
    if content is None or content.kind == "text":
        return default_box(page_box)
    left, bottom = min(page_box[0], page_box[2]), min(page_box[1], page_box[3])
    right, top = max(page_box[0], page_box[2]), max(page_box[1], page_box[3])
    _, lines = stamp_lines(content)
    if content.kind == "attachment":
        width = max(text_width(line, "attachment") for line in lines) + 2 * _PAD + 2
        height = _leading(ATTACHMENT_SIZE) * len(lines) + 2 * _PAD
        x2, y2 = right - ATTACHMENT_MARGIN, top - ATTACHMENT_MARGIN
        return (max(left, x2 - width), y2 - height, x2, y2)
    x2 = right - STAMP_MARGIN
    personal = (
        x2 - PERSONAL_WIDTH,
        bottom + STAMP_MARGIN,
        x2,
        bottom + STAMP_MARGIN + PERSONAL_HEIGHT,
    )
    if content.kind == "personal":
        return personal
    placeholder = StampContent("", "", "", content.signed_at, kind="personal")
    return seal_box_for(personal, placeholder, content)


@dataclass(frozen=True)
class Decree30StampStyle(BaseStampStyle):
    """pyHanko stamp style drawing one Decree 30 stamp (content baked in, no border)."""

    content: StampContent | None = None
    """What the stamp shows; ``kind`` must not be ``'text'``."""
    border_width: int = 0
    """No border: Decree 30 stamps are bare images and text."""

    def create_stamp(
        self, writer: BasePdfFileWriter, box: layout.BoxConstraints, text_params: dict[str, Any]
    ) -> _Decree30Stamp:
        """Create the stamp for one signature field.

        :param writer: the PDF writer.
        :param box: the field's size.
        :param text_params: ignored (the text is in :attr:`content`).
        :returns: the stamp.
        """
        del text_params
        return _Decree30Stamp(writer=writer, style=self, box=box)


class _Decree30Stamp(BaseStamp):
    """Draws the image (if any) and centred (or left-aligned) text lines."""

    def _render_inner_content(self) -> list[bytes]:
        content = self.style.content
        assert content is not None  # noqa: S101 - set by appearance_style
        width, height = float(self.box.width), float(self.box.height)
        commands: list[bytes] = []
        if content.image_png is not None and content.kind in ("personal", "seal"):
            commands.append(self._image_ops(content, width, height))
        commands.append(self._text_ops(content, width, height))
        if content.kind == "seal" and content.qr_url:
            commands.append(self._qr_ops(content, width, height))
        return commands

    @staticmethod
    def _qr_ops(content: StampContent, width: float, height: float) -> bytes:
        """The QR code as filled rectangles (vector: sharp at any zoom, no image),
        under the text lines and flush right against the seal."""
        assert content.qr_url is not None  # noqa: S101 - checked by the caller
        _, (x0, y0, size) = _seal_qr_layout(content, width, height)
        return qr_ops(content.qr_url, x0, y0, size)

    def _image_ops(self, content: StampContent, width: float, height: float) -> bytes:
        assert content.image_png is not None  # noqa: S101 - checked by the caller
        image = prepare_image(content.image_png)
        if content.kind == "personal":
            x1, y1, x2, y2 = personal_image_rect(width, height, content)
        else:  # the seal at real size, right-aligned, vertically centred
            x1, x2 = width - SEAL_DIAMETER, width
            y1 = (height - SEAL_DIAMETER) / 2
            y2 = y1 + SEAL_DIAMETER
        self.set_resource(
            category=ResourceType.XOBJECT,
            name=pdf_name("/TkImg"),
            value=embed_image(self.writer, image),
        )
        return b"q %g 0 0 %g %g %g cm /TkImg Do Q" % (x2 - x1, y2 - y1, x1, y1)

    def _text_ops(self, content: StampContent, width: float, height: float) -> bytes:
        path, size = _font_for(content.kind)
        engine = _InMemoryFontFactory(path, font_size=size).create_font_engine(self.writer)
        engine.font_size = size
        self.set_resource(
            category=ResourceType.FONT, name=pdf_name("/TkF"), value=engine.as_resource()
        )
        lead = _leading(size)
        top, below = stamp_lines(content)
        color = _SEAL_TEXT_COLOR if content.kind == "seal" else _BLACK
        placed: list[tuple[str, float]] = []  # (line, baseline)
        if content.kind == "personal":
            placed += [
                (line, height - _PAD - lead * (i + 1) + 0.3 * lead) for i, line in enumerate(top)
            ]
            placed += [
                (line, _PAD + lead * (len(below) - i - 1) + 0.3 * lead)
                for i, line in enumerate(below)
            ]
        else:
            text_area = width - (
                SEAL_DIAMETER if content.kind == "seal" and content.image_png else 0
            )
            first = (height + lead * len(below)) / 2 - lead + 0.3 * lead
            if content.kind == "seal" and content.qr_url:  # text on top, the QR under it
                first = _seal_qr_layout(content, width, height)[0] - lead + 0.3 * lead
            placed += [(line, first - lead * i) for i, line in enumerate(below)]
            width = text_area
        ops = [b"q %g %g %g rg BT /TkF %d Tf" % (*color, size)]
        for line, baseline in placed:
            shaped = engine.shape(line)
            line_w = shaped.x_advance * size
            if content.kind == "personal":
                x = (width - line_w) / 2
            elif content.kind == "seal":
                x = max(_PAD, width - _PAD - line_w)  # flush right, against the seal
            else:
                x = _PAD
            ops.append(b"1 0 0 1 %g %g Tm %s" % (x, baseline, shaped.graphics_ops))
        ops.append(b"ET Q")
        return b" ".join(ops)


def _seal_qr_layout(
    content: StampContent, width: float, height: float
) -> tuple[float, tuple[float, float, float]]:
    """Text lines and the QR code under them, centred together beside the seal.

    :returns: the top of the text block, and the QR square ``(x, y, side)``.
    """
    _, lines = stamp_lines(content)
    lead = _leading(SEAL_TEXT_SIZE)
    block = lead * len(lines) + _PAD + QR_SIZE
    block_top = min(height - _PAD, (height + block) / 2)
    qr_top = block_top - lead * len(lines) - _PAD
    right = width - (SEAL_DIAMETER if content.image_png else 0.0) - _PAD
    size = max(min(QR_SIZE, qr_top - _PAD, right - _PAD), QR_MIN_SIZE)
    return block_top, (right - size, qr_top - size, size)


def qr_ops(data: str, x: float, y: float, size: float) -> bytes:
    """PDF drawing operators for a QR code of ``data`` (error correction M) on a white
    square with a quiet zone, dark modules as filled rectangles merged per row.

    :param data: the text to encode, e.g. a URL.
    :param x: left edge in points.
    :param y: bottom edge in points.
    :param size: side of the square, quiet zone included, in points.
    :returns: the operators (graphics state saved and restored).
    """
    import qrcode
    from qrcode.constants import ERROR_CORRECT_M

    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=0)
    code.add_data(data)
    code.make(fit=True)
    matrix: list[list[bool]] = code.get_matrix()
    count = len(matrix) + 2 * QR_QUIET_MODULES
    module = size / count
    ops = [b"q 1 g %g %g %g %g re f 0 g" % (x, y, size, size)]
    for row_ix, row in enumerate(matrix):
        top = y + size - (row_ix + QR_QUIET_MODULES) * module
        col = 0
        while col < len(row):
            if not row[col]:
                col += 1
                continue
            start = col
            while col < len(row) and row[col]:
                col += 1
            left = x + (start + QR_QUIET_MODULES) * module
            ops.append(
                b"%.3f %.3f %.3f %.3f re" % (left, top - module, (col - start) * module, module)
            )
    ops.append(b"f Q")
    return b"\n".join(ops)


def appearance_style(content: StampContent) -> BaseStampStyle:
    """The pyHanko stamp style for a stamp content.

    :param content: what the stamp shows.
    :returns: :func:`stamp_style` for ``'text'`` (pass ``{TEXT_PARAM: stamp_text(content)}``
        as the appearance text parameters), else a :class:`Decree30StampStyle`.
    """
    if content.kind == "text":
        return stamp_style()
    return Decree30StampStyle(content=content)
