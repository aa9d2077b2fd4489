"""Tests for signing.pades and signing.validate: sign, tamper, re-sign, validate."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest
from pyhanko.pdf_utils.reader import PdfFileReader

from signing.keys import LoadedKeySigner
from signing.pades import sign_pdf_file
from signing.pki import EmbeddedPki
from signing.profiles import SigningProfile, TrustConfig
from signing.stamps import StampContent, StampPlacement, stamp_text
from signing.validate import validate_pdf

SIGNING_CERT_V2_OID = "1.2.840.113549.1.9.16.2.47"


@pytest.fixture
def stamp(signed_at: datetime) -> StampContent:
    return StampContent(
        signer_name="Lê Văn Đức",
        title="Phó Bí thư Thường trực",
        unit="Thường trực Đảng ủy Khối",
        signed_at=signed_at,
    )


@pytest.fixture
def signed_pdf(
    make_pdf: Callable[..., Path], duc_signer: LoadedKeySigner, stamp: StampContent
) -> Path:
    src = make_pdf()
    out = src.with_name("signed.pdf")
    profile = SigningProfile(field_name="Sig-1-duc", reason="Phê duyệt", stamp=stamp)
    sign_pdf_file(src, out, duc_signer, profile)
    return out


def test_sign_then_validate(signed_pdf: Path, trust: TrustConfig) -> None:
    report = validate_pdf(signed_pdf, trust)
    assert report.verdict == "valid" and report.bottom_line and report.error is None
    (sig,) = report.signatures
    assert sig.field_name == "Sig-1-duc"
    assert sig.signer_name == "Lê Văn Đức"
    assert "CN=Lê Văn Đức" in sig.signer_subject
    assert sig.intact and sig.valid and sig.trusted and not sig.revoked
    assert sig.bottom_line and sig.problems == ()
    assert sig.coverage == "entire_file"
    assert sig.modification_level == "none"
    assert sig.subfilter == "/ETSI.CAdES.detached"
    assert sig.pades_level == "B-B"
    assert sig.timestamp_time is None
    assert sig.signing_time is not None and sig.signing_time.tzinfo is not None
    data = report.to_dict()
    assert data["verdict"] == "valid"
    signatures = data["signatures"]
    assert isinstance(signatures, list)
    assert str(signatures[0]["signing_time"]).endswith("+07:00")


def test_cms_has_signing_certificate_v2_and_sha256(signed_pdf: Path) -> None:
    with signed_pdf.open("rb") as fh:
        (sig,) = PdfFileReader(fh, strict=False).embedded_signatures
        signer_info = sig.signer_info
        oids = {attr["type"].dotted for attr in signer_info["signed_attrs"]}
        assert SIGNING_CERT_V2_OID in oids
        assert signer_info["digest_algorithm"]["algorithm"].native == "sha256"
        assert sig.md_algorithm == "sha256"


def test_flipped_byte_breaks_integrity(signed_pdf: Path, trust: TrustConfig) -> None:
    data = bytearray(signed_pdf.read_bytes())
    pos = data.index(b"Van ban thu nghiem")
    data[pos] = ord("W")
    signed_pdf.write_bytes(bytes(data))
    report = validate_pdf(signed_pdf, trust)
    assert report.verdict == "invalid" and not report.bottom_line
    (sig,) = report.signatures
    assert not sig.intact and not sig.bottom_line
    assert any("nguyên vẹn" in p for p in sig.problems)


def test_untrusted_root(signed_pdf: Path, other_pki: EmbeddedPki) -> None:
    report = validate_pdf(signed_pdf, TrustConfig(trust_roots_pem=(other_pki.root_pem(),)))
    (sig,) = report.signatures
    assert sig.intact and sig.valid
    assert not sig.trusted and not sig.bottom_line
    assert report.verdict == "invalid"
    assert any("tin cậy" in p for p in sig.problems)


def test_second_signature_keeps_first_valid(
    signed_pdf: Path, clerk_signer: LoadedKeySigner, trust: TrustConfig, signed_at: datetime
) -> None:
    out = signed_pdf.with_name("sealed.pdf")
    seal = StampContent(
        signer_name="Trần Thị Ngọc Ánh",
        title="Văn thư",
        unit="Văn phòng Đảng ủy Khối",
        signed_at=signed_at,
        heading="Văn thư đóng dấu",
    )
    profile = SigningProfile(
        field_name="Sig-2-clerk",
        stamp=seal,
        placement=StampPlacement(page=0, box=(36, 36, 266, 116)),
    )
    sign_pdf_file(signed_pdf, out, clerk_signer, profile)
    assert out.read_bytes().startswith(signed_pdf.read_bytes())  # incremental update
    report = validate_pdf(out, trust)
    assert report.verdict == "valid"
    first, second = report.signatures
    assert first.field_name == "Sig-1-duc" and first.bottom_line and first.intact
    assert first.coverage == "entire_revision"
    assert first.modification_level in ("none", "lta_updates", "form_filling")
    assert second.signer_name == "Trần Thị Ngọc Ánh" and second.coverage == "entire_file"


def test_invisible_signature(
    make_pdf: Callable[..., Path], duc_signer: LoadedKeySigner, trust: TrustConfig
) -> None:
    src = make_pdf(pages=3)
    out = src.with_name("invisible.pdf")
    sign_pdf_file(src, out, duc_signer, SigningProfile(field_name="Sig-inv"))
    assert validate_pdf(out, trust).verdict == "valid"


def test_stamp_text_format(stamp: StampContent) -> None:
    lines = stamp_text(stamp).splitlines()
    assert lines == [
        "Đã ký số bởi",
        "Lê Văn Đức",
        "Phó Bí thư Thường trực",
        "Thường trực Đảng ủy Khối",
        "Thời gian ký: Ngày 27/11/2026 21:06",  # the ISO time is in the signature data
    ]


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="pdftotext (poppler-utils) missing")
def test_stamp_text_extracted(signed_pdf: Path) -> None:
    text = subprocess.run(
        ["pdftotext", str(signed_pdf), "-"], check=True, capture_output=True
    ).stdout.decode("utf-8")
    assert "Lê Văn Đức" in text
    assert "Thường trực Đảng ủy Khối" in text
    assert "Đã ký số bởi" in text
    assert "Ngày 27/11/2026 21:06" in text
