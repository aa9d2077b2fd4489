"""workflow: personal signing certificates issued by the embedded CA (key stored encrypted)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from signing.pki import EmbeddedPki, IssuedCertificate
from storage import audit
from storage.audit import AuditAction
from storage.models import Certificate


def issue_personal_certificate(
    session: Session,
    pki: EmbeddedPki,
    user_id: int,
    full_name: str,
    title: str,
    unit: str,
    organisation: str,
    passphrase: str,
    public_url: str | None = None,
    valid_days: int = 730,
) -> Certificate:
    """Issue a signing certificate from the embedded CA; the key is stored encrypted.

    With ``public_url`` (where validators can reach this server) the certificate names
    the OCSP responder and the CRL under ``/pki``; without it validators rely on the
    revocation data embedded at B-LT.
    """
    base = public_url.rstrip("/") if public_url else None
    issued = pki.issue_signing_certificate(
        full_name=full_name,
        title=title,
        unit=unit,
        organisation=organisation,
        passphrase=passphrase,
        valid_days=valid_days,
        ocsp_url=f"{base}/pki/ocsp" if base else None,
        crl_url=f"{base}/pki/crl" if base else None,
    )
    cert = record_issued(
        session, issued, purpose="personal", user_id=user_id, details={"user_id": user_id}
    )
    return cert


def record_issued(
    session: Session,
    issued: IssuedCertificate,
    *,
    purpose: str,
    details: dict[str, Any],
    user_id: int | None = None,
    unit_id: int | None = None,
) -> Certificate:
    """Keep a certificate the embedded CA just issued (key encrypted) and audit it.

    :returns: the new row (flushed; the caller commits).
    """
    cert = Certificate(
        user_id=user_id,
        unit_id=unit_id,
        purpose=purpose,
        serial=format(issued.serial, "x"),
        subject=issued.subject,
        fingerprint=issued.fingerprint_sha256,
        cert_pem=issued.cert_pem.decode(),
        encrypted_key_pem=issued.encrypted_key_pem.decode(),
        not_before=issued.not_before,
        not_after=issued.not_after,
    )
    session.add(cert)
    session.flush()
    audit.append(
        session,
        AuditAction.CERT_ISSUED,
        actor_id=None,
        object_type="certificate",
        object_id=cert.id,
        details={**details, "fingerprint": cert.fingerprint},
    )
    return cert
