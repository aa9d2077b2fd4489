"""Tests for signing.pades.inspect_pdf and validate_pdf on bad input."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import datetime
from io import BytesIO
from pathlib import Path

import pytest
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.pdf_utils.writer import copy_into_new_writer
from pyhanko.sign.fields import MDPPerm, SigSeedSubFilter
from pyhanko.sign.signers import PdfSignatureMetadata, PdfSigner
from signing_testlib import make_pdf_bytes

from signing.errors import PdfInputError
from signing.keys import LoadedKeySigner
from signing.pades import PdfInfo, inspect_pdf, sign_pdf_file
from signing.profiles import SigningProfile, TrustConfig
from signing.stamps import StampContent, StampPlacement
from signing.validate import validate_pdf


def _encrypted_pdf_bytes() -> bytes:
    writer = copy_into_new_writer(PdfFileReader(BytesIO(make_pdf_bytes()), strict=False))
    writer.encrypt("owner-pass", "user-pass")
    out = BytesIO()
    writer.write(out)
    return out.getvalue()


def _deeply_nested_pdf() -> bytes:
    data = make_pdf_bytes()
    return data.replace(b"/Type /Catalog", b"/Type /Catalog /X " + b"[" * 50000 + b"]" * 50000)


def _expect_code(path: Path, code: str) -> PdfInputError:
    with pytest.raises(PdfInputError) as info:
        inspect_pdf(path)
    assert info.value.code == code
    assert str(info.value) and info.value.message_en
    return info.value


def test_valid_pdf(make_pdf: Callable[..., Path]) -> None:
    assert inspect_pdf(make_pdf(pages=2)) == PdfInfo(
        pages=2, signatures=0, pdf_version="1.7", encrypted=False
    )


def test_signed_pdf_counts_signatures(
    make_pdf: Callable[..., Path], duc_signer: LoadedKeySigner
) -> None:
    src = make_pdf()
    out = src.with_name("signed.pdf")
    sign_pdf_file(src, out, duc_signer, SigningProfile(field_name="Sig-1"))
    assert inspect_pdf(out).signatures == 1


@pytest.mark.parametrize(
    ("content", "code"),
    [
        (b"", "empty"),
        (b"Hello, this is a text file\n", "not_pdf"),
        (b"\x89PNG\r\n\x1a\n" + os.urandom(2000), "not_pdf"),
        (b"%PDF-1.7\n" + b"\x00garbage" * 100, "truncated"),
        (b"%PDF-1.7\n" + b"\x00garbage" * 100 + b"\n%%EOF\n", "damaged"),
        (make_pdf_bytes()[: len(make_pdf_bytes()) // 2], "truncated"),
        (make_pdf_bytes(pages=0), "no_pages"),
        (_deeply_nested_pdf(), "damaged"),
    ],
    ids=["empty", "text", "png", "garbage", "garbage-eof", "half", "no-pages", "nested"],
)
def test_bad_inputs(tmp_path: Path, content: bytes, code: str) -> None:
    path = tmp_path / "bad.pdf"
    path.write_bytes(content)
    _expect_code(path, code)


def test_broken_xref_is_damaged(tmp_path: Path) -> None:
    data = make_pdf_bytes()
    start = data.rindex(b"startxref\n") + len(b"startxref\n")
    end = data.index(b"\n", start)
    path = tmp_path / "badxref.pdf"
    path.write_bytes(data[:start] + b"99999999" + data[end:])
    _expect_code(path, "damaged")


def test_encrypted(tmp_path: Path) -> None:
    path = tmp_path / "enc.pdf"
    path.write_bytes(_encrypted_pdf_bytes())
    error = _expect_code(path, "encrypted")
    assert str(error) == "Tệp PDF được mã hóa (có mật khẩu). Hãy gỡ mật khẩu rồi tải lên lại."


def test_sign_refuses_encrypted(tmp_path: Path, duc_signer: LoadedKeySigner) -> None:
    path = tmp_path / "enc.pdf"
    path.write_bytes(_encrypted_pdf_bytes())
    with pytest.raises(PdfInputError) as info:
        sign_pdf_file(path, tmp_path / "out.pdf", duc_signer, SigningProfile(field_name="S"))
    assert info.value.code == "encrypted"


def test_sign_refuses_garbage(tmp_path: Path, duc_signer: LoadedKeySigner) -> None:
    path = tmp_path / "bad.pdf"
    path.write_bytes(b"%PDF-1.7\nnothing here\n%%EOF\n")
    with pytest.raises(PdfInputError) as info:
        sign_pdf_file(path, tmp_path / "out.pdf", duc_signer, SigningProfile(field_name="S"))
    assert info.value.code == "damaged"


@pytest.mark.parametrize(
    "content", [b"", b"garbage", b"%PDF-1.7\n\x00\x01\x02", _deeply_nested_pdf()]
)
def test_validate_unreadable(tmp_path: Path, trust: TrustConfig, content: bytes) -> None:
    path = tmp_path / "bad.pdf"
    path.write_bytes(content)
    report = validate_pdf(path, trust)
    assert report.verdict in ("unreadable", "unsigned")
    if content != _deeply_nested_pdf():
        assert report.verdict == "unreadable" and report.error
        assert report.signatures == () and not report.bottom_line


def test_validate_unsigned(make_pdf: Callable[..., Path], trust: TrustConfig) -> None:
    report = validate_pdf(make_pdf(), trust)
    assert report.verdict == "unsigned" and report.error is None


def test_validate_encrypted(tmp_path: Path, trust: TrustConfig) -> None:
    path = tmp_path / "enc.pdf"
    path.write_bytes(_encrypted_pdf_bytes())
    report = validate_pdf(path, trust)
    assert report.verdict == "unreadable"
    assert report.error is not None and "mã hóa" in report.error


def test_sign_refuses_certified_no_changes(
    make_pdf: Callable[..., Path], duc_signer: LoadedKeySigner, clerk_signer: LoadedKeySigner
) -> None:
    src = make_pdf()
    certified = src.with_name("certified.pdf")
    meta = PdfSignatureMetadata(
        field_name="Author",
        certify=True,
        docmdp_permissions=MDPPerm.NO_CHANGES,
        subfilter=SigSeedSubFilter.PADES,
    )
    with src.open("rb") as inf, certified.open("w+b") as outf:
        PdfSigner(meta, signer=duc_signer).sign_pdf(
            IncrementalPdfFileWriter(inf), bytes_reserved=16384, output=outf
        )
    with pytest.raises(PdfInputError) as info:
        sign_pdf_file(
            certified, src.with_name("out.pdf"), clerk_signer, SigningProfile(field_name="S2")
        )
    assert info.value.code == "certified_no_changes"


def test_sign_refuses_missing_page(
    make_pdf: Callable[..., Path], duc_signer: LoadedKeySigner, signed_at: datetime
) -> None:
    stamp = StampContent("Lê Văn Đức", "Bí thư", "Đảng ủy", signed_at)
    profile = SigningProfile(field_name="S", stamp=stamp, placement=StampPlacement(page=5))
    src = make_pdf()
    with pytest.raises(PdfInputError) as info:
        sign_pdf_file(src, src.with_name("out.pdf"), duc_signer, profile)
    assert info.value.code == "bad_page"
