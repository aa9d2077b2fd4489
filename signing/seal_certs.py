"""Signing layer: certificates for keys the server never holds (the organisation's seal
key on a PKCS#11 token or HSM): issued by the embedded CA for a given public key, or
imported and checked against that key."""

from __future__ import annotations

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from signing.errors import KeyLoadError
from signing.pki import EmbeddedPki

SEAL_TITLE = "Chữ ký số của cơ quan"
"""The ``title`` attribute of seal certificates (as for seals whose key the server keeps)."""


def issue_for_public_key(
    pki: EmbeddedPki,
    public_key_der: bytes,
    *,
    name: str,
    organisation: str,
    valid_days: int = 730,
    ocsp_url: str | None = None,
    crl_url: str | None = None,
) -> x509.Certificate:
    """Issue a seal certificate from the embedded CA for a key kept elsewhere.

    Same profile as the stored seal certificates: ``C=VN, O, OU, title, CN``, key usage
    digitalSignature + nonRepudiation (critical), not a CA, SKI and AKI, and OCSP/CRL
    locations only when given.

    :param pki: the embedded CA.
    :param public_key_der: SubjectPublicKeyInfo (DER) of the key pair (RSA or EC).
    :param name: the issuing unit's name (CN and OU).
    :param organisation: the organisation (O).
    :param valid_days: validity period in days.
    :param ocsp_url: URL of the OCSP responder.
    :param crl_url: URL of the CRL.
    :returns: the certificate.
    :raises KeyLoadError: the public key is neither RSA nor EC.
    """
    public_key = serialization.load_der_public_key(public_key_der)
    if not isinstance(public_key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
        raise KeyLoadError(f"unsupported key type for a seal: {type(public_key).__name__}")
    return pki.certify_public_key(
        public_key,
        full_name=name,
        title=SEAL_TITLE,
        unit=name[:64],
        organisation=organisation[:64],
        valid_days=valid_days,
        ocsp_url=ocsp_url,
        crl_url=crl_url,
    )


def check_matches_key(cert: x509.Certificate, public_key_der: bytes) -> None:
    """Check that an imported certificate certifies the token's key.

    :param cert: the certificate to import.
    :param public_key_der: SubjectPublicKeyInfo (DER) of the key on the token.
    :raises KeyLoadError: the certificate is for another key.
    """
    spki = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    if spki != public_key_der:
        raise KeyLoadError("the certificate is for another key than the one on the token")
