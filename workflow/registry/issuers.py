"""workflow: who issues for a unit (its committee) and that issuer's seal certificate."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import Certificate, Unit
from workflow.errors import ConflictError

# The units that issue documents and keep registers of their own.
ISSUER_KINDS = ("committee", "grassroots")


def issuer_of(session: Session, unit: Unit) -> Unit:
    """:returns: the committee that issues documents drafted in ``unit``."""
    current: Unit | None = unit
    while current is not None:
        if current.kind in ISSUER_KINDS:
            return current
        current = session.get(Unit, current.parent_id) if current.parent_id else None
    return unit


def seal_certificate(session: Session, issuer: Unit, *, stored_key: bool = True) -> Certificate:
    """:returns: the issuer's newest active seal certificate; by default only one whose
        key the server stores (signed reports), with ``stored_key=False`` also one whose
        key is on the seal token (issuance).

    :raises ConflictError: none is configured.
    """
    query = (
        select(Certificate)
        .where(
            Certificate.unit_id == issuer.id,
            Certificate.purpose == "seal",
            Certificate.status == "active",
        )
        .order_by(Certificate.id.desc())
    )
    if stored_key:
        query = query.where(Certificate.encrypted_key_pem != "")
    cert = session.scalars(query).first()
    if cert is None:
        raise ConflictError(
            f"Chưa có chứng thư số của tổ chức ({issuer.name}) để ký ban hành. Hãy báo quản trị."
        )
    return cert
