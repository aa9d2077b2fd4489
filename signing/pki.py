"""Signing layer: embedded certificate authority for tests and self-hosted deployments."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import AuthorityInformationAccessOID, NameOID

from signing.certutil import backdated_now as _now
from signing.certutil import cert_pem as _pem
from signing.certutil import common_name as _common_name
from signing.certutil import encrypted_key as _encrypted_key
from signing.certutil import whole_seconds
from signing.certutil import write_atomically as _write_atomically
from signing.errors import KeyLoadError
from signing.keys import decrypt_private_key
from signing.service_certs import (
    OCSP_RESPONDER,
    TSA,
    ServiceIdentity,
    create_service_identity,
    load_or_create_authority_crl,
    load_or_create_service_identity,
)

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


class EmbeddedPki:
    """A two-level CA (root and issuing CA) stored as PEM files in one directory."""

    def __init__(
        self,
        root_cert: x509.Certificate,
        issuing_cert: x509.Certificate,
        issuing_key: rsa.RSAPrivateKey,
        tsa: ServiceIdentity | None = None,
        ocsp_responder: ServiceIdentity | None = None,
        authority_crl: bytes | None = None,
    ) -> None:
        """Wrap loaded CA material; use :meth:`create` or :meth:`load` instead.

        :param root_cert: the root CA certificate.
        :param issuing_cert: the issuing CA certificate.
        :param issuing_key: the issuing CA's private key.
        :param tsa: the time-stamping authority's certificate and key.
        :param ocsp_responder: the OCSP responder's certificate and key.
        :param authority_crl: the root's DER CRL over CA certificates (ARL).
        """
        self.root_cert = root_cert
        """The self-signed root CA certificate."""
        self.issuing_cert = issuing_cert
        """The issuing CA certificate, signed by the root."""
        self._issuing_key = issuing_key
        self._tsa = tsa
        self._ocsp = ocsp_responder
        self.authority_crl = authority_crl
        """The root's DER CRL over CA certificates (ARL), for long-term validation data."""

    @property
    def tsa(self) -> ServiceIdentity:
        """The TSA certificate (EKU timeStamping, critical) and its key.

        :raises KeyLoadError: this instance was built without a TSA.
        """
        if self._tsa is None:
            raise KeyLoadError("this PKI instance has no TSA identity loaded")
        return self._tsa

    @property
    def ocsp_responder(self) -> ServiceIdentity:
        """The OCSP responder certificate (EKU OCSPSigning, ocsp-nocheck) and its key.

        :raises KeyLoadError: this instance was built without an OCSP responder.
        """
        if self._ocsp is None:
            raise KeyLoadError("this PKI instance has no OCSP responder identity loaded")
        return self._ocsp

    @property
    def issuing_key(self) -> rsa.RSAPrivateKey:
        """The issuing CA's private key (signs certificates and CRLs)."""
        return self._issuing_key

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
        0600), plus the trust-service certificates and keys ``tsa.pem``,
        ``tsa.key.pem``, ``ocsp.pem`` and ``ocsp.key.pem``, through temporary
        files; ``root.pem`` is renamed into place last.

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
        temps = [(_write_atomically(directory / n, d, m), directory / n) for n, d, m in files[:2]]
        for tmp, final in temps:
            tmp.replace(final)
        tsa = create_service_identity(TSA, directory, ca_passphrase, issuing, issuing_key)
        ocsp = create_service_identity(
            OCSP_RESPONDER, directory, ca_passphrase, issuing, issuing_key
        )
        arl = load_or_create_authority_crl(directory, ca_passphrase, root, ROOT_KEY)
        temps = [(_write_atomically(directory / n, d, m), directory / n) for n, d, m in files[2:]]
        for tmp, final in temps:
            tmp.replace(final)
        return cls(root, issuing, issuing_key, tsa, ocsp, arl)

    @classmethod
    def load(cls, directory: Path, ca_passphrase: bytes) -> EmbeddedPki:
        """Load a PKI created by :meth:`create`.

        Only the issuing CA key and the trust-service keys are decrypted; the root
        key stays on disk. A directory made before the trust services existed (or
        whose TSA or OCSP responder certificate is close to expiry) gets new
        service certificates, issued by the issuing CA, on load.

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
        tsa = load_or_create_service_identity(TSA, directory, ca_passphrase, issuing, key)
        ocsp = load_or_create_service_identity(
            OCSP_RESPONDER, directory, ca_passphrase, issuing, key
        )
        arl = load_or_create_authority_crl(directory, ca_passphrase, root, ROOT_KEY)
        return cls(root, issuing, key, tsa, ocsp, arl)

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

    def certify_public_key(
        self,
        public_key: rsa.RSAPublicKey | ec.EllipticCurvePublicKey,
        *,
        full_name: str,
        title: str,
        unit: str,
        organisation: str,
        email: str | None = None,
        valid_days: int = 730,
        ocsp_url: str | None = None,
        crl_url: str | None = None,
        not_before: datetime | None = None,
    ) -> x509.Certificate:
        """Issue the signing certificate profile of :meth:`issue_signing_certificate` for
        ``public_key``, whose private key is kept elsewhere (e.g. on a token).

        :returns: the certificate.
        """
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
                x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, unit),
                x509.NameAttribute(NameOID.TITLE, title),
                _common_name(full_name),
            ]
        )
        start = _now() if not_before is None else whole_seconds(not_before)
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self.issuing_cert.subject)
            .public_key(public_key)
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
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self._issuing_key.public_key()),
                critical=False,
            )
        )
        if email:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.RFC822Name(email)]), critical=False
            )
        if ocsp_url:
            builder = builder.add_extension(
                x509.AuthorityInformationAccess(
                    [
                        x509.AccessDescription(
                            AuthorityInformationAccessOID.OCSP,
                            x509.UniformResourceIdentifier(ocsp_url),
                        )
                    ]
                ),
                critical=False,
            )
        if crl_url:
            builder = builder.add_extension(
                x509.CRLDistributionPoints(
                    [
                        x509.DistributionPoint(
                            full_name=[x509.UniformResourceIdentifier(crl_url)],
                            relative_name=None,
                            reasons=None,
                            crl_issuer=None,
                        )
                    ]
                ),
                critical=False,
            )
        return builder.sign(self._issuing_key, hashes.SHA256())

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
        ocsp_url: str | None = None,
        crl_url: str | None = None,
        not_before: datetime | None = None,
    ) -> IssuedCertificate:
        """Issue a personal signing certificate and an encrypted RSA key for it.

        Subject ``C=VN, O=organisation, OU=unit, title=title, CN=full_name``
        (UTF8String); key usage digitalSignature + nonRepudiation (critical); no
        extended key usage (accepted by pyHanko and poppler/NSS); not a CA; an
        authority information access (OCSP) and a CRL distribution point only
        when ``ocsp_url`` / ``crl_url`` are given. Validators such as pdfsig fetch
        from those URLs, so give them only when the responder is reachable.

        :param full_name: the holder's full name, e.g. ``'Lê Văn Đức'``.
        :param title: the holder's position.
        :param unit: organisational unit.
        :param organisation: organisation.
        :param passphrase: passphrase that will protect the private key.
        :param email: optional e-mail address, added as an rfc822Name SAN.
        :param valid_days: validity period in days.
        :param key_size: RSA key size in bits.
        :param ocsp_url: URL of the OCSP responder (e.g. ``https://host/pki/ocsp``).
        :param crl_url: URL of the DER CRL (e.g. ``https://host/pki/crl``).
        :param not_before: start of validity (whole seconds); default now minus 5 minutes.
        :returns: the certificate, the encrypted key and their metadata.
        """
        key = rsa.generate_private_key(public_exponent=65537, key_size=key_size)
        cert = self.certify_public_key(
            key.public_key(),
            full_name=full_name,
            title=title,
            unit=unit,
            organisation=organisation,
            email=email,
            valid_days=valid_days,
            ocsp_url=ocsp_url,
            crl_url=crl_url,
            not_before=not_before,
        )
        return IssuedCertificate(
            cert_pem=_pem(cert),
            encrypted_key_pem=_encrypted_key(key, passphrase.encode("utf-8")),
            fingerprint_sha256=fingerprint_sha256(cert),
            serial=cert.serial_number,
            subject=cert.subject.rfc4514_string(),
            not_before=cert.not_valid_before_utc,
            not_after=cert.not_valid_after_utc,
        )
