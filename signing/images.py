"""Signing layer: stamp images (uploaded signature PNGs, the organisation's red seal).

Decree 30/2020/ND-CP, Appendix I: the competent person's signature shows the
image of their handwritten signature (PNG, transparent background); the
organisation's signature shows the image of its seal (red, real size, PNG,
transparent background). Uploaded images are validated and re-encoded here
(Pillow) so nothing but pixels reaches a signed PDF; images are decoded and
compressed once per process and embedded as ready-made XObjects.
"""

from __future__ import annotations

import hashlib
import math
import unicodedata
import zlib
from dataclasses import dataclass
from functools import lru_cache
from io import BytesIO
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.generic import pdf_name

from signing.errors import SigningError

MAX_UPLOAD_BYTES = 2 * 1024 * 1024
"""Largest accepted signature upload (2 MiB)."""
MAX_PIXELS_SIDE = 4000
"""Largest accepted width or height of an uploaded image, in pixels (checked before decoding)."""
MIN_PIXELS = (40, 20)
"""Smallest accepted ``(width, height)`` of the signature once trimmed, in pixels."""
MAX_STORED_WIDTH = 1200
"""Normalised signature images are scaled down to at most this width in pixels."""
SEAL_DIAMETER_MM = 36.0
"""Diameter of the default seal (real size of a Party committee seal)."""
SEAL_DPI = 300
"""Resolution of the generated seal image."""
SEAL_RED = (204, 0, 0)
"""Seal ink colour."""

_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_FONT_PATH = Path(__file__).resolve().parent / "fonts" / "DejaVuSans-vi-upem1000.ttf"


class ImageInputError(SigningError):
    """An uploaded image cannot be used as a signature image.

    ``str(e)`` is the Vietnamese message shown to users; :attr:`code` is stable:
    ``'too_large'``, ``'not_png'``, ``'unreadable'``, ``'too_many_pixels'``,
    ``'no_alpha'``, ``'not_transparent'``, ``'empty'`` or ``'too_small'``.
    """

    def __init__(self, code: str, message_vi: str) -> None:
        """Create the error.

        :param code: stable machine-readable reason.
        :param message_vi: message for users, in Vietnamese.
        """
        super().__init__(message_vi)
        self.code = code
        """Stable machine-readable reason."""
        self.message_vi = message_vi
        """Message for users, in Vietnamese."""


def _open_png(data: bytes) -> Image.Image:
    """Open PNG bytes lazily, refusing non-PNG data and oversized dimensions."""
    if len(data) > MAX_UPLOAD_BYTES:
        raise ImageInputError("too_large", "Ảnh chữ ký quá lớn (tối đa 2 MB).")
    if not data.startswith(_PNG_MAGIC):
        raise ImageInputError("not_png", "Ảnh chữ ký phải là tệp PNG nền trong suốt.")
    try:
        img = Image.open(BytesIO(data), formats=("PNG",))
    except Exception as exc:  # Pillow raises many types on garbage
        raise ImageInputError("unreadable", "Không đọc được ảnh PNG.") from exc
    if max(img.size) > MAX_PIXELS_SIDE:  # before decoding: no decompression bomb
        raise ImageInputError(
            "too_many_pixels", f"Ảnh quá lớn (tối đa {MAX_PIXELS_SIDE} điểm ảnh mỗi chiều)."
        )
    return img


