"""PDFs signed outside TrinhKy, made in the test: a self-signed signer and a foreign CA
(neither chains to TrinhKy's roots), optionally certified (DocMDP)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from io import BytesIO

from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign.fields import MDPPerm, SigSeedSubFilter
from pyhanko.sign.signers import PdfSignatureMetadata, PdfSigner, SimpleSigner
from pyhanko_certvalidator.registry import SimpleCertificateStore

from tests.pdfs import simple_pdf


@dataclass(frozen=True)
class ForeignSigner:
    """A key and its certificate chain (leaf first), unknown to TrinhKy."""

    key: ec.EllipticCurvePrivateKey
    chain: tuple[x509.Certificate, ...]

    @property
    def root_pem(self) -> bytes:
        return self.chain[-1].public_bytes(serialization.Encoding.PEM)


def _name(cn: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Đơn vị ngoài hệ thống"),
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
        ]
    )


def _cert(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: x509.Name | None,
    issuer_key: ec.EllipticCurvePrivateKey,
    *,
    ca: bool,
) -> x509.Certificate:
    now = datetime.now(UTC) - timedelta(days=30)
    usage = x509.KeyUsage(
        digital_signature=True,
        content_commitment=not ca,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )
    return (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer if issuer is not None else _name(subject))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(usage, critical=True)
        .sign(issuer_key, hashes.SHA256())
    )


def self_signed_signer(cn: str = "Trần Thị Ngoài") -> ForeignSigner:
    """A signer whose certificate is its own root."""
    key = ec.generate_private_key(ec.SECP256R1())
    cert = _cert(cn, key, None, key, ca=False)
    return ForeignSigner(key, (cert,))


def foreign_ca_signer(cn: str = "Phạm Văn Đối Tác") -> ForeignSigner:
    """A signer certified by another organisation's CA."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _cert("CA Đối tác Test Root", ca_key, None, ca_key, ca=True)
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = _cert(cn, key, ca.subject, ca_key, ca=False)
    return ForeignSigner(key, (leaf, ca))


def _asn1(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


def simple_signer(signer: ForeignSigner) -> SimpleSigner:
    """pyHanko's in-memory signer for ``signer``'s key and chain."""
    key_der = signer.key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return SimpleSigner(
        signing_cert=_asn1(signer.chain[0]),
        signing_key=asn1_keys.PrivateKeyInfo.load(key_der),
        cert_registry=SimpleCertificateStore.from_certs([_asn1(c) for c in signer.chain]),
    )


def signed_by(
    signer: ForeignSigner,
    pdf: bytes | None = None,
    *,
    certify: MDPPerm | None = None,
    field: str = "ChuKyDoiTac",
) -> bytes:
    """``pdf`` (a fresh one by default) signed PAdES B-B by ``signer``; a certification
    signature with the given DocMDP permission when ``certify`` is set."""
    simple = simple_signer(signer)
    meta = PdfSignatureMetadata(
        field_name=field,
        subfilter=SigSeedSubFilter.PADES,
        md_algorithm="sha256",
        certify=certify is not None,
        docmdp_permissions=certify if certify is not None else MDPPerm.FILL_FORMS,
    )
    writer = IncrementalPdfFileWriter(BytesIO(pdf if pdf is not None else simple_pdf()))
    out = BytesIO()
    PdfSigner(meta, signer=simple).sign_pdf(writer, output=out)
    return out.getvalue()
