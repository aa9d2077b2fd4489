"""The offline verifier's check of a checkpoint's RFC 3161 token
(``trinhky_verify.pdfsig.token_signature``) against a bundle's ``pki/`` folder.

The bundle's CRL is issued during the export, seconds after the export time that the
manifest records and that the verifier validates at: that CRL must count, while a TSA
that does not chain to the bundle's root, a revoked TSA, or a TSA without usable
revocation data still fail. Every time here is derived from the session PKI's
certificates (the validation ``moment`` is passed in, the TSA and the CRL take theirs
explicitly), so the outcome does not depend on the wall clock.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from datetime import datetime, timedelta

import pytest
from asn1crypto import crl as asn1_crl
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from signing.certutil import whole_seconds
from signing.pki import EmbeddedPki
from signing.revocation import RevokedEntry, build_crl
from signing.tsa import EmbeddedTimeStamper
from trinhky_verify import pdfsig

HEAD_DIGEST = hashlib.sha256(bytes.fromhex("ab" * 32)).digest()
"""What a checkpoint token stamps (``chain.checkpoint_digest`` of a head hash)."""


def _asn1(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(Encoding.DER))


def _moment(pki: EmbeddedPki) -> datetime:
    """The export time the manifest records: well inside every certificate's validity."""
    return whole_seconds(pki.tsa.cert.not_valid_before_utc) + timedelta(days=30, microseconds=250)


def _token(
    tsa_cert: x509.Certificate,
    tsa_key: rsa.RSAPrivateKey,
    chain: Sequence[x509.Certificate],
    at: datetime,
) -> bytes:
    """A token over :data:`HEAD_DIGEST` whose genTime is ``at``."""
    stamper = EmbeddedTimeStamper(tsa_cert, tsa_key, chain, clock=lambda: at)
    return bytes(asyncio.run(stamper.async_timestamp(HEAD_DIGEST, "sha256")).dump())


def _bundle_pki(pki: EmbeddedPki, crls: Sequence[bytes]) -> pdfsig.Pki:
    """What ``trinhky_verify`` loads from a bundle's ``pki/`` folder."""
    others = [pki.issuing_cert, pki.tsa.cert, pki.ocsp_responder.cert]
    return pdfsig.Pki(
        [_asn1(pki.root_cert)],
        [_asn1(c) for c in others],
        [asn1_crl.CertificateList.load(c) for c in crls],
    )


def _issuing_crl(pki: EmbeddedPki, issued: datetime, revoked: Sequence[RevokedEntry] = ()) -> bytes:
    """The issuing CA's CRL as the export writes it, issued at ``issued``."""
    return build_crl(pki.issuing_cert, pki.issuing_key, revoked, now=issued)


def _crls(pki: EmbeddedPki, issued: datetime, revoked: Sequence[RevokedEntry] = ()) -> list[bytes]:
    crls = [_issuing_crl(pki, issued, revoked)]
    if pki.authority_crl is not None:
        crls.append(pki.authority_crl)
    return crls


@pytest.mark.parametrize("delay", [timedelta(0), timedelta(seconds=3), timedelta(hours=2)])
def test_a_crl_issued_after_the_export_time_validates_the_tsa(
    pki: EmbeddedPki, delay: timedelta
) -> None:
    """The export validates every PDF before it issues the CRL, so under load the CRL's
    thisUpdate is seconds after the manifest's ``created_at`` (the validation moment).
    This was reported as "TSA not trusted by the bundle's roots
    (AdESIndeterminate.CERTIFICATE_CHAIN_GENERAL_FAILURE)": pyHanko found the CRL
    "too recent" (beyond its 1 s tolerance) and the TSA had no other revocation data."""
    moment = _moment(pki)
    token = _token(pki.tsa.cert, pki.tsa.key, [pki.issuing_cert], moment - timedelta(seconds=1))
    bundle = _bundle_pki(pki, _crls(pki, moment + delay))

    assert pdfsig.token_signature(token, HEAD_DIGEST, bundle, moment) is None


def test_a_token_over_another_digest_fails(pki: EmbeddedPki) -> None:
    moment = _moment(pki)
    token = _token(pki.tsa.cert, pki.tsa.key, [pki.issuing_cert], moment - timedelta(seconds=1))
    bundle = _bundle_pki(pki, _crls(pki, moment + timedelta(seconds=3)))

    other = hashlib.sha256(b"another head").digest()
    assert pdfsig.token_signature(token, other, bundle, moment) == (
        "token imprint or content does not match"
    )


def test_a_tsa_of_another_pki_is_not_trusted(pki: EmbeddedPki, other_pki: EmbeddedPki) -> None:
    moment = _moment(pki)
    at = moment - timedelta(seconds=1)
    token = _token(other_pki.tsa.cert, other_pki.tsa.key, [other_pki.issuing_cert], at)
    bundle = _bundle_pki(pki, _crls(pki, moment + timedelta(seconds=3)))

    problem = pdfsig.token_signature(token, HEAD_DIGEST, bundle, moment)
    assert problem is not None and problem.startswith("TSA not trusted by the bundle's roots")


def test_a_forged_tsa_certificate_naming_the_issuing_ca_is_not_trusted(pki: EmbeddedPki) -> None:
    """A TSA certificate that names the bundle's issuing CA as issuer but is signed by
    another key (embedded with the genuine issuing CA certificate) does not chain."""
    moment = _moment(pki)
    forger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    tsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "TrinhKy TSA")]))
        .issuer_name(pki.issuing_cert.subject)
        .public_key(tsa_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(moment - timedelta(days=1))
        .not_valid_after(moment + timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
        .sign(forger, hashes.SHA256())
    )
    token = _token(forged, tsa_key, [pki.issuing_cert], moment - timedelta(seconds=1))
    bundle = _bundle_pki(pki, _crls(pki, moment + timedelta(seconds=3)))

    problem = pdfsig.token_signature(token, HEAD_DIGEST, bundle, moment)
    assert problem is not None and problem.startswith("TSA not trusted by the bundle's roots")


def test_a_tsa_revoked_before_the_export_fails(pki: EmbeddedPki) -> None:
    moment = _moment(pki)
    token = _token(pki.tsa.cert, pki.tsa.key, [pki.issuing_cert], moment - timedelta(hours=2))
    revoked = [RevokedEntry(pki.tsa.cert.serial_number, moment - timedelta(hours=1))]
    bundle = _bundle_pki(pki, _crls(pki, moment + timedelta(seconds=3), revoked))

    problem = pdfsig.token_signature(token, HEAD_DIGEST, bundle, moment)
    assert problem is not None and problem.startswith("TSA not trusted by the bundle's roots")
    assert "REVOKED" in problem


@pytest.mark.parametrize("crl_age", [None, timedelta(days=8)])
def test_a_tsa_without_usable_revocation_data_fails(
    pki: EmbeddedPki, crl_age: timedelta | None
) -> None:
    """No CRL of the issuing CA, or one whose nextUpdate (7 days) passed before the
    export: the TSA's revocation status is unknown, which the verifier does not accept."""
    moment = _moment(pki)
    token = _token(pki.tsa.cert, pki.tsa.key, [pki.issuing_cert], moment - timedelta(seconds=1))
    crls = [] if crl_age is None else _crls(pki, moment - crl_age)
    if crl_age is None and pki.authority_crl is not None:
        crls.append(pki.authority_crl)
    bundle = _bundle_pki(pki, crls)

    problem = pdfsig.token_signature(token, HEAD_DIGEST, bundle, moment)
    assert problem is not None and problem.startswith("TSA not trusted by the bundle's roots")
