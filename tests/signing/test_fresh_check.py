"""The direct check of a fresh signature (signing.fresh): it agrees with the full
validation on good files and refuses tampered ones; verdicts on own certificates are
reused within their window only."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import cms
from asn1crypto import ocsp as asn1_ocsp
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from pyhanko.sign.validation.dss import DocumentSecurityStore
from signing_testlib import USER_PASSPHRASE, MemoryRevocations

from signing.fresh import Expected, OwnCertificateVerdicts, check_fresh_signature
from signing.keys import LoadedKeySigner, load_signer
from signing.pades import sign_pdf_file
from signing.pki import EmbeddedPki, IssuedCertificate
from signing.profiles import SigningProfile, TrustConfig
from signing.trust import TrustServices
from signing.validate import MSG_NOT_INTACT, MSG_NOT_VALID, MSG_REVOKED, MSG_TIMESTAMP, validate_pdf
from storage.types import utcnow

FIELD = "ChuKy1_duc"


def _sign(src: Path, signer: LoadedKeySigner, services: TrustServices, level: str) -> Path:
    out = src.with_name(f"signed-{level}.pdf")
    sign_pdf_file(
        src,
        out,
        signer,
        SigningProfile(field_name=FIELD, level=level),
        timestamper=None if level == "B-B" else services.timestamper,
        revocation=services.revocation_source() if level == "B-LT" else None,
    )
    return out


def _expected(src: Path, signer: LoadedKeySigner, services: TrustServices, level: str) -> Expected:
    assert signer.signing_cert is not None
    data = src.read_bytes()
    return Expected(
        field_name=FIELD,
        level=level,
        signer_cert=signer.signing_cert,
        tsa_cert=services.timestamper.tsa_cert,
        ocsp_responder_cert=services.ocsp.responder_cert,
        source_sha256=hashlib.sha256(data).hexdigest(),
        source_size=len(data),
    )


def _own_signer(
    pki: EmbeddedPki, full_name: str, **options: Any
) -> tuple[IssuedCertificate, LoadedKeySigner]:
    """A certificate of its own (to revoke or let expire) and its loaded signer."""
    issued = pki.issue_signing_certificate(
        full_name=full_name,
        title="Chuyên viên",
        unit="Ban Tổ chức",
        organisation="Đảng ủy Khối Cơ quan - Doanh nghiệp tỉnh",
        passphrase=USER_PASSPHRASE,
        **options,
    )
    signer = load_signer(
        issued.cert_pem, issued.encrypted_key_pem, USER_PASSPHRASE, pki.chain_pems()
    )
    return issued, signer


def _contents_hex_span(data: bytes) -> tuple[int, int]:
    """Start and end of the hex digits of the (only) signature's /Contents."""
    start = data.index(b"/Contents <") + len(b"/Contents <")
    return start, data.index(b">", start)


def _cms(data: bytes) -> cms.SignedData:
    start, end = _contents_hex_span(data)
    return cms.ContentInfo.load(bytes.fromhex(data[start:end].decode()), strict=False)["content"]


def _flip_hex_of(data: bytes, value: bytes) -> bytes:
    """``data`` with one hex digit of ``value`` (as written in /Contents) changed."""
    start, end = _contents_hex_span(data)
    at = data.upper().index(value.hex().upper().encode(), start, end) + 10
    digit = b"0" if data[at : at + 1] != b"0" else b"1"
    return data[:at] + digit + data[at + 1 :]


@pytest.mark.parametrize("level", ["B-B", "B-T", "B-LT"])
def test_direct_check_agrees_with_the_full_validation(
    level: str,
    make_pdf: Callable[..., Path],
    duc_signer: LoadedKeySigner,
    services: TrustServices,
    trust: TrustConfig,
) -> None:
    src = make_pdf()
    out = _sign(src, duc_signer, services, level)
    revocation = services.revocation_source()
    expected = _expected(src, duc_signer, services, level)
    direct = check_fresh_signature(out, expected, trust, revocation, utcnow())
    assert direct is not None, "the direct check fell back on a plain signature"
    full = validate_pdf(out, trust, revocation)
    assert direct.bottom_line
    assert direct.to_dict() == full.to_dict()


