"""workflow: the administrators' trust list (use-cases): import trusted roots and
intermediates (a PEM or DER certificate, a PEM bundle, a PKCS#7 bundle), list them with
fingerprint and validity, remove them; each change bumps the list's version, is
audited, and re-validates the ledger entries (T2) whose signatures it may change.

Which entries: after an import, those with a signature that was untrusted or whose
chain ended in the list changed; after a removal, those with a signature whose chain
ended in that list (:func:`affected_documents`). They are re-validated at once, in the
same transaction, with the new list (:func:`workflow.coverage.refresh.refresh_t2`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs7
from sqlalchemy import select
from sqlalchemy.orm import Session

from signing.profiles import INTERNAL_LIST, TrustConfig
from storage import audit
from storage.blobs import BlobStore
from storage.ledger import LedgerEntry
from storage.models import Role, User
from storage.trust_models import TrustAnchor, TrustListChange, current_version
from storage.types import utcnow
from storage.validation_cache import bump_trust_version
from workflow.coverage.entries import RefreshResult
from workflow.coverage.refresh import refresh_t2
from workflow.errors import ConflictError, ForbiddenError, InvalidInputError, NotFoundError

MAX_LIST_NAME = 120
KINDS = ("root", "intermediate")


@dataclass(frozen=True)
class Change:
    """What one change of the trust list did."""

    version: int
    """The list's version after it."""
    anchors: list[TrustAnchor]
    """The certificates added or removed."""
    revalidated: int
    """How many ledger entries were re-validated."""


def _admin(actor: User) -> None:
    if not actor.has_role(Role.ADMIN):
        raise ForbiddenError("Chỉ quản trị hệ thống được quản lý danh sách tin cậy.")


def parse_bundle(data: bytes) -> list[x509.Certificate]:
    """Certificates from PEM (one or several), DER, or PKCS#7 (PEM or DER).

    :raises InvalidInputError: nothing readable.
    """
    loaders = (
        x509.load_pem_x509_certificates,
        pkcs7.load_pem_pkcs7_certificates,
        lambda d: [x509.load_der_x509_certificate(d)],
        pkcs7.load_der_pkcs7_certificates,
    )
    for load in loaders:
        try:
            certs = list(load(data))
        except ValueError:
            continue
        if certs:
            return certs
    raise InvalidInputError(
        "Không đọc được chứng thư số: cần tệp PEM (một hoặc nhiều chứng thư), DER hoặc "
        "PKCS#7 (.p7b).",
        code="bad_certificate",
    )


