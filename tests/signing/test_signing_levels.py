"""Tests for PAdES B-B, B-T, B-LT and B-LTA with the embedded TSA, OCSP responder and CRL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from pyhanko.pdf_utils.reader import PdfFileReader
from signing_testlib import USER_PASSPHRASE, MemoryRevocations

from signing.errors import SignatureFailedError, SigningError
from signing.keys import LoadedKeySigner, load_signer
from signing.pades import sign_pdf_file
from signing.pki import EmbeddedPki
from signing.profiles import SigningProfile, TrustConfig
from signing.trust import TrustServices
from signing.validate import MSG_REVOKED, validate_pdf


def _dss_counts(path: Path) -> dict[str, int]:
    with path.open("rb") as fh:
        dss = PdfFileReader(fh).root.get("/DSS")
        if dss is None:
            return {}
        dss = dss.get_object()
        return {str(k): len(dss[k]) for k in ("/Certs", "/OCSPs", "/CRLs") if k in dss}


def _sign(
    src: Path,
    signer: LoadedKeySigner,
    services: TrustServices,
    level: str,
    *,
    use_ocsp: bool = True,
    name: str = "Sig-1",
    out: Path | None = None,
) -> Path:
    out = out or src.with_name(f"{level}.pdf")
    sign_pdf_file(
        src,
        out,
        signer,
        SigningProfile(field_name=name, level=level),
        timestamper=None if level == "B-B" else services.timestamper,
        revocation=services.revocation_source(use_ocsp=use_ocsp) if "LT" in level else None,
    )
    return out


@pytest.mark.parametrize("level", ["B-B", "B-T", "B-LT", "B-LTA"])
def test_level_signs_and_validates(
    level: str,
    make_pdf: Callable[..., Path],
    duc_signer: LoadedKeySigner,
    services: TrustServices,
    trust: TrustConfig,
) -> None:
    out = _sign(make_pdf(), duc_signer, services, level)
    report = validate_pdf(out, trust, services.revocation_source())
    assert report.bottom_line, [s.problems for s in report.signatures]
    sig = report.signatures[0]
    assert sig.pades_level == level
    assert not sig.revoked
    if level == "B-B":
        assert sig.timestamp_time is None
    else:
        assert sig.timestamp_time is not None and sig.timestamp_time.microsecond == 0
    dss = _dss_counts(out)
    if level in ("B-LT", "B-LTA"):
        assert dss.get("/Certs", 0) >= 3  # signer, issuing CA, TSA (and the OCSP responder)
        assert dss.get("/OCSPs", 0) >= 1 and dss.get("/CRLs", 0) >= 1
        assert sig.modification_level == "lta_updates"
    else:
        assert dss == {}
    if level == "B-LTA":
        (dts,) = report.signatures[1:]
        assert dts.pades_level == "DTS" and dts.bottom_line and dts.timestamp_time is not None
    else:
        assert len(report.signatures) == 1


def test_b_lt_with_crl_only(
    make_pdf: Callable[..., Path],
    duc_signer: LoadedKeySigner,
    services: TrustServices,
    trust: TrustConfig,
) -> None:
    out = _sign(make_pdf(), duc_signer, services, "B-LT", use_ocsp=False)
    (sig,) = validate_pdf(out, trust).signatures
    assert sig.bottom_line and sig.pades_level == "B-LT"
    dss = _dss_counts(out)
    assert dss.get("/CRLs") == 2 and "/OCSPs" not in dss  # the CA's CRL and the root's ARL


@pytest.mark.parametrize(
    ("level", "with_ts", "with_rev", "needs"),
    [
        ("B-T", False, False, "timestamper"),
        ("B-LT", True, False, "revocation source"),
        ("B-LTA", False, True, "timestamper"),
        ("B-X", True, True, "unknown PAdES level"),
    ],
)
def test_level_prerequisites(
    level: str,
    with_ts: bool,
    with_rev: bool,
    needs: str,
    make_pdf: Callable[..., Path],
    duc_signer: LoadedKeySigner,
    services: TrustServices,
) -> None:
    src = make_pdf()
    with pytest.raises(SigningError, match=needs):
        sign_pdf_file(
            src,
            src.with_name("out.pdf"),
            duc_signer,
            SigningProfile(field_name="S", level=level),
            timestamper=services.timestamper if with_ts else None,
            revocation=services.revocation_source() if with_rev else None,
        )


def test_explicit_bytes_reserved_still_used(
    make_pdf: Callable[..., Path], duc_signer: LoadedKeySigner, services: TrustServices
) -> None:
    src = make_pdf()
    small = SigningProfile(field_name="S", level="B-T", bytes_reserved=4096)
    with pytest.raises(SignatureFailedError):  # a timestamp token does not fit in 4 KiB
        sign_pdf_file(src, src.with_name("o.pdf"), duc_signer, small, services.timestamper)
    big = SigningProfile(field_name="S", level="B-T", bytes_reserved=40000)
    sign_pdf_file(src, src.with_name("o.pdf"), duc_signer, big, services.timestamper)
    with src.with_name("o.pdf").open("rb") as fh:
        (sig,) = PdfFileReader(fh).embedded_signatures
        assert len(sig.sig_object["/Contents"]) == 20000  # pyHanko counts hex digits


@pytest.fixture
def revoked_signer(
    pki: EmbeddedPki, revocations: MemoryRevocations
) -> tuple[LoadedKeySigner, x509.Certificate]:
    issued = pki.issue_signing_certificate(
        full_name="Nguyễn Văn Thu Hồi",
        title="Chuyên viên",
        unit="Văn phòng",
        organisation="Đảng ủy Khối",
        passphrase=USER_PASSPHRASE,
    )
    signer = load_signer(
        issued.cert_pem, issued.encrypted_key_pem, USER_PASSPHRASE, pki.chain_pems()
    )
    return signer, x509.load_pem_x509_certificate(issued.cert_pem)


def test_revoked_signer_is_reported(
    make_pdf: Callable[..., Path],
    revoked_signer: tuple[LoadedKeySigner, x509.Certificate],
    revocations: MemoryRevocations,
    services: TrustServices,
    trust: TrustConfig,
) -> None:
    signer, cert = revoked_signer
    out = _sign(make_pdf(), signer, services, "B-T")
    assert validate_pdf(out, trust, services.revocation_source()).bottom_line
    # revoked afterwards, with a revocation time before the signature (key compromise)
    revocations.revoke(cert.serial_number, cert.not_valid_before_utc + timedelta(seconds=1))
    for source in (services.revocation_source(), services.revocation_source(use_ocsp=False)):
        (sig,) = validate_pdf(out, trust, source).signatures
        assert sig.revoked and not sig.bottom_line
        assert MSG_REVOKED in sig.problems
    (sig,) = validate_pdf(out, trust).signatures  # no revocation data: soft-fail, as before
    assert sig.bottom_line


def test_b_lt_refuses_a_revoked_signer(
    make_pdf: Callable[..., Path],
    revoked_signer: tuple[LoadedKeySigner, x509.Certificate],
    revocations: MemoryRevocations,
    services: TrustServices,
) -> None:
    signer, cert = revoked_signer
    revocations.revoke(cert.serial_number, datetime.now(UTC) - timedelta(hours=1))
    with pytest.raises(SignatureFailedError):
        _sign(make_pdf(), signer, services, "B-LT")
