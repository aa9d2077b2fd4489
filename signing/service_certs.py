"""Signing layer: certificates of the embedded trust services (TSA, OCSP responder)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from signing.certutil import (
    backdated_now,
    cert_pem,
    common_name,
    directory_lock,
    encrypted_key,
    write_atomically,
)
from signing.errors import KeyLoadError
from signing.keys import decrypt_private_key
from signing.revocation import build_crl


@dataclass(frozen=True)
class ServiceKind:
    """What distinguishes one trust-service certificate from another."""

    cert_file: str
    """File name of the certificate (PEM) in the PKI directory."""
    key_file: str
    """File name of the encrypted private key (PKCS#8 PEM) in the PKI directory."""
    label: str
    """Start of the common name, e.g. ``'TrinhKy TSA'``."""
    eku: x509.ObjectIdentifier
    """The single (critical) extended key usage."""
    ocsp_nocheck: bool
    """Add id-pkix-ocsp-nocheck (OCSP responders: no revocation check of the responder)."""
    valid_days: int
    """Validity of a new certificate (capped by the issuing CA's validity)."""
    renew_days: int
    """A certificate with fewer days left than this is replaced on load."""


TSA = ServiceKind(
    cert_file="tsa.pem",
    key_file="tsa.key.pem",
    label="TrinhKy TSA",
    eku=ExtendedKeyUsageOID.TIME_STAMPING,
    ocsp_nocheck=False,
    valid_days=5 * 365 + 1,
    renew_days=365,
)
"""The RFC 3161 time-stamping authority."""

OCSP_RESPONDER = ServiceKind(
    cert_file="ocsp.pem",
    key_file="ocsp.key.pem",
    label="TrinhKy OCSP",
    eku=ExtendedKeyUsageOID.OCSP_SIGNING,
    ocsp_nocheck=True,
    valid_days=365,
    renew_days=30,
)
"""The delegated OCSP responder of the issuing CA."""


@dataclass(frozen=True)
class ServiceIdentity:
    """A trust service's certificate and its decrypted private key."""

    cert: x509.Certificate
    """The service certificate, issued by the issuing CA."""
    key: rsa.RSAPrivateKey
    """The matching private key."""


def _organisation(issuing_cert: x509.Certificate) -> str:
    values = issuing_cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    return str(values[0].value) if values else "TrinhKy"


def _issue(
    kind: ServiceKind,
    key: rsa.RSAPrivateKey,
    issuing_cert: x509.Certificate,
    issuing_key: rsa.RSAPrivateKey,
) -> x509.Certificate:
    """Issue a service certificate with the issuing CA key."""
    start = backdated_now()
    end = min(start + timedelta(days=kind.valid_days), issuing_cert.not_valid_after_utc)
    org = _organisation(issuing_cert)
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
            common_name(f"{kind.label} - {org}"),
        ]
    )
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuing_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([kind.eku]), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuing_key.public_key()),
            critical=False,
        )
    )
    if kind.ocsp_nocheck:
        builder = builder.add_extension(x509.OCSPNoCheck(), critical=False)
    return builder.sign(issuing_key, hashes.SHA256())


def create_service_identity(
    kind: ServiceKind,
    directory: Path,
    passphrase: bytes,
    issuing_cert: x509.Certificate,
    issuing_key: rsa.RSAPrivateKey,
) -> ServiceIdentity:
    """Generate a key and certificate for a trust service and store them in ``directory``.

    The key (PKCS#8, encrypted with ``passphrase``, mode 0600) is renamed into
    place before the certificate; a reader that sees a mismatching pair treats it
    as missing.

    :param kind: :data:`TSA` or :data:`OCSP_RESPONDER`.
    :param directory: the PKI directory.
    :param passphrase: the CA passphrase (protects the service key too).
    :param issuing_cert: the issuing CA certificate.
    :param issuing_key: the issuing CA private key.
    :returns: the new identity.
    """
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert = _issue(kind, key, issuing_cert, issuing_key)
    key_tmp = write_atomically(directory / kind.key_file, encrypted_key(key, passphrase), 0o600)
    cert_tmp = write_atomically(directory / kind.cert_file, cert_pem(cert), 0o644)
    key_tmp.replace(directory / kind.key_file)
    cert_tmp.replace(directory / kind.cert_file)
    return ServiceIdentity(cert, key)


