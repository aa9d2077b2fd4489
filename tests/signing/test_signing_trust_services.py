"""Tests for the embedded OCSP responder, CRL issuer, TSA, service certificates and lifecycle."""

from __future__ import annotations

import hashlib
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from asn1crypto import algos, tsp
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID
from signing_testlib import CA_PASSPHRASE, USER_PASSPHRASE, MemoryRevocations

from signing.errors import CertificateUnusableError
from signing.lifecycle import check_signable
from signing.pki import EmbeddedPki, IssuedCertificate
from signing.revocation import CertStatus
from signing.trust import TrustServices


def _issue(pki: EmbeddedPki, **kwargs: object) -> IssuedCertificate:
    return pki.issue_signing_certificate(
        full_name="Phạm Thị Kiểm Tra",
        title="Chuyên viên",
        unit="Ban Tổ chức",
        organisation="Đảng ủy Khối",
        passphrase=USER_PASSPHRASE,
        **kwargs,  # type: ignore[arg-type]
    )


def _verify(cert: x509.Certificate, signature: bytes, data: bytes) -> None:
    key = cert.public_key()
    assert isinstance(key, rsa.RSAPublicKey)
    key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())


def _ocsp_request(cert: x509.Certificate, issuer: x509.Certificate, nonce: bytes) -> bytes:
    builder = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, hashes.SHA1())  # noqa: S303
    builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
    return builder.build().public_bytes(serialization.Encoding.DER)


def test_ocsp_round_trip_good_and_revoked(
    pki: EmbeddedPki, services: TrustServices, revocations: MemoryRevocations
) -> None:
    good = x509.load_pem_x509_certificate(_issue(pki).cert_pem)
    bad = x509.load_pem_x509_certificate(_issue(pki).cert_pem)
    revoked_at = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
    revocations.revoke(bad.serial_number, revoked_at, "key_compromise")
    for cert, expected in ((good, ocsp.OCSPCertStatus.GOOD), (bad, ocsp.OCSPCertStatus.REVOKED)):
        der = services.ocsp.respond(_ocsp_request(cert, pki.issuing_cert, b"nonce-1234567890"))
        resp = ocsp.load_der_ocsp_response(der)
        assert resp.response_status == ocsp.OCSPResponseStatus.SUCCESSFUL
        assert resp.serial_number == cert.serial_number
        assert resp.certificate_status == expected
        for moment in (resp.produced_at_utc, resp.this_update_utc, resp.next_update_utc):
            assert moment is not None and moment.microsecond == 0
        assert resp.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce == (
            b"nonce-1234567890"
        )
        (responder,) = resp.certificates
        assert responder == pki.ocsp_responder.cert
        eku = responder.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
        assert eku.value == x509.ExtendedKeyUsage([ExtendedKeyUsageOID.OCSP_SIGNING])
        responder.extensions.get_extension_for_class(x509.OCSPNoCheck)
        responder.verify_directly_issued_by(pki.issuing_cert)
        _verify(responder, resp.signature, resp.tbs_response_bytes)
    assert resp.revocation_time_utc == revoked_at.replace(microsecond=0)
    assert resp.revocation_reason == x509.ReasonFlags.key_compromise


def test_ocsp_refuses_garbage_and_other_issuers(
    pki: EmbeddedPki, other_pki: EmbeddedPki, services: TrustServices
) -> None:
    garbage = ocsp.load_der_ocsp_response(services.ocsp.respond(b"not an OCSP request"))
    assert garbage.response_status == ocsp.OCSPResponseStatus.MALFORMED_REQUEST
    foreign = x509.load_pem_x509_certificate(_issue(other_pki).cert_pem)
    der = services.ocsp.respond(_ocsp_request(foreign, other_pki.issuing_cert, b"n" * 16))
    assert ocsp.load_der_ocsp_response(der).response_status == (
        ocsp.OCSPResponseStatus.UNAUTHORIZED
    )


def test_crl_lists_revoked_serials(
    pki: EmbeddedPki, services: TrustServices, revocations: MemoryRevocations
) -> None:
    cert = x509.load_pem_x509_certificate(_issue(pki).cert_pem)
    revocations.revoke(cert.serial_number, datetime.now(UTC) - timedelta(minutes=1), None)
    crl = x509.load_der_x509_crl(services.crl())
    assert crl.is_signature_valid(pki.issuing_cert.public_key())
    assert crl.issuer == pki.issuing_cert.subject
    entry = crl.get_revoked_certificate_by_serial_number(cert.serial_number)
    assert entry is not None and entry.revocation_date_utc.microsecond == 0
    assert crl.last_update_utc.microsecond == 0 and crl.next_update_utc is not None
    assert crl.get_revoked_certificate_by_serial_number(pki.tsa.cert.serial_number) is None