def decode_upload(pem: str | None, der_b64: str | None) -> bytes:
    """The certificate bytes of an API request (``pem`` text or base64 ``der_b64``).

    :raises InvalidInputError: neither or both, or bad base64.
    """
    if (pem is None) == (der_b64 is None):
        raise InvalidInputError("Cần đúng một trong 'pem' (văn bản PEM) hoặc 'der_b64'.")
    if pem is not None:
        return pem.encode()
    try:
        return base64.b64decode(der_b64 or "", validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidInputError("'der_b64' không phải base64 hợp lệ.") from exc


def _self_signed(cert: x509.Certificate) -> bool:
    if cert.subject != cert.issuer:
        return False
    try:
        cert.verify_directly_issued_by(cert)
    except (ValueError, TypeError, Exception):  # noqa: BLE001 - any failure: not self-signed
        return False
    return True


def _fingerprint(cert: x509.Certificate) -> str:
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


def affected_documents(session: Session, list_name: str, added: bool) -> list[int]:
    """Documents whose T2 entry may change with a change of ``list_name``.

    :param added: certificates were added (untrusted signatures may become trusted).
    """
    ids = []
    for entry in session.scalars(
        select(LedgerEntry).where(
            LedgerEntry.target == "T2", LedgerEntry.subject_kind == "document"
        )
    ):
        signatures = (entry.evidence or {}).get("signatures") or []
        for sig in signatures:
            ended_in = sig.get("trust_list")
            if ended_in == list_name or (
                added and (ended_in == "" or (ended_in is None and not sig.get("bottom_line")))
            ):
                ids.append(entry.subject_id)
                break
    return ids


def _revalidate(
    session: Session,
    blobs: BlobStore,
    trust: TrustConfig,
    actor: User,
    list_name: str,
    added: bool,
    now: datetime,
) -> int:
    ids = affected_documents(session, list_name, added)
    if not ids:
        return 0
    result = RefreshResult()
    refresh_t2(session, blobs, trust, now, actor.id, result, force=True, doc_ids=ids)
    return len(ids)


def _bump(session: Session, actor: User, action: str, list_name: str, fingerprint: str) -> None:
    session.add(
        TrustListChange(
            action=action, list_name=list_name, fingerprint=fingerprint, actor_id=actor.id
        )
    )
    # Cached validation reports were computed under the old list (storage.validation_cache).
    bump_trust_version(session)


def import_certificates(
    session: Session,
    actor: User,
    data: bytes,
    list_name: str,
    kind: str | None,
) -> list[TrustAnchor]:
    """Add the certificates of ``data`` to the list ``list_name`` (the caller then calls
    :func:`after_change` with the new trust configuration, and commits).

    :param kind: ``'root'`` or ``'intermediate'``; None: self-signed certificates are
        roots, the others intermediates.
    :raises InvalidInputError: unreadable, expired, bad list name or kind.
    :raises ConflictError: a certificate is already in a list.
    """
    _admin(actor)
    list_name = " ".join((list_name or "").split())
    if not list_name or len(list_name) > MAX_LIST_NAME:
        raise InvalidInputError(f"Cần tên danh sách tin cậy (tối đa {MAX_LIST_NAME} ký tự).")
    if list_name == INTERNAL_LIST:
        raise InvalidInputError(f"«{INTERNAL_LIST}» là danh sách của gốc nội bộ; hãy đặt tên khác.")
    if kind is not None and kind not in KINDS:
        raise InvalidInputError(
            "Loại chứng thư phải là 'root' (gốc) hoặc 'intermediate' (trung gian)."
        )
    now = utcnow()
    added = []
    for cert in parse_bundle(data):
        fingerprint = _fingerprint(cert)
        if cert.not_valid_after_utc < now:
            raise InvalidInputError(
                f"Chứng thư «{cert.subject.rfc4514_string()}» đã hết hạn "
                f"({cert.not_valid_after_utc:%d/%m/%Y}); không thêm vào danh sách tin cậy.",
                code="expired",
            )
        if session.scalars(
            select(TrustAnchor).where(TrustAnchor.fingerprint == fingerprint)
        ).first():
            raise ConflictError(
                f"Chứng thư «{cert.subject.rfc4514_string()}» đã có trong danh sách tin cậy."
            )
        anchor = TrustAnchor(
            list_name=list_name,
            kind=kind or ("root" if _self_signed(cert) else "intermediate"),
            fingerprint=fingerprint,
            subject=cert.subject.rfc4514_string(),
            issuer=cert.issuer.rfc4514_string(),
            not_before=cert.not_valid_before_utc,
            not_after=cert.not_valid_after_utc,
            cert_pem=cert.public_bytes(serialization.Encoding.PEM).decode(),
            added_by_id=actor.id,
            added_at=now,
        )
        session.add(anchor)
        _bump(session, actor, "added", list_name, fingerprint)
        added.append(anchor)
    session.flush()
    for anchor in added:
        audit.append(
            session,
            "trust:added",
            actor_id=actor.id,
            object_type="trust_anchor",
            object_id=anchor.id,
            details={
                "list": anchor.list_name,
                "kind": anchor.kind,
                "fingerprint": anchor.fingerprint,
                "subject": anchor.subject,
                "version": current_version(session),
            },
        )
    return added


def remove_certificate(session: Session, actor: User, anchor_id: int) -> TrustAnchor:
    """Remove one certificate from its list (the caller then calls :func:`after_change`).

    :raises NotFoundError: no such certificate.
    """
    _admin(actor)
    anchor = session.get(TrustAnchor, anchor_id)
    if anchor is None:
        raise NotFoundError("Không có chứng thư này trong danh sách tin cậy.")
    _bump(session, actor, "removed", anchor.list_name, anchor.fingerprint)
    session.delete(anchor)
    session.flush()
    audit.append(
        session,
        "trust:removed",
        actor_id=actor.id,
        object_type="trust_anchor",
        object_id=anchor_id,
        details={
            "list": anchor.list_name,
            "fingerprint": anchor.fingerprint,
            "subject": anchor.subject,
            "version": current_version(session),
        },
    )
    return anchor


def after_change(
    session: Session,
    blobs: BlobStore,
    trust: TrustConfig,
    actor: User,
    anchors: list[TrustAnchor],
    added: bool,
) -> Change:
    """Re-validate the ledger entries the change may affect, with ``trust`` (the new
    configuration, built from the flushed rows).

    :returns: the new version, the certificates, how many entries were re-validated.
    """
    now = utcnow()
    count = 0
    for name in sorted({a.list_name for a in anchors}):
        count += _revalidate(session, blobs, trust, actor, name, added, now)
    return Change(current_version(session), anchors, count)