def normalise_signature_png(data: bytes) -> bytes:
    """Validate an uploaded signature image and re-encode it without metadata.

    The image must be a PNG with an alpha channel (or palette transparency) and
    really transparent somewhere. It is trimmed to its visible strokes, scaled
    down to :data:`MAX_STORED_WIDTH` and re-encoded as RGBA PNG, dropping text
    chunks, EXIF, ICC profiles and anything else that is not pixels.

    :param data: the uploaded bytes.
    :returns: the normalised PNG (store this, not the upload).
    :raises ImageInputError: the upload is not an acceptable signature image.
    """
    img = _open_png(data)
    has_alpha = img.mode in ("RGBA", "LA", "PA") or "transparency" in img.info
    if not has_alpha:
        raise ImageInputError("no_alpha", "Ảnh chữ ký phải có nền trong suốt (PNG có kênh alpha).")
    try:
        rgba = img.convert("RGBA")
    except Exception as exc:  # truncated or corrupt pixel data
        raise ImageInputError("unreadable", "Không đọc được ảnh PNG.") from exc
    alpha = rgba.getchannel("A")
    low, high = alpha.getextrema()
    if low == 255:
        raise ImageInputError("not_transparent", "Ảnh chữ ký phải có nền trong suốt.")
    if high == 0:
        raise ImageInputError("empty", "Ảnh chữ ký trong suốt hoàn toàn, không có nét chữ ký.")
    bbox = alpha.point(lambda a: 255 if a > 16 else 0).getbbox()
    if bbox is not None:
        rgba = rgba.crop(bbox)
    if rgba.width < MIN_PIXELS[0] or rgba.height < MIN_PIXELS[1]:
        raise ImageInputError("too_small", "Ảnh chữ ký quá nhỏ.")
    if rgba.width > MAX_STORED_WIDTH:
        height = max(1, round(rgba.height * MAX_STORED_WIDTH / rgba.width))
        rgba = rgba.resize((MAX_STORED_WIDTH, height), Image.Resampling.LANCZOS)
    clean = Image.new("RGBA", rgba.size)
    clean.paste(rgba)
    out = BytesIO()
    clean.save(out, format="PNG", optimize=True)
    return out.getvalue()


def _seal_font(size: int) -> Any:
    return ImageFont.truetype(BytesIO(_FONT_PATH.read_bytes()), size)


def _star(cx: float, cy: float, outer: float) -> list[tuple[float, float]]:
    inner = outer * 0.382
    points = []
    for i in range(10):
        radius = outer if i % 2 == 0 else inner
        angle = -math.pi / 2 + i * math.pi / 5
        points.append((cx + radius * math.cos(angle), cy + radius * math.sin(angle)))
    return points


def _ring_text(
    img: Image.Image, text: str, radius: float, font: Any, color: tuple[int, ...]
) -> None:
    """Draw ``text`` clockwise around the centre, centred on the top of the circle."""
    cx, cy = img.width / 2, img.height / 2
    widths = [font.getlength(ch) for ch in text]
    spacing = font.size * 0.12
    total = sum(widths) + spacing * (len(text) - 1)
    arc = min(total / radius, 2 * math.pi * 0.92)
    scale = arc * radius / total if total else 1.0
    angle = -math.pi / 2 - arc / 2
    for ch, width in zip(text, widths, strict=True):
        step = (width + spacing) * scale / radius
        mid = angle + (width * scale / radius) / 2
        if not ch.isspace():
            box = int(font.size * 2)
            glyph = Image.new("RGBA", (box, box), (0, 0, 0, 0))
            ImageDraw.Draw(glyph).text((box / 2, box / 2), ch, font=font, fill=color, anchor="mm")
            glyph = glyph.rotate(-math.degrees(mid + math.pi / 2), Image.Resampling.BICUBIC)
            x = cx + radius * math.cos(mid) - box / 2
            y = cy + radius * math.sin(mid) - box / 2
            img.alpha_composite(glyph, (round(x), round(y)))
        angle += step


