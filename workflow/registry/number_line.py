"""workflow: the issued number and date written into the document's own "Số:" and date
lines at issuance (:mod:`signing.numberline`), before the seal."""

from __future__ import annotations

from pyhanko.sign.signers import Signer
from sqlalchemy.orm import Session

from signing.numberline import field_box, find_header, header_fills
from signing.profiles import SigningProfile, TrustConfig
from signing.stamps import StampPlacement
from signing.trust import TrustServices
from storage.blobs import BlobStore
from storage.models import Certificate, Document, Revision, Unit, User
from workflow.signatures.flow import LevelPolicy, sign_and_store


def planned(blobs: BlobStore, doc: Document) -> bool:
    """:returns: whether issuing ``doc`` now would write into its own "Số:" line (what the
    clerk is told before pressing *Ban hành*)."""
    if not doc.has_content:
        return False
    with blobs.local_copy(doc.current_revision.blob_sha256) as source:
        return find_header(source) is not None


def write(
    session: Session,
    blobs: BlobStore,
    trust: TrustConfig,
    actor: User,
    doc: Document,
    issuer: Unit,
    cert: Certificate,
    signer: Signer,
    level: LevelPolicy,
    services: TrustServices | None,
) -> Revision | None:
    """Write the number and date into the document's own "Số:" and date lines, when its
    first page has them, as the visible appearance of a signature of the organisation
    (field ``SoVanBan_<number>``): a new signature field, which the competent person's
    signature allows (form filling), the page itself untouched. Without a "Số:" line
    nothing is written: the seal stamp shows the number as before.

    :returns: the new revision, or None when the document has no "Số:" line.
    """
    assert doc.symbol is not None and doc.number is not None and doc.issued_at is not None  # noqa: S101
    with blobs.local_copy(doc.current_revision.blob_sha256) as source:
        header = find_header(source)
    if header is None:
        return None
    box, fills = field_box(header_fills(header, doc.symbol, doc.issued_at))
    profile = SigningProfile(
        level=level(doc.unit.code, doc.doc_type),
        field_name=f"SoVanBan_{doc.number}",
        reason=f"Ghi số, ký hiệu {doc.symbol} và ngày ban hành vào văn bản",
        location=issuer.name,
        fills=fills,
        placement=StampPlacement(page=header.page, box=box),
    )
    rev = sign_and_store(
        session, blobs, trust, doc, actor.id, cert.id, signer, profile, services, doc.issued_at
    )
    return rev
