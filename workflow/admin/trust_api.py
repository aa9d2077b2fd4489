"""workflow: the trust list's JSON API (administrators): list, import, remove."""

from __future__ import annotations

from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from flask import Blueprint

from signing.profiles import INTERNAL_LIST
from storage import trust_models
from storage.models import Role
from storage.trust_models import TrustAnchor
from storage.types import utcnow
from workflow import http
from workflow.admin import trust_list
from workflow.errors import ForbiddenError
from workflow.http import api_blueprint
from workflow.schemas import trust as schemas
from workflow.schemas.base import parse
from workflow.schemas.openapi import operation
from workflow.services import Services, get_services, get_session

bp: Blueprint = api_blueprint("trust_api", __name__)


def builtin_root(services: Services) -> TrustAnchor:
    """The server's own root, shown first in the list (not stored, not removable)."""
    cert = x509.load_pem_x509_certificate(services.root_pem_path().read_bytes())
    return TrustAnchor(
        id=None,
        list_name=INTERNAL_LIST,
        kind="root",
        fingerprint=cert.fingerprint(hashes.SHA256()).hex(),
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        cert_pem="",
    )


def _answer(row: TrustAnchor) -> schemas.TrustCertificate:
    return schemas.TrustCertificate.of(row, row.not_after < utcnow())


@bp.get("/trust/certificates")
@operation(responses={200: schemas.TrustList})
def trust_certificates() -> Any:
    """The trusted roots and intermediates, with fingerprints and validity (administrators)."""
    actor = http.actor()
    if not actor.has_role(Role.ADMIN):
        raise ForbiddenError("Chỉ quản trị hệ thống được xem danh sách tin cậy.")
    db = get_session()
    rows = [builtin_root(get_services()), *trust_models.anchors(db)]
    return schemas.TrustList(
        version=trust_models.current_version(db), certificates=[_answer(r) for r in rows]
    ).dump()


@bp.post("/trust/certificates")
@operation(body=schemas.TrustImportRequest, responses={201: schemas.TrustChange}, errors=(409,))
def trust_import() -> Any:
    """Import a certificate or a bundle into a named trust list; affected ledger entries
    are re-validated."""
    body = parse(schemas.TrustImportRequest, http.json_body())
    db = get_session()
    services = get_services()
    actor = http.actor()
    data = trust_list.decode_upload(body.pem, body.der_b64)
    added = trust_list.import_certificates(db, actor, data, body.list_name, body.kind)
    change = trust_list.after_change(
        db, services.blobs, services.trust_in(db), actor, added, added=True
    )
    db.commit()
    services.trust_changed()
    return schemas.TrustChange(
        version=change.version,
        certificates=[_answer(a) for a in added],
        revalidated=change.revalidated,
    ).dump(), 201


@bp.delete("/trust/certificates/<int:anchor_id>")
@operation(responses={200: schemas.TrustChange})
def trust_remove(anchor_id: int) -> Any:
    """Remove a certificate from its trust list; affected ledger entries are re-validated."""
    db = get_session()
    services = get_services()
    actor = http.actor()
    removed = trust_list.remove_certificate(db, actor, anchor_id)
    change = trust_list.after_change(
        db, services.blobs, services.trust_in(db), actor, [removed], added=False
    )
    db.commit()
    services.trust_changed()
    return schemas.TrustChange(
        version=change.version,
        certificates=[_answer(removed)],
        revalidated=change.revalidated,
    ).dump()