@lru_cache(maxsize=16)
def default_seal_png(
    organisation: str, parent: str = "", diameter_mm: float = SEAL_DIAMETER_MM
) -> bytes:
    """A default round red seal: the organisation's name around, a star in the middle.

    Meant as a placeholder until the organisation's scanned seal is uploaded
    (through :func:`normalise_signature_png`). ``parent`` (e.g. the superior
    Party committee) goes in smaller letters under the star.

    :param organisation: the organisation's name, written in capitals around the ring.
    :param parent: optional second text, under the star.
    :param diameter_mm: real size of the seal.
    :returns: an RGBA PNG at :data:`SEAL_DPI` (about 425 px for 36 mm).
    """
    side = round(diameter_mm / 25.4 * SEAL_DPI)
    supersample = 2
    size = side * supersample
    img = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(img)
    ink = (*SEAL_RED, 235)
    outer_w = size * 0.025
    draw.ellipse(
        (outer_w / 2, outer_w / 2, size - outer_w / 2, size - outer_w / 2),
        outline=ink,
        width=round(outer_w),
    )
    inner_r = size * 0.33
    c = size / 2
    draw.ellipse(
        (c - inner_r, c - inner_r, c + inner_r, c + inner_r), outline=ink, width=round(size * 0.008)
    )
    text = unicodedata.normalize("NFC", organisation.upper())
    font_px = round(size * 0.075)
    _ring_text(img, f"{text} ★ ", size * 0.41, _seal_font(font_px), ink)
    draw.polygon(_star(c, c - (size * 0.03 if parent else 0), size * 0.17), fill=ink)
    if parent:
        small = _seal_font(round(size * 0.045))
        draw.text(
            (c, c + size * 0.2),
            unicodedata.normalize("NFC", parent.upper()),
            font=small,
            fill=ink,
            anchor="mm",
        )
    img = img.resize((side, side), Image.Resampling.LANCZOS)
    out = BytesIO()
    img.save(out, format="PNG", optimize=True, dpi=(SEAL_DPI, SEAL_DPI))
    return out.getvalue()


@dataclass(frozen=True)
class PreparedImage:
    """An image decoded and Flate-compressed once, ready to embed in any PDF."""

    width: int
    """Width in pixels."""
    height: int
    """Height in pixels."""
    rgb_flate: bytes
    """Flate-compressed 8-bit DeviceRGB samples."""
    alpha_flate: bytes | None
    """Flate-compressed 8-bit soft mask (alpha), or None if opaque."""

    @property
    def aspect(self) -> float:
        """Width divided by height."""
        return self.width / self.height


@lru_cache(maxsize=64)
def _prepare_cached(digest: str, data: bytes) -> PreparedImage:
    del digest  # part of the cache key only
    img = _open_png(data)
    rgba = img.convert("RGBA")
    alpha = rgba.getchannel("A")
    low, _ = alpha.getextrema()
    return PreparedImage(
        width=rgba.width,
        height=rgba.height,
        rgb_flate=zlib.compress(rgba.convert("RGB").tobytes(), 6),
        alpha_flate=None if low == 255 else zlib.compress(alpha.tobytes(), 6),
    )


def prepare_image(png: bytes) -> PreparedImage:
    """Decode and compress a PNG once per process (cached by content).

    :param png: PNG bytes (normalised by :func:`normalise_signature_png` or
        made by :func:`default_seal_png`).
    :returns: the prepared image.
    :raises ImageInputError: the bytes are not a readable PNG.
    """
    return _prepare_cached(hashlib.sha256(png).hexdigest(), png)


def _image_stream(width: int, height: int, colour_space: str, data: bytes) -> generic.StreamObject:
    return generic.StreamObject(
        {
            pdf_name("/Type"): pdf_name("/XObject"),
            pdf_name("/Subtype"): pdf_name("/Image"),
            pdf_name("/Width"): generic.NumberObject(width),  # type: ignore[no-untyped-call]
            pdf_name("/Height"): generic.NumberObject(height),  # type: ignore[no-untyped-call]
            pdf_name("/ColorSpace"): pdf_name(colour_space),
            pdf_name("/BitsPerComponent"): generic.NumberObject(8),  # type: ignore[no-untyped-call]
            pdf_name("/Filter"): pdf_name("/FlateDecode"),
        },
        encoded_data=data,
    )


def embed_image(writer: Any, image: PreparedImage) -> generic.IndirectObject:
    """Add an image XObject (with its soft mask) to a PDF writer.

    :param writer: the pyHanko writer of the document being signed.
    :param image: the prepared image.
    :returns: the reference to the image XObject.
    """
    stream = _image_stream(image.width, image.height, "/DeviceRGB", image.rgb_flate)
    if image.alpha_flate is not None:
        mask = _image_stream(image.width, image.height, "/DeviceGray", image.alpha_flate)
        stream[pdf_name("/SMask")] = writer.add_object(mask)
    ref: generic.IndirectObject = writer.add_object(stream)
    return ref