def test_a_flipped_byte_in_the_signed_range_is_refused(
    make_pdf: Callable[..., Path],
    duc_signer: LoadedKeySigner,
    services: TrustServices,
    trust: TrustConfig,
) -> None:
    src = make_pdf(text="Van ban goc")
    out = _sign(src, duc_signer, services, "B-LT")
    expected = _expected(src, duc_signer, services, "B-LT")
    data = out.read_bytes()
    at = data.index(b"Van ban goc")
    out.write_bytes(data[:at] + b"W" + data[at + 1 :])  # inside the page content
    report = check_fresh_signature(out, expected, trust, services.revocation_source(), utcnow())
    assert report is not None
    (sig,) = report.signatures
    assert not sig.bottom_line and not sig.intact
    assert MSG_NOT_INTACT in sig.problems
    # The full validation agrees.
    assert not validate_pdf(out, trust, services.revocation_source()).bottom_line


def test_an_input_that_is_not_the_prefix_is_refused(
    make_pdf: Callable[..., Path],
    duc_signer: LoadedKeySigner,
    services: TrustServices,
    trust: TrustConfig,
) -> None:
    src = make_pdf()
    out = _sign(src, duc_signer, services, "B-B")
    expected = _expected(src, duc_signer, services, "B-B")
    wrong = Expected(**{**expected.__dict__, "source_sha256": hashlib.sha256(b"x").hexdigest()})
    report = check_fresh_signature(out, wrong, trust, None, utcnow())
    assert report is not None and not report.bottom_line
    assert MSG_NOT_INTACT in report.signatures[0].problems


def test_a_wrong_signature_value_is_refused(
    make_pdf: Callable[..., Path],
    duc_signer: LoadedKeySigner,
    services: TrustServices,
    trust: TrustConfig,
) -> None:
    src = make_pdf()
    out = _sign(src, duc_signer, services, "B-T")
    data = out.read_bytes()
    signature = _cms(data)["signer_infos"][0]["signature"].native
    out.write_bytes(_flip_hex_of(data, signature))
    expected = _expected(src, duc_signer, services, "B-T")
    report = check_fresh_signature(out, expected, trust, None, utcnow())
    assert report is not None
    (sig,) = report.signatures
    assert sig.intact and not sig.valid and not sig.bottom_line
    assert MSG_NOT_VALID in sig.problems


def test_a_wrong_timestamp_token_is_refused(
    make_pdf: Callable[..., Path],
    duc_signer: LoadedKeySigner,
    services: TrustServices,
    trust: TrustConfig,
) -> None:
    src = make_pdf()
    out = _sign(src, duc_signer, services, "B-T")
    data = out.read_bytes()
    (attr,) = _cms(data)["signer_infos"][0]["unsigned_attrs"]
    token_signature = attr["values"][0]["content"]["signer_infos"][0]["signature"].native
    out.write_bytes(_flip_hex_of(data, token_signature))
    expected = _expected(src, duc_signer, services, "B-T")
    report = check_fresh_signature(out, expected, trust, None, utcnow())
    assert report is not None
    (sig,) = report.signatures
    assert sig.intact and sig.valid and not sig.bottom_line
    assert sig.problems == (MSG_TIMESTAMP,)


def test_a_timestamp_from_another_tsa_is_refused(
    make_pdf: Callable[..., Path],
    duc_signer: LoadedKeySigner,
    services: TrustServices,
    trust: TrustConfig,
    other_pki: EmbeddedPki,
) -> None:
    src = make_pdf()
    out = _sign(src, duc_signer, services, "B-T")
    other = TrustServices(other_pki, MemoryRevocations().status_of)
    expected = Expected(
        **{**_expected(src, duc_signer, services, "B-T").__dict__}
        | {"tsa_cert": other.timestamper.tsa_cert}
    )
    report = check_fresh_signature(out, expected, trust, None, utcnow())
    assert report is not None and not report.bottom_line
    assert MSG_TIMESTAMP in report.signatures[0].problems


