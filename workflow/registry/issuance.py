"""workflow: issuance (ban hành): numbering, the organisation's seal signature, classified
registration, and recall (thu hồi)."""

from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from pyhanko.sign.signers import Signer
from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from signing.images import default_seal_png
from signing.pages import signature_field_box
from signing.pkcs11_keys import Pkcs11Config
from signing.profiles import SigningProfile, TrustConfig
from signing.stamps import StampContent, StampPlacement, seal_box_for
from signing.trust import TrustServices
from storage import audit
from storage.audit import AuditAction
from storage.blobs import BlobStore
from storage.models import Certificate, Document, Revision, Role, Signature, Task, Unit, User
from storage.registry_models import Dispatch, NumberSeries
from storage.types import utcnow
from workflow.accounts import access
from workflow.coverage import ledger as coverage
from workflow.documents import routing
from workflow.documents.states import DocState, Event, StageAction
from workflow.documents.usecases import check_urgency
from workflow.errors import ConflictError, ForbiddenError, InvalidInputError
from workflow.registry import number_line, publishing
from workflow.registry.issuers import issuer_of, seal_certificate
from workflow.signatures.flow import (
    LevelPolicy,
    personal_stamp,
    sign_and_store,
)
from workflow.signatures.seal_keys import on_token, seal_signer
from workflow.verification import service as verification
from workflow.viewer.geometry import seal_box
from workflow.vocab import (
    CLASSIFICATION_LABELS,
    DOC_TYPES,
    VN_TZ,
    normalise_doc_type,
    vn_display,
)
from workflow.webhooks import events as webhook_events

DEFAULT_FORMAT = "{number:02d}-{type}/{issuer}"


@dataclass(frozen=True)
class Issued:
    """What issuance gave the document."""

    document: Document
    number: int
    symbol: str
    issued_at: datetime


def allocate_number(session: Session, unit_id: int, register: str, year: int) -> int:
    """Take the next number of a yearly series in the caller's transaction.

    One atomic ``UPDATE ... RETURNING`` holds the series row until commit, so concurrent
    issuances queue; a rollback returns the number: no gaps, no duplicates.
    """
    dialect = session.get_bind().dialect.name
    insert_stmt = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(NumberSeries)
    session.execute(
        insert_stmt.values(
            unit_id=unit_id, register=register, year=year, last_number=0
        ).on_conflict_do_nothing(index_elements=["unit_id", "register", "year"])
    )
    number: int = session.execute(
        update(NumberSeries)
        .where(
            NumberSeries.unit_id == unit_id,
            NumberSeries.register == register,
            NumberSeries.year == year,
        )
        .values(last_number=NumberSeries.last_number + 1)
        .returning(NumberSeries.last_number)
    ).scalar_one()
    return number


def format_symbol(issuer: Unit, number: int, doc_type: str) -> str:
    """:returns: the number and symbol, Party style by default (``125-CV/ĐUK``)."""
    return (issuer.number_format or DEFAULT_FORMAT).format(
        number=number, type=doc_type, issuer=issuer.symbol
    )


def preview_number(session: Session, doc: Document) -> tuple[int, str]:
    """:returns: the number and symbol ``doc`` would get if issued now, for the clerk's
    preview. Nothing is reserved: a concurrent issuance may take it first, and the
    number actually given is the one :func:`issue` answers with."""
    issuer = issuer_of(session, doc.unit)
    register = "outgoing_classified" if doc.classification else "outgoing"
    year = utcnow().astimezone(VN_TZ).year
    last = session.scalar(
        select(NumberSeries.last_number).where(
            NumberSeries.unit_id == issuer.id,
            NumberSeries.register == register,
            NumberSeries.year == year,
        )
    )
    number = (last or 0) + 1
    return number, format_symbol(issuer, number, doc.doc_type)


def assign_number(
    session: Session,
    doc: Document,
    issuer: Unit,
    register: str,
    actor: User,
    now: datetime | None = None,
) -> None:
    """Give ``doc`` the next number of ``issuer``'s series ``register`` (``outgoing``, or
    ``outgoing_classified``: the classified documents' own series) for the year of ``now``.

    The symbol has the same format in both series (``02-CV/ĐUK``): a register entry is
    told apart by its series and number, and a symbol is unique within one series.

    :raises ConflictError: the symbol is already used in that series and year (a custom
        number format without the number).
    """
    now = now or utcnow()
    year = now.astimezone(VN_TZ).year
    number = allocate_number(session, issuer.id, register, year)
    symbol = format_symbol(issuer, number, doc.doc_type)
    clash = session.scalars(
        select(Document.id).where(
            Document.issuer_unit_id == issuer.id,
            Document.register == register,
            Document.year == year,
            Document.symbol == symbol,
        )
    ).first()
    if clash is not None:
        raise ConflictError(f"Số, ký hiệu {symbol} đã được dùng cho văn bản khác trong năm {year}.")
    doc.issuer_unit_id = issuer.id
    doc.register = register
    doc.year = year
    doc.number = number
    doc.symbol = symbol
    doc.issued_at = now
    doc.issued_by_id = actor.id


