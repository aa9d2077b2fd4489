"""Signing layer: embedded certificate authority for tests and self-hosted deployments."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from signing.errors import KeyLoadError
from signing.keys import decrypt_private_key

ROOT_CERT = "root.pem"
ISSUING_CERT = "issuing.pem"
ROOT_KEY = "root.key.pem"
ISSUING_KEY = "issuing.key.pem"


@dataclass(frozen=True)
class IssuedCertificate:
    """A freshly issued end-entity certificate with its encrypted private key."""

    cert_pem: bytes
    """PEM of the end-entity certificate."""
    encrypted_key_pem: bytes
    """PKCS#8 PEM private key, encrypted with the holder's passphrase."""
    fingerprint_sha256: str
    """Lowercase hex SHA-256 over the certificate's DER."""
    serial: int
    """Certificate serial number."""
    subject: str
    """RFC 4514 subject (UTF-8, Vietnamese preserved)."""
    not_before: datetime
    """Start of validity (timezone-aware UTC)."""
    not_after: datetime
    """End of validity (timezone-aware UTC)."""


def _now() -> datetime:
    """Current UTC time to the second, backdated a little against clock skew."""
    return datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)


def _common_name(value: str) -> x509.NameAttribute[str]:
    """A CN attribute, shortened by whole words to fit the 64-byte UTF-8 limit."""
    words = value.split()
    while len(" ".join(words).encode("utf-8")) > 64 and len(words) > 1:
        words.pop()
    text = " ".join(words).rstrip(" -")
    return x509.NameAttribute(
        NameOID.COMMON_NAME, text.encode("utf-8")[:64].decode("utf-8", "ignore")
    )


def _pem(cert: x509.Certificate) -> bytes:
    """PEM encoding of a certificate."""
    return cert.public_bytes(serialization.Encoding.PEM)


def _encrypted_key(key: rsa.RSAPrivateKey, passphrase: bytes) -> bytes:
    """PKCS#8 PEM of ``key`` encrypted with ``passphrase``."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(passphrase),
    )


def fingerprint_sha256(cert: x509.Certificate) -> str:
    """Lowercase hex SHA-256 fingerprint over the certificate's DER.

    :param cert: the certificate.
    :returns: 64 lowercase hex digits.
    """
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


def _ca_cert(
    subject: x509.Name,
    key: rsa.RSAPrivateKey,
    issuer_cert: x509.Certificate | None,
    issuer_key: rsa.RSAPrivateKey,
    years: int,
    path_length: int | None,
) -> x509.Certificate:
    """Build a CA certificate (self-signed when ``issuer_cert`` is None)."""
    start = _now()
    issuer = issuer_cert.subject if issuer_cert is not None else subject
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=365 * years + years // 4))
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
            critical=False,
        )
    )
    return builder.sign(issuer_key, hashes.SHA256())


def _write_atomically(path: Path, data: bytes, mode: int) -> Path:
    """Write ``data`` to a temporary file next to ``path``; returns the temp path."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.chmod(tmp, mode)  # the umask may have narrowed or widened os.open's mode
    return tmp