def test_own_verdicts_are_reused_in_their_window_and_expire(
    pki: EmbeddedPki,
    make_pdf: Callable[..., Path],
    services: TrustServices,
    revocations: MemoryRevocations,
    trust: TrustConfig,
) -> None:
    issued, signer = _own_signer(pki, "Nguyễn Văn Thu Hồi")
    src = make_pdf()
    out = _sign(src, signer, services, "B-T")
    expected = _expected(src, signer, services, "B-T")
    verdicts = OwnCertificateVerdicts(window=timedelta(minutes=5))
    revocation = services.revocation_source()
    start = utcnow().replace(second=0, microsecond=0)
    start += timedelta(minutes=5 - start.minute % 5)  # the start of the next window
    first = check_fresh_signature(out, expected, trust, revocation, start, verdicts)
    assert first is not None and first.bottom_line
    assert verdicts.computed == 2  # the signer and the TSA

    revocations.revoke(issued.serial, utcnow() - timedelta(minutes=1))
    # Within the window the verdicts are reused (the signing request refuses a revoked
    # certificate from the database before it signs; at B-LT the DSS's fresh OCSP too).
    again = check_fresh_signature(
        out, expected, trust, revocation, start + timedelta(minutes=4), verdicts
    )
    assert again is not None and again.bottom_line
    assert verdicts.computed == 2
    # The next window validates again and finds the revocation.
    later = check_fresh_signature(
        out, expected, trust, revocation, start + timedelta(minutes=5), verdicts
    )
    assert later is not None and not later.bottom_line
    assert MSG_REVOKED in later.signatures[0].problems
    assert verdicts.computed == 4


def test_an_expired_own_certificate_is_refused_after_the_window(
    pki: EmbeddedPki,
    make_pdf: Callable[..., Path],
    services: TrustServices,
    trust: TrustConfig,
) -> None:
    issued, signer = _own_signer(pki, "Trần Hết Hạn", valid_days=1)
    src = make_pdf()
    out = _sign(src, signer, services, "B-B")
    expected = _expected(src, signer, services, "B-B")
    verdicts = OwnCertificateVerdicts()
    now = utcnow()
    report = check_fresh_signature(out, expected, trust, None, now, verdicts)
    assert report is not None and report.bottom_line
    # A verdict never outlives the certificate, whatever the window.
    (verdict,) = verdicts._items.values()
    assert verdict.until <= issued.not_after
    expired = check_fresh_signature(out, expected, trust, None, now + timedelta(days=2), verdicts)
    assert expired is not None and not expired.bottom_line
    assert not expired.signatures[0].trusted


def test_a_revoked_signer_in_the_dss_is_refused_at_once(
    pki: EmbeddedPki,
    make_pdf: Callable[..., Path],
    duc_signer: LoadedKeySigner,
    trust: TrustConfig,
) -> None:
    """The cached verdict says good, but the DSS's fresh OCSP response says revoked."""
    revocations = MemoryRevocations()
    services = TrustServices(pki, revocations.status_of, revocations.revoked_list)
    src = make_pdf()
    expected = _expected(src, duc_signer, services, "B-LT")
    verdicts = OwnCertificateVerdicts()
    now = utcnow()
    good = _sign(src, duc_signer, services, "B-LT")
    first = check_fresh_signature(
        good, expected, trust, services.revocation_source(), now, verdicts
    )
    assert first is not None and first.bottom_line
    assert duc_signer.signing_cert is not None
    # The signing itself refuses a revoked signer, so the file whose DSS says "revoked"
    # is made by hand: a B-T signature, then a DSS with a "revoked" OCSP response.
    revocations.revoke(duc_signer.signing_cert.serial_number, now - timedelta(minutes=1))
    revoked = _sign(src, duc_signer, services, "B-T")
    crypto_cert = x509.load_der_x509_certificate(duc_signer.signing_cert.dump())
    response = asn1_ocsp.OCSPResponse.load(services.ocsp.response_for(crypto_cert))
    with revoked.open("r+b") as fh:
        DocumentSecurityStore.add_dss(fh, None, ocsps=[response])
    report = check_fresh_signature(
        revoked, expected, trust, services.revocation_source(), now, verdicts
    )
    assert report is not None and not report.bottom_line
    (sig,) = report.signatures
    assert sig.revoked and sig.problems == (MSG_REVOKED,)