def seal_image(blobs: BlobStore, issuer: Unit) -> bytes:
    """:returns: the issuer's uploaded seal image, or a drawn default red seal."""
    if issuer.seal_png_sha256 and blobs.exists(issuer.seal_png_sha256):
        return blobs.read_bytes(issuer.seal_png_sha256)
    parent = issuer.parent.name if issuer.parent else ""
    return default_seal_png(issuer.name, parent)


def _seal_placement(
    blobs: BlobStore, source: Path, signature: Signature, seal: StampContent
) -> StampPlacement:
    """Over the left third of the competent person's signature (Decree 30 Appendix I),
    found by its field; left of the default place if the field cannot be found."""
    found = signature_field_box(source, signature.field_name)
    if found is None:
        return StampPlacement(page=-1, box=seal_box(source))
    page, box = found
    signer = signature.signer
    personal = personal_stamp(blobs, signer, None, signature.signed_at)
    return StampPlacement(page=page, box=seal_box_for(box, personal, seal))


def _competent_signature(session: Session, doc: Document) -> Signature | None:
    rows = session.scalars(
        select(Signature)
        .join(Certificate, Certificate.id == Signature.certificate_id)
        .where(Signature.document_id == doc.id, Certificate.purpose.in_(("personal", "external")))
    ).all()
    return rows[-1] if rows else None


def issue(
    session: Session,
    blobs: BlobStore,
    trust: TrustConfig,
    actor: User,
    task_id: int,
    seal_passphrase: str,
    *,
    level: LevelPolicy = lambda unit, doc_type: "B-B",
    services: TrustServices | None = None,
    seal_token: Pkcs11Config | None = None,
    base_url: str | None = None,
    public: bool = False,
) -> Issued:
    """The clerk issues a signed document: number, date, and the organisation's seal
    signature whose stamp shows them (the earlier signature stays valid). With
    ``public`` the document is also published on the public portal (never by default).

    The seal key is the stored one, or the one on ``seal_token`` when the issuer's active
    seal certificate was registered for the token; the token session is open only while
    signing. With ``base_url`` the seal stamp carries a QR code of the document's public
    verification page.

    :raises ConflictError: the competent person has not signed, no seal certificate, or
        the seal token cannot be used (nothing is written then).
    """
    task: Task = routing.claim(session, actor, task_id, {StageAction.ISSUE})
    doc = task.document
    signature = _competent_signature(session, doc)
    if signature is None:
        raise ConflictError(
            "Không thể đóng dấu (ký số của tổ chức): văn bản chưa có chữ ký số của người có thẩm quyền."
        )
    issuer = issuer_of(session, doc.unit)
    cert = seal_certificate(session, issuer, stored_key=False)
    with ExitStack() as stack:
        signer = seal_signer(stack, issuer, cert, trust, seal_passphrase, seal_token)
        rev, numbered = _number_and_seal(
            session,
            blobs,
            trust,
            actor,
            doc,
            issuer,
            signature,
            cert,
            signer,
            level,
            services,
            base_url,
        )
    routing.close_task(task, actor, "issued", None)
    routing.advance(session, doc, task, signed=True)
    assert doc.symbol is not None and doc.number is not None and doc.issued_at is not None  # noqa: S101
    audit.append(
        session,
        AuditAction.ISSUED,
        actor_id=actor.id,
        object_type="document",
        object_id=doc.id,
        details={
            "number": doc.number,
            "symbol": doc.symbol,
            "register": doc.register,
            "revision": rev.number,
            "sha256": rev.blob_sha256,
            "seal": cert.fingerprint,
            "seal_key": "pkcs11" if on_token(cert) else "stored",
            "number_line": numbered,
        },
    )
    coverage.record_document(session, blobs, trust, doc, now=doc.issued_at, actor_id=actor.id)
    webhook_events.emit(session, "issued", {}, document=doc, now=doc.issued_at)
    if public:
        publishing.set_public(session, actor, doc, True, now=doc.issued_at)
    return Issued(doc, doc.number, doc.symbol, doc.issued_at)