def _read(
    kind: ServiceKind, directory: Path, passphrase: bytes, issuing_cert: x509.Certificate
) -> ServiceIdentity | None:
    """The stored identity, or None if missing, mismatched, foreign or due for renewal."""
    cert_path, key_path = directory / kind.cert_file, directory / kind.key_file
    if not cert_path.exists() or not key_path.exists():
        return None
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        key_pem = key_path.read_bytes()
    except (OSError, ValueError) as exc:
        raise KeyLoadError(f"cannot read {cert_path.name}: {exc}") from exc
    key = decrypt_private_key(key_pem, passphrase)
    if not isinstance(key, rsa.RSAPrivateKey) or key.public_key() != cert.public_key():
        return None
    if cert.issuer != issuing_cert.subject:
        return None
    if cert.not_valid_after_utc - backdated_now() < timedelta(days=kind.renew_days):
        return None
    return ServiceIdentity(cert, key)


def load_or_create_service_identity(
    kind: ServiceKind,
    directory: Path,
    passphrase: bytes,
    issuing_cert: x509.Certificate,
    issuing_key: rsa.RSAPrivateKey,
) -> ServiceIdentity:
    """Load a trust service's identity; create (or renew) it if missing or expiring.

    Existing PKI directories made before the trust services existed get their
    service certificates on first load. Creation is serialised with a lock file.

    :param kind: :data:`TSA` or :data:`OCSP_RESPONDER`.
    :param directory: the PKI directory.
    :param passphrase: the CA passphrase.
    :param issuing_cert: the issuing CA certificate.
    :param issuing_key: the issuing CA private key.
    :returns: the identity.
    :raises WrongPassphraseError: the passphrase does not decrypt the service key.
    :raises KeyLoadError: a file is unreadable.
    """
    identity = _read(kind, directory, passphrase, issuing_cert)
    if identity is not None:
        return identity
    with directory_lock(directory):
        identity = _read(kind, directory, passphrase, issuing_cert)
        if identity is not None:
            return identity
        return create_service_identity(kind, directory, passphrase, issuing_cert, issuing_key)


AUTHORITY_CRL = "root.crl"
"""File name of the root's CRL over CA certificates (ARL), DER."""

_ARL_VALID_DAYS = 365
_ARL_RENEW_DAYS = 60


def _read_arl(path: Path, root_cert: x509.Certificate) -> bytes | None:
    """The stored ARL, or None if missing, foreign or due for renewal."""
    if not path.exists():
        return None
    data = path.read_bytes()
    try:
        crl = x509.load_der_x509_crl(data)
    except ValueError:
        return None
    root_key = root_cert.public_key()
    if not isinstance(root_key, rsa.RSAPublicKey):
        return None
    if crl.issuer != root_cert.subject or not crl.is_signature_valid(root_key):
        return None
    if crl.next_update_utc is None:
        return None
    if crl.next_update_utc - backdated_now() < timedelta(days=_ARL_RENEW_DAYS):
        return None
    return data


def load_or_create_authority_crl(
    directory: Path, passphrase: bytes, root_cert: x509.Certificate, root_key_file: str
) -> bytes:
    """The root's ARL (no CA certificate revoked), issued again when missing or expiring.

    Long-term (AdES) validation needs revocation data for every certificate of
    the path, the issuing CA included; the root key is decrypted only to renew it.

    :param directory: the PKI directory.
    :param passphrase: the CA passphrase.
    :param root_cert: the root CA certificate.
    :param root_key_file: file name of the encrypted root key.
    :returns: the DER ARL.
    :raises WrongPassphraseError: the passphrase does not decrypt the root key.
    """
    path = directory / AUTHORITY_CRL
    data = _read_arl(path, root_cert)
    if data is not None:
        return data
    with directory_lock(directory):
        data = _read_arl(path, root_cert)
        if data is not None:
            return data
        key = decrypt_private_key((directory / root_key_file).read_bytes(), passphrase)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise KeyLoadError("the root CA key is not an RSA key")
        data = build_crl(root_cert, key, [], validity=timedelta(days=_ARL_VALID_DAYS))
        write_atomically(path, data, 0o644).replace(path)
        return data