def test_the_services_own_ocsp_response_is_reused_for_a_while_only(
    pki: EmbeddedPki, duc_signer: LoadedKeySigner
) -> None:
    moment = [utcnow()]
    revocations = MemoryRevocations()
    services = TrustServices(
        pki, revocations.status_of, revocations.revoked_list, clock=lambda: moment[0]
    )
    tsa_cert = pki.tsa.cert
    assert duc_signer.signing_cert is not None
    signer_cert = x509.load_der_x509_certificate(duc_signer.signing_cert.dump())
    first_tsa = services.ocsp.response_for(tsa_cert)
    first_signer = services.ocsp.response_for(signer_cert)
    moment[0] += timedelta(seconds=2)
    assert services.ocsp.response_for(tsa_cert) == first_tsa  # always good: reused
    assert services.ocsp.response_for(signer_cert) != first_signer  # asked afresh
    moment[0] += timedelta(minutes=5)
    assert services.ocsp.response_for(tsa_cert) != first_tsa  # the reuse ended


def test_the_crl_is_reused_only_while_the_revoked_list_is_the_same(pki: EmbeddedPki) -> None:
    moment = [utcnow()]
    revocations = MemoryRevocations()
    services = TrustServices(
        pki, revocations.status_of, revocations.revoked_list, clock=lambda: moment[0]
    )
    first = services.crl()
    moment[0] += timedelta(seconds=2)
    assert services.crl() == first
    revocations.revoke(424242, moment[0] - timedelta(seconds=1))
    changed = services.crl()
    assert changed != first
    assert x509.load_der_x509_crl(changed).get_revoked_certificate_by_serial_number(424242)
    moment[0] += timedelta(minutes=5)
    assert services.crl() != changed  # the reuse ended: signed anew


def test_a_verdict_is_never_reused_under_other_trust_roots_or_another_instance(
    pki: EmbeddedPki,
    make_pdf: Callable[..., Path],
    duc_signer: LoadedKeySigner,
    trust: TrustConfig,
) -> None:
    """Two databases number their trust lists alike (both at version ``trust.version``)
    and tests freeze the clock at the same minute: a verdict cached under one list or for
    one instance must not answer for another (it once made a signing fail in CI, untrusted
    because an earlier test's list held other roots)."""
    src = make_pdf()
    out = _sign(src, duc_signer, TrustServices(pki, MemoryRevocations().status_of), "B-B")
    services = TrustServices(pki, MemoryRevocations().status_of)
    expected = _expected(src, duc_signer, services, "B-B")
    verdicts = OwnCertificateVerdicts()
    now = utcnow()
    other_root = pki.tsa.cert.public_bytes(Encoding.PEM)  # a certificate, not our root
    stranger = TrustConfig(trust_roots_pem=(other_root,), version=trust.version)
    refused = check_fresh_signature(out, expected, stranger, None, now, verdicts)
    assert refused is not None and not refused.signatures[0].trusted
    accepted = check_fresh_signature(out, expected, trust, None, now, verdicts)
    assert accepted is not None and accepted.bottom_line and accepted.signatures[0].trusted
    assert verdicts.computed == 2
    # Each instance (its database's revocation data) keeps its own verdicts.
    other = TrustServices(pki, MemoryRevocations().status_of)
    assert services.own_verdicts is not other.own_verdicts