def _number_and_seal(
    session: Session,
    blobs: BlobStore,
    trust: TrustConfig,
    actor: User,
    doc: Document,
    issuer: Unit,
    signature: Signature,
    cert: Certificate,
    signer: Signer,
    level: LevelPolicy,
    services: TrustServices | None,
    base_url: str | None,
) -> tuple[Revision, bool]:
    """Take the number, write it into the document's "Số:" line when it has one, then sign
    the seal over the current revision and store it.

    :returns: the sealed revision, and whether the number line was written."""
    register = "outgoing_classified" if doc.classification else "outgoing"
    assign_number(session, doc, issuer, register, actor)
    assert doc.symbol is not None and doc.number is not None and doc.issued_at is not None  # noqa: S101
    code = verification.ensure_code(session, doc)
    seal = StampContent(
        kind="seal",
        heading="Ký số bởi tổ chức",
        signer_name=issuer.name,
        title=f"Số: {doc.symbol}",
        unit=f"Ngày ban hành: {vn_display(doc.issued_at)[:10]}",
        signed_at=doc.issued_at,
        image_png=seal_image(blobs, issuer),
        qr_url=verification.verification_url(base_url, code) if base_url else None,
    )
    numbered = number_line.write(
        session, blobs, trust, actor, doc, issuer, cert, signer, level, services
    )
    with blobs.local_copy(doc.current_revision.blob_sha256) as source:
        placement = _seal_placement(blobs, source, signature, seal)
    profile = SigningProfile(
        level=level(doc.unit.code, doc.doc_type),
        field_name=f"DauCoQuan_{doc.number}",
        reason=f"Ban hành văn bản số {doc.symbol}",
        location=issuer.name,
        stamp=seal,
        placement=placement,
    )
    rev = sign_and_store(
        session, blobs, trust, doc, actor.id, cert.id, signer, profile, services, doc.issued_at
    )
    return rev, numbered is not None


def register_classified(
    session: Session,
    actor: User,
    *,
    classification: str,
    doc_type: str,
    subject: str | None,
    urgency: str | None = None,
) -> Document:
    """Register a classified document as metadata only, numbered in the classified series.

    The content never reaches the server; it is handled outside the network.
    """
    if classification not in CLASSIFICATION_LABELS:
        raise InvalidInputError("Độ mật không hợp lệ: mat, toi_mat hoặc tuyet_mat.")
    clerk_units = actor.units_with(Role.CLERK)
    if not clerk_units:
        raise ForbiddenError("Chỉ văn thư được đăng ký văn bản mật.")
    code = normalise_doc_type(doc_type or "")
    if code is None:
        raise InvalidInputError(
            "Loại văn bản không hợp lệ. Chọn một trong: " + ", ".join(DOC_TYPES) + "."
        )
    subject = " ".join((subject or "").split())
    if classification == "tuyet_mat" and subject:
        raise InvalidInputError(
            "Văn bản Tuyệt mật không được ghi trích yếu trên hệ thống; hãy để trống trích yếu."
        )
    if classification != "tuyet_mat" and not subject:
        raise InvalidInputError("Vui lòng nhập trích yếu nội dung văn bản.")
    unit = session.get(Unit, min(clerk_units))
    assert unit is not None  # noqa: S101
    now = utcnow()
    doc = Document(
        unit_id=unit.id,
        created_by_id=actor.id,
        subject=subject,
        doc_type=code,
        state=DocState.ISSUED,
        route_id=None,
        urgency=check_urgency(urgency),
        classification=classification,
        metadata_only=True,
        form="paper",  # the content is handled off the network, on paper
        created_at=now,
        updated_at=now,
    )
    session.add(doc)
    session.flush()
    assign_number(session, doc, issuer_of(session, unit), "outgoing_classified", actor)
    session.flush()
    audit.append(
        session,
        AuditAction.REGISTERED,
        actor_id=actor.id,
        object_type="document",
        object_id=doc.id,
        details={"classification": classification, "symbol": doc.symbol, "metadata_only": True},
    )
    return doc


def recall(session: Session, actor: User, document_id: int, reason: str | None) -> Document:
    """Thu hồi: freeze an issued document; its recipients are told."""
    doc = access.get_document_for_update(session, actor, document_id)
    issuer_id = doc.issuer_unit_id
    allowed = (
        actor.has_role(Role.CLERK) or actor.has_role(Role.SIGNER) or actor.has_role(Role.ADMIN)
    )
    if not allowed:
        raise ForbiddenError(
            "Chỉ văn thư, người ký hoặc quản trị được thu hồi văn bản đã ban hành."
        )
    text = " ".join((reason or "").split())
    if not text:
        raise InvalidInputError("Hãy ghi lý do thu hồi văn bản.")
    routing.transition(doc, Event.RECALL, None)
    doc.recalled_at = utcnow()
    doc.recall_reason = text
    doc.updated_at = doc.recalled_at
    recipients = session.scalars(select(Dispatch).where(Dispatch.document_id == doc.id)).all()
    for dispatch in recipients:
        if dispatch.recipient_unit_id is None:
            continue
        clerks = session.scalars(select(User).where(User.active.is_(True))).all()
        for clerk in clerks:
            if clerk.has_role(Role.CLERK, dispatch.recipient_unit_id):
                routing.notify(
                    session,
                    clerk.id,
                    "recalled",
                    f"Văn bản {doc.symbol} đã bị thu hồi: {text}",
                    doc.id,
                )
    coverage.record_recall(session, doc, now=doc.recalled_at)
    audit.append(
        session,
        AuditAction.RECALLED,
        actor_id=actor.id,
        object_type="document",
        object_id=doc.id,
        details={"reason": text, "issuer": issuer_id, "recipients": len(recipients)},
    )
    publishing.taken_down_by_recall(session, actor, doc)
    webhook_events.emit(session, "recalled", {"reason": text}, document=doc, now=doc.recalled_at)
    return doc
