"""Shared helpers for the signing tests (imported by conftest.py and the test modules)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from signing.revocation import CertStatus, RevokedEntry
from tests.pdfs import simple_pdf

CA_PASSPHRASE = b"ca-passphrase-for-tests"
USER_PASSPHRASE = "mật khẩu người ký"


def make_pdf_bytes(text: str = "Van ban thu nghiem", pages: int = 1) -> bytes:
    """A small valid PDF (A4 pages with one line of Helvetica text each)."""
    return simple_pdf(text, pages)


def issue_from_ca(
    pki_dir: Path,
    ca_passphrase: bytes,
    common_name: str,
    public_key: CertificatePublicKeyTypes,
    *,
    time_stamping: bool = False,
) -> x509.Certificate:
    """Issue a test certificate (signer or TSA) directly with the issuing CA key on disk."""
    issuing = x509.load_pem_x509_certificate((pki_dir / "issuing.pem").read_bytes())
    ca_key = serialization.load_pem_private_key(
        (pki_dir / "issuing.key.pem").read_bytes(), ca_passphrase
    )
    assert isinstance(ca_key, rsa.RSAPrivateKey)
    now = datetime.now(UTC) - timedelta(minutes=5)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .issuer_name(issuing.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=30))
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=not time_stamping,
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
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
    )
    if time_stamping:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True
        )
    return builder.sign(ca_key, hashes.SHA256())


class MemoryRevocations:
    """A stand-in for the certificate database: serial -> status, and the revoked list."""

    def __init__(self) -> None:
        self.revoked: dict[int, tuple[datetime, str | None]] = {}

    def revoke(self, serial: int, at: datetime, reason: str | None = "key_compromise") -> None:
        self.revoked[serial] = (at, reason)

    def status_of(self, serial: int) -> CertStatus:
        if serial in self.revoked:
            at, reason = self.revoked[serial]
            return CertStatus(revoked=True, revoked_at=at, reason=reason)
        return CertStatus(revoked=False)

    def revoked_list(self) -> list[RevokedEntry]:
        return [RevokedEntry(s, at, r) for s, (at, r) in self.revoked.items()]
