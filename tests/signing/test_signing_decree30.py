"""Tests for the Decree 30/2020 stamps, signature images and anchors."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from datetime import datetime
from io import BytesIO
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from signing.anchors import box_below, find_anchor
from signing.images import (
    ImageInputError,
    default_seal_png,
    normalise_signature_png,
    prepare_image,
)
from signing.keys import LoadedKeySigner
from signing.pades import sign_pdf_file
from signing.pages import signature_field_box
from signing.profiles import SigningProfile, TrustConfig
from signing.stamps import (
    SEAL_DIAMETER,
    StampContent,
    StampPlacement,
    default_box_for,
    personal_image_rect,
    seal_box_for,
)
from signing.validate import validate_pdf


def _png(mode: str = "RGBA", size: tuple[int, int] = (400, 150), **info: object) -> bytes:
    img = Image.new(mode, size, (0, 0, 0, 0) if mode == "RGBA" else "white")
    ImageDraw.Draw(img).line([(20, 120), (200, 20), (380, 100)], fill="blue", width=8)
    out = BytesIO()
    img.save(out, "PNG", **info)
    return out.getvalue()


def test_normalise_strips_metadata_and_trims() -> None:
    from PIL.PngImagePlugin import PngInfo

    meta = PngInfo()
    meta.add_text("Author", "secret")
    clean = normalise_signature_png(_png(pnginfo=meta))
    img = Image.open(BytesIO(clean))
    assert img.format == "PNG" and img.mode == "RGBA"
    assert "Author" not in img.info and img.width < 400


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"GIF89a....", "not_png"),
        (_png(mode="RGB"), "no_alpha"),
        (b"\x89PNG\r\n\x1a\n" + b"\0" * 50, "unreadable"),
        (b"\x89PNG\r\n\x1a\n" + b"\0" * (3 * 1024 * 1024), "too_large"),
        (_png(size=(5000, 10)), "too_many_pixels"),
    ],
)
def test_normalise_refuses(data: bytes, code: str) -> None:
    with pytest.raises(ImageInputError) as info:
        normalise_signature_png(data)
    assert info.value.code == code and info.value.message_vi


def test_default_seal_is_real_size() -> None:
    img = Image.open(BytesIO(default_seal_png("Đảng ủy Khối Cơ quan - Doanh nghiệp tỉnh")))
    assert img.mode == "RGBA" and abs(img.width - 425) <= 1
    assert img.getpixel((0, 0))[3] == 0  # transparent corners
    assert prepare_image(default_seal_png("Đảng ủy Khối")).alpha_flate is not None


def test_seal_covers_left_third_of_signature(signed_at: datetime) -> None:
    personal = StampContent("Lê Văn Đức", "", "", signed_at, kind="personal", image_png=_png())
    seal = StampContent("ĐUK", "Số: 1-TB/ĐUK", "Ngày 27/11/2026", signed_at, kind="seal")
    box = (300.0, 200.0, 500.0, 310.0)
    ix1, _, ix2, _ = personal_image_rect(200, 110, personal)
    sx1, sy1, sx2, sy2 = seal_box_for(box, personal, seal)
    assert sx2 == pytest.approx(300 + ix1 + (ix2 - ix1) / 3)
    assert sy2 - sy1 >= SEAL_DIAMETER - 1e-6 and sx2 - sx1 > SEAL_DIAMETER


def test_attachment_default_top_right(signed_at: datetime) -> None:
    content = StampContent("ĐUK", "Số: 1-TB/ĐUK", "", signed_at, kind="attachment")
    x1, y1, x2, y2 = default_box_for(content, (0, 0, 595, 842))
    assert x2 == 575 and y2 == 822 and 100 < x2 - x1 < 200


def _render_text(path: Path) -> str:
    return subprocess.run(  # noqa: S603
        ["/usr/bin/pdftotext", str(path), "-"], capture_output=True, check=True
    ).stdout.decode()


@pytest.mark.parametrize("kind", ["personal", "seal", "attachment"])
def test_decree30_stamps_sign_and_validate(
    kind: str,
    make_pdf: Callable[..., Path],
    duc_signer: LoadedKeySigner,
    trust: TrustConfig,
    signed_at: datetime,
) -> None:
    image = {"personal": _png(), "seal": default_seal_png("Đảng ủy Khối"), "attachment": None}
    content = StampContent(
        "Lê Văn Đức",
        "Số: 12-TB/ĐUK",
        "Ngày 27/11/2026",
        signed_at,
        kind=kind,  # type: ignore[arg-type]
        image_png=image[kind],
    )
    src = make_pdf()
    out = src.with_name("out.pdf")
    sign_pdf_file(src, out, duc_signer, SigningProfile(field_name="S", stamp=content))
    assert validate_pdf(out, trust).bottom_line
    text = _render_text(out)
    assert "Ngày 27/11/2026 21:06" in text or kind == "personal"
    assert ("Lê Văn Đức" in text) == (kind == "personal")
    page, box = signature_field_box(out, "S") or (None, None)
    assert page == 0 and box is not None
    if kind == "attachment":
        assert box[3] == 822  # top of the first page


def test_personal_then_seal_both_valid(
    make_pdf: Callable[..., Path],
    duc_signer: LoadedKeySigner,
    clerk_signer: LoadedKeySigner,
    trust: TrustConfig,
    signed_at: datetime,
) -> None:
    personal = StampContent(
        "Lê Văn Đức", "Bí thư", "", signed_at, kind="personal", image_png=_png()
    )
    src = make_pdf()
    first = src.with_name("p.pdf")
    box = (330.0, 190.0, 530.0, 300.0)
    placement = StampPlacement(page=0, box=box)
    sign_pdf_file(
        src, first, duc_signer, SigningProfile("ChuKy", stamp=personal, placement=placement)
    )
    seal = StampContent(
        "ĐUK",
        "Số: 1-TB/ĐUK",
        "27/11/2026",
        signed_at,
        kind="seal",
        image_png=default_seal_png("Đảng ủy Khối"),
    )
    found = signature_field_box(first, "ChuKy")
    assert found == (0, box)
    seal_box = seal_box_for(found[1], personal, seal)
    second = src.with_name("s.pdf")
    profile = SigningProfile("Dau", stamp=seal, placement=StampPlacement(page=0, box=seal_box))
    sign_pdf_file(first, second, clerk_signer, profile)
    report = validate_pdf(second, trust)
    assert len(report.signatures) == 2 and report.bottom_line


def test_anchor_found_and_box_below(tmp_path: Path) -> None:
    from reportlab.pdfgen import canvas

    buf = BytesIO()
    pdf = canvas.Canvas(buf, pagesize=(595, 842))
    pdf.drawString(380, 320, "T/M BAN THUONG VU")
    pdf.drawString(380, 306, "BI THU")
    pdf.showPage()
    pdf.save()
    path = tmp_path / "a.pdf"
    path.write_bytes(buf.getvalue())
    hit = find_anchor(path, "t/m  ban THUONG vu")
    assert hit is not None and hit.page == 0 and hit.baseline == pytest.approx(320)
    x1, y1, x2, y2 = box_below(hit, 200, 100)
    assert y2 < 320 and y2 - y1 == 100 and x1 < 380 < x2
    assert find_anchor(path, "không có") is None
    assert find_anchor(tmp_path / "missing.pdf", "x") is None