def test_tsa_grants_a_verifiable_token(pki: EmbeddedPki, services: TrustServices) -> None:
    digest = hashlib.sha256(b"van ban").digest()
    req = tsp.TimeStampReq(
        {
            "version": 1,
            "message_imprint": {
                "hash_algorithm": algos.DigestAlgorithm({"algorithm": "sha256"}),
                "hashed_message": digest,
            },
            "nonce": 123456789,
            "cert_req": True,
        }
    )
    resp = tsp.TimeStampResp.load(services.timestamper.answer_der(req.dump()))
    assert resp["status"]["status"].native == "granted"
    signed_data = resp["time_stamp_token"]["content"]
    tst_info = signed_data["encap_content_info"]["content"].parsed
    assert tst_info["message_imprint"]["hashed_message"].native == digest
    assert tst_info["nonce"].native == 123456789
    assert tst_info["gen_time"].native.microsecond == 0
    (signer_info,) = signed_data["signer_infos"]
    attrs = {a["type"].native: a["values"][0] for a in signer_info["signed_attrs"]}
    assert attrs["message_digest"].native == hashlib.sha256(tst_info.dump()).digest()
    certs = [x509.load_der_x509_certificate(c.chosen.dump()) for c in signed_data["certificates"]]
    assert pki.tsa.cert in certs
    eku = pki.tsa.cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert eku.critical and list(eku.value) == [ExtendedKeyUsageOID.TIME_STAMPING]
    signed_attrs_der = b"\x31" + signer_info["signed_attrs"].dump()[1:]  # [0] IMPLICIT -> SET
    _verify(pki.tsa.cert, signer_info["signature"].native, signed_attrs_der)


def _rejection_status(der: bytes) -> tsp.PKIStatusInfo:
    """The status of a token-less response (asn1crypto's TimeStampResp requires a token)."""
    assert der[0] == 0x30 and der[1] < 0x80 and len(der) == der[1] + 2
    return tsp.PKIStatusInfo.load(der[2:])


@pytest.mark.parametrize(
    ("algorithm", "digest", "failure"),
    [("sha1", b"x" * 20, "bad_alg"), ("sha256", b"short", "bad_data_format")],
)
def test_tsa_rejects_bad_requests(
    services: TrustServices, algorithm: str, digest: bytes, failure: str
) -> None:
    req = tsp.TimeStampReq(
        {
            "version": 1,
            "message_imprint": {
                "hash_algorithm": {"algorithm": algorithm},
                "hashed_message": digest,
            },
        }
    )
    status = _rejection_status(services.timestamper.answer_der(req.dump()))
    assert status["status"].native == "rejection"
    assert failure in status["fail_info"].native
    garbage = _rejection_status(services.timestamper.answer_der(b"\x30\x03garbage"))
    assert "bad_data_format" in garbage["fail_info"].native


def test_old_pki_gets_service_certificates_on_load(pki_dir: Path, tmp_path: Path) -> None:
    old = tmp_path / "old"
    shutil.copytree(pki_dir, old)
    for name in ("tsa.pem", "tsa.key.pem", "ocsp.pem", "ocsp.key.pem"):
        (old / name).unlink()
    first = EmbeddedPki.load(old, CA_PASSPHRASE)
    assert (old / "tsa.pem").exists() and (old / "ocsp.key.pem").stat().st_mode & 0o777 == 0o600
    first.tsa.cert.verify_directly_issued_by(first.issuing_cert)
    again = EmbeddedPki.load(old, CA_PASSPHRASE)
    assert again.tsa.cert == first.tsa.cert
    assert again.ocsp_responder.cert == first.ocsp_responder.cert
    assert b"ENCRYPTED PRIVATE KEY" in (old / "tsa.key.pem").read_bytes()


def test_certificate_urls(pki: EmbeddedPki) -> None:
    plain = x509.load_pem_x509_certificate(_issue(pki).cert_pem)
    with pytest.raises(x509.ExtensionNotFound):
        plain.extensions.get_extension_for_class(x509.AuthorityInformationAccess)
    cert = x509.load_pem_x509_certificate(
        _issue(
            pki, ocsp_url="http://ca.example.vn/pki/ocsp", crl_url="http://ca.example.vn/pki/crl"
        ).cert_pem
    )
    aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    assert aia[0].access_location.value == "http://ca.example.vn/pki/ocsp"
    cdp = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    assert cdp[0].full_name is not None
    assert cdp[0].full_name[0].value == "http://ca.example.vn/pki/crl"


def test_check_signable(pki: EmbeddedPki) -> None:
    now = datetime.now(UTC)
    issued = _issue(pki)
    check_signable(issued.cert_pem, now, CertStatus(revoked=False))
    check_signable(issued.cert_pem, now)
    with pytest.raises(CertificateUnusableError, match="đã bị thu hồi") as revoked:
        check_signable(
            issued.cert_pem,
            now,
            CertStatus(revoked=True, revoked_at=now - timedelta(days=1), reason="key_compromise"),
        )
    assert revoked.value.code == "revoked" and "lộ khóa bí mật" in str(revoked.value)
    # revocation announced for later: still usable now
    check_signable(issued.cert_pem, now, CertStatus(revoked=True, revoked_at=now + timedelta(1)))
    expired = _issue(pki, not_before=now - timedelta(days=40), valid_days=10)
    with pytest.raises(CertificateUnusableError, match="đã hết hạn") as exc:
        check_signable(expired.cert_pem, now)
    assert exc.value.code == "expired"
    future = _issue(pki, not_before=now + timedelta(days=2))
    with pytest.raises(CertificateUnusableError, match="chưa có hiệu lực") as exc:
        check_signable(future.cert_pem, now)
    assert exc.value.code == "not_yet_valid"
    with pytest.raises(CertificateUnusableError) as exc:
        check_signable(b"garbage", now)
    assert exc.value.code == "unreadable"