class EmbeddedPki:
    """A two-level CA (root and issuing CA) stored as PEM files in one directory."""

    def __init__(
        self,
        root_cert: x509.Certificate,
        issuing_cert: x509.Certificate,
        issuing_key: rsa.RSAPrivateKey,
    ) -> None:
        """Wrap loaded CA material; use :meth:`create` or :meth:`load` instead.

        :param root_cert: the root CA certificate.
        :param issuing_cert: the issuing CA certificate.
        :param issuing_key: the issuing CA's private key.
        """
        self.root_cert = root_cert
        """The self-signed root CA certificate."""
        self.issuing_cert = issuing_cert
        """The issuing CA certificate, signed by the root."""
        self._issuing_key = issuing_key

    @staticmethod
    def exists(directory: Path) -> bool:
        """Whether a PKI has been created in ``directory``.

        :param directory: the PKI directory.
        :returns: True if ``root.pem`` exists there.
        """
        return (directory / ROOT_CERT).exists()

    @classmethod
    def create(
        cls,
        directory: Path,
        ca_passphrase: bytes,
        org_name: str = "Đảng ủy Khối Cơ quan - Doanh nghiệp tỉnh",
    ) -> EmbeddedPki:
        """Generate a root CA and an issuing CA and store them in ``directory``.

        Writes ``root.pem``, ``issuing.pem``, ``root.key.pem`` and
        ``issuing.key.pem`` (keys PKCS#8-encrypted with ``ca_passphrase``, mode
        0600) through temporary files; ``root.pem`` is renamed into place last.

        :param directory: where to store the files; created if missing.
        :param ca_passphrase: passphrase protecting both CA keys.
        :param org_name: organisation name used in the CA subjects.
        :returns: the new PKI.
        :raises FileExistsError: ``root.pem`` already exists in ``directory``.
        """
        if cls.exists(directory):
            raise FileExistsError(str(directory / ROOT_CERT))
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        root_key = rsa.generate_private_key(public_exponent=65537, key_size=3072)
        root_name = x509.Name(
            [
                x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, org_name),
                _common_name(f"TrinhKy Root CA - {org_name}"),
            ]
        )
        root = _ca_cert(root_name, root_key, None, root_key, years=20, path_length=1)
        issuing_key = rsa.generate_private_key(public_exponent=65537, key_size=3072)
        issuing_name = x509.Name(
            [
                x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, org_name),
                _common_name(f"TrinhKy Issuing CA - {org_name}"),
            ]
        )
        issuing = _ca_cert(issuing_name, issuing_key, root, root_key, years=10, path_length=0)
        files = [
            (ROOT_KEY, _encrypted_key(root_key, ca_passphrase), 0o600),
            (ISSUING_KEY, _encrypted_key(issuing_key, ca_passphrase), 0o600),
            (ISSUING_CERT, _pem(issuing), 0o644),
            (ROOT_CERT, _pem(root), 0o644),
        ]
        temps = [(_write_atomically(directory / n, d, m), directory / n) for n, d, m in files]
        for tmp, final in temps:
            tmp.replace(final)
        return cls(root, issuing, issuing_key)

    @classmethod
    def load(cls, directory: Path, ca_passphrase: bytes) -> EmbeddedPki:
        """Load a PKI created by :meth:`create`.

        Only the issuing CA key is decrypted; the root key stays on disk.

        :param directory: the PKI directory.
        :param ca_passphrase: passphrase protecting the CA keys.
        :returns: the loaded PKI.
        :raises WrongPassphraseError: the passphrase does not decrypt the issuing key.
        :raises KeyLoadError: a file is missing, unreadable or inconsistent.
        """
        try:
            root = x509.load_pem_x509_certificate((directory / ROOT_CERT).read_bytes())
            issuing = x509.load_pem_x509_certificate((directory / ISSUING_CERT).read_bytes())
            key_pem = (directory / ISSUING_KEY).read_bytes()
        except (OSError, ValueError) as exc:
            raise KeyLoadError(f"cannot read the PKI in {directory}: {exc}") from exc
        key = decrypt_private_key(key_pem, ca_passphrase)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise KeyLoadError("the issuing CA key is not an RSA key")
        if key.public_key() != issuing.public_key():
            raise KeyLoadError("the issuing CA key does not match issuing.pem")
        return cls(root, issuing, key)

    def root_pem(self) -> bytes:
        """PEM of the root CA certificate.

        :returns: the PEM bytes.
        """
        return _pem(self.root_cert)

    def chain_pems(self) -> list[bytes]:
        """PEMs of the chain above an end-entity certificate.

        :returns: ``[issuing, root]``.
        """
        return [_pem(self.issuing_cert), _pem(self.root_cert)]

    def issue_signing_certificate(
        self,
        *,
        full_name: str,
        title: str,
        unit: str,
        organisation: str,
        passphrase: str,
        email: str | None = None,
        valid_days: int = 730,
        key_size: int = 2048,
    ) -> IssuedCertificate:
        """Issue a personal signing certificate and an encrypted RSA key for it.

        Subject ``C=VN, O=organisation, OU=unit, title=title, CN=full_name``
        (UTF8String); key usage digitalSignature + nonRepudiation (critical); no
        extended key usage (accepted by pyHanko and poppler/NSS); not a CA; no
        OCSP/CRL pointers yet.

        :param full_name: the holder's full name, e.g. ``'Lê Văn Đức'``.
        :param title: the holder's position.
        :param unit: organisational unit.
        :param organisation: organisation.
        :param passphrase: passphrase that will protect the private key.
        :param email: optional e-mail address, added as an rfc822Name SAN.
        :param valid_days: validity period in days.
        :param key_size: RSA key size in bits.
        :returns: the certificate, the encrypted key and their metadata.
        """
        key = rsa.generate_private_key(public_exponent=65537, key_size=key_size)
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
                x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, unit),
                x509.NameAttribute(NameOID.TITLE, title),
                _common_name(full_name),
            ]
        )
        start = _now()
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self.issuing_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(start + timedelta(days=valid_days))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=True,
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
                x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self._issuing_key.public_key()),
                critical=False,
            )
        )
        if email:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.RFC822Name(email)]), critical=False
            )
        cert = builder.sign(self._issuing_key, hashes.SHA256())
        return IssuedCertificate(
            cert_pem=_pem(cert),
            encrypted_key_pem=_encrypted_key(key, passphrase.encode("utf-8")),
            fingerprint_sha256=fingerprint_sha256(cert),
            serial=cert.serial_number,
            subject=cert.subject.rfc4514_string(),
            not_before=cert.not_valid_before_utc,
            not_after=cert.not_valid_after_utc,
        )
