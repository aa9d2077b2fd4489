"""workflow: registering the organisation's seal certificate for a key on a PKCS#11 token
or HSM (``flask --app wsgi seal-token register``): issued by the embedded CA for the
token key's public key, or imported; written to the token and recorded as the unit's
``seal`` certificate, so issuance, validation and coverage treat it like a stored seal."""

from __future__ import annotations

from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from sqlalchemy import select
from sqlalchemy.orm import Session

from signing.errors import KeyLoadError
from signing.pkcs11_keys import Pkcs11Config, TokenKey, find_token_key, store_certificate
from signing.pki import EmbeddedPki, fingerprint_sha256
from signing.profiles import TrustConfig
from signing.seal_certs import check_matches_key, issue_for_public_key
from storage import audit
from storage.audit import AuditAction
from storage.models import Certificate, Unit
from workflow.errors import ConflictError, InvalidInputError, NotFoundError


@dataclass(frozen=True)
class Registered:
    """What :func:`register` did."""

    certificate: Certificate
    """The unit's new active seal certificate (no stored key)."""
    key_label: str
    """The key's label on the token."""
    issued: bool
    """Issued by the embedded CA (else imported)."""


def seal_unit(session: Session, code: str | None) -> Unit:
    """:returns: the unit ``code``, or the organisation's root unit.

    :raises NotFoundError: no such unit.
    """
    where = Unit.code == code if code else Unit.parent_id.is_(None)
    unit = session.scalars(select(Unit).where(where).order_by(Unit.id)).first()
    if unit is None:
        raise NotFoundError(f"Không có đơn vị {code or '(gốc)'}.")
    return unit


def _check_issuer(cert: x509.Certificate, trust: TrustConfig) -> None:
    """An imported certificate must be issued by one of the trusted CA certificates."""
    for pem in trust.other_certs_pem + trust.trust_roots_pem:
        ca = x509.load_pem_x509_certificate(pem)
        try:
            cert.verify_directly_issued_by(ca)
        except (ValueError, TypeError, InvalidSignature):
            continue
        return
    raise InvalidInputError(
        "Chứng thư số nhập vào không do CA được tin cậy của hệ thống cấp "
        "(hãy thêm CA đó vào cấu hình tin cậy trước)."
    )


def register(
    session: Session,
    token: Pkcs11Config,
    trust: TrustConfig,
    unit: Unit,
    *,
    pki: EmbeddedPki | None = None,
    cert_pem: bytes | None = None,
    organisation: str,
    public_url: str | None = None,
    valid_days: int = 730,
) -> Registered:
    """Certify the token's seal key and make it the unit's active seal (caller commits).

    :param token: where the key is (the PIN is needed to write the certificate).
    :param pki: the embedded CA, to issue a certificate (when ``cert_pem`` is None).
    :param cert_pem: a certificate to import instead (must be for the token's key).
    :raises KeyLoadError: the token or key cannot be used.
    :raises InvalidInputError: the imported certificate is for another key or untrusted.
    :raises ConflictError: that certificate is already registered.
    """
    key: TokenKey = find_token_key(token)
    if cert_pem is not None:
        try:
            cert = x509.load_pem_x509_certificate(cert_pem)
        except ValueError as exc:
            raise InvalidInputError("Tệp chứng thư số không đọc được (cần PEM).") from exc
        try:
            check_matches_key(cert, key.public_key_der)
        except KeyLoadError as exc:
            raise InvalidInputError(
                "Chứng thư số nhập vào không phải của khóa trên thiết bị ký số."
            ) from exc
        _check_issuer(cert, trust)
    else:
        if pki is None:
            raise KeyLoadError("the embedded CA is needed to issue a certificate")
        base = public_url.rstrip("/") if public_url else None
        cert = issue_for_public_key(
            pki,
            key.public_key_der,
            name=unit.name,
            organisation=organisation,
            valid_days=valid_days,
            ocsp_url=f"{base}/pki/ocsp" if base else None,
            crl_url=f"{base}/pki/crl" if base else None,
        )
    fingerprint = fingerprint_sha256(cert)
    taken = session.scalars(
        select(Certificate.id).where(Certificate.fingerprint == fingerprint)
    ).first()
    if taken is not None:
        raise ConflictError("Chứng thư số này đã được đăng ký.")
    der = cert.public_bytes(serialization.Encoding.DER)
    if key.certificate_der != der:
        store_certificate(token, key, der)
    row = Certificate(
        user_id=None,
        unit_id=unit.id,
        purpose="seal",
        serial=format(cert.serial_number, "x"),
        subject=cert.subject.rfc4514_string(),
        fingerprint=fingerprint,
        cert_pem=cert.public_bytes(serialization.Encoding.PEM).decode(),
        encrypted_key_pem="",  # the key never leaves the token
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
    )
    session.add(row)
    session.flush()
    audit.append(
        session,
        AuditAction.CERT_ISSUED,
        actor_id=None,
        object_type="certificate",
        object_id=row.id,
        details={
            "unit": unit.code,
            "purpose": "seal",
            "fingerprint": fingerprint,
            "key": "pkcs11",
            "key_label": key.label,
            "imported": cert_pem is not None,
        },
    )
    return Registered(row, key.label, cert_pem is None)
