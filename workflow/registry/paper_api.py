"""workflow: JSON API of the paper side of the registers: documents signed by hand,
documents received on paper, documents sent on paper (on /api/v1)."""

from __future__ import annotations

from typing import Any

from flask import request
from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.blobs import StagedBlob
from storage.models import Document, Unit
from storage.registry_models import Dispatch, HandSignature
from storage.types import utcnow
from workflow import http
from workflow.errors import InvalidInputError
from workflow.http import api_blueprint
from workflow.registry import paper
from workflow.registry.api import entry_answer
from workflow.schemas import registry as schemas
from workflow.schemas.base import parse
from workflow.schemas.openapi import File, operation
from workflow.services import get_services, get_session
from workflow.uploads import send_blob, stage_upload
from workflow.vocab import FORM_LABELS, SERIES_LABELS, to_vn

bp = api_blueprint("paper_api", __name__)

PAPER = (
    "Paper documents are registered like electronic ones (Decree 30) and counted in the "
    "coverage ledger at once: a hand-signed document of the Standing Committee or a board "
    "is a T2 miss; a paper exchange between the bloc committee and another organisation "
    "is a T1 miss (classified: exempt). JSON, or multipart with the same fields plus "
    "`file` (a PDF scan; never for a classified document). A refusal stores nothing."
)


def request_fields() -> tuple[dict[str, Any], bool]:
    """:returns: the request's fields (JSON object, or multipart form) and whether a file
    was sent with them."""
    if request.mimetype == "multipart/form-data" or request.form:
        upload = request.files.get("file")
        return request.form.to_dict(), upload is not None and bool(upload.filename)
    return http.json_body(), False


def scan_upload(has_file: bool) -> StagedBlob | None:
    """:returns: the uploaded scan streamed to a temporary blob, if one was sent."""
    return stage_upload()[0] if has_file else None


def unit_ref(db: Session, value: Any) -> int | None:
    """:returns: the id of a unit given by id or code (``None`` when not given)."""
    if value is None or value == "":
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    if isinstance(value, str):
        unit = db.scalars(select(Unit).where(Unit.code == value.strip())).first()
        if unit is not None:
            return unit.id
        raise InvalidInputError(f"Không có đơn vị mã «{value.strip()}».")
    raise InvalidInputError("'unit' phải là mã đơn vị hoặc mã số (id) của đơn vị.")


def hand_signed_json(doc: Document, hand: HandSignature | None) -> dict[str, Any]:
    """:returns: the API form of a document signed by hand (:class:`schemas.HandSigned`)."""
    return {
        "id": doc.id,
        "number": doc.number,
        "symbol": doc.symbol,
        "issued_at": doc.issued_at,
        "series": doc.register,
        "series_label": SERIES_LABELS.get(doc.register or "", doc.register),
        "form": doc.form,
        "form_label": FORM_LABELS.get(doc.form, doc.form),
        "doc_type": doc.doc_type,
        "subject": doc.subject,
        "unit": {"id": doc.unit.id, "code": doc.unit.code, "name": doc.unit.name},
        "issuer": doc.issuer_unit.code if doc.issuer_unit else None,
        "signer": hand.signer_name if hand else None,
        "signer_username": hand.signer.username if hand and hand.signer else None,
        "signed_on": hand.signed_on.isoformat() if hand else None,
        "scan_sha256": hand.scan_sha256 if hand else None,
    }


def paper_dispatch_json(row: Dispatch) -> dict[str, Any]:
    """:returns: the API form of one paper recipient of a document."""
    unit = row.recipient_unit
    sent = to_vn(row.dispatched_at)
    return {
        "id": row.id,
        "document_id": row.document_id,
        "recipient": {"type": "unit", "id": unit.id, "code": unit.code, "name": unit.name}
        if unit
        else {"type": "external", "name": row.external_name},
        "form": row.form,
        "sent_on": sent.date().isoformat() if sent else None,
    }


@bp.post("/outgoing/paper")
@operation(
    body=schemas.HandSignedRequest,
    form=schemas.HandSignedForm,
    responses={201: schemas.HandSigned},
    description=PAPER,
)
def register_hand_signed() -> Any:
    """Vào sổ a document signed by hand: JSON or multipart ``doc_type, subject, signer,
    signed_on, unit?, copies?`` (+ ``file``: a scan, PDF) -> 201 with its number."""
    fields, has_file = request_fields()
    body = parse(schemas.HandSignedRequest, fields)  # before the scan: a refusal stores nothing
    staged = scan_upload(has_file)
    db = get_session()
    services = get_services()
    doc = paper.register_hand_signed(
        db,
        services.blobs,
        services.trust,
        http.actor(),
        paper.HandSigned(
            doc_type=body.doc_type,
            subject=body.subject,
            signer=body.signer,
            signed_on=body.signed_on,
            unit=body.unit,
            copies=body.copies,
        ),
        staged,
        now=utcnow(),
    )
    db.commit()
    answer = hand_signed_json(doc, paper.hand_signature(db, doc))
    return schemas.HandSigned.model_validate(answer).dump(), 201


@bp.get("/outgoing/paper/<int:document_id>/scan")
@operation(responses={200: File(("application/pdf",), "the scan")})
def hand_signed_scan(document_id: int) -> Any:
    """The scan of a document signed by hand (those who may see the document)."""
    db = get_session()
    key, name = paper.scan_file(db, get_services().blobs, http.actor(), document_id)
    db.commit()
    return send_blob(key, name)


@bp.post("/incoming/paper")
@operation(
    body=schemas.PaperIncomingRequest,
    form=schemas.PaperIncomingForm,
    responses={201: schemas.IncomingEntry},
    description=PAPER,
)
def register_paper_incoming() -> Any:
    """Vào sổ a document received on paper: JSON or multipart ``sender`` or
    ``sender_unit`` (code), ``original_symbol, original_date, subject, doc_type?,
    classification?, unit?`` (+ ``file``: a scan) -> 201 with the incoming entry."""
    fields, has_file = request_fields()
    body = parse(schemas.PaperIncomingRequest, fields)  # before the scan: a refusal stores nothing
    staged = scan_upload(has_file)
    db = get_session()
    try:
        unit_id = unit_ref(db, body.unit)
    except InvalidInputError:
        if staged is not None:
            get_services().blobs.discard(staged)
        raise
    entry = paper.register_paper_incoming(
        db,
        get_services().blobs,
        http.actor(),
        unit_id,
        paper.PaperIncoming(
            sender=body.sender,
            sender_unit=body.sender_unit,
            original_symbol=body.original_symbol,
            original_date=body.original_date,
            subject=body.subject,
            doc_type=body.doc_type,
            classification=body.classification,
        ),
        staged,
        now=utcnow(),
    )
    db.commit()
    return entry_answer(entry).dump(), 201


@bp.post("/documents/<int:document_id>/paper-dispatches")
@operation(
    body=schemas.PaperDispatchRequest,
    responses={201: schemas.PaperDispatchList},
    description=PAPER,
)
def record_paper_dispatch(document_id: int) -> Any:
    """Record that an issued document was sent on paper: ``{"recipients": [unit ids],
    "external": [names], "sent_on"?: "YYYY-MM-DD"}`` -> 201."""
    body = parse(schemas.PaperDispatchRequest, http.json_body())
    db = get_session()
    rows = paper.record_paper_dispatch(
        db,
        http.actor(),
        document_id,
        recipients=body.recipients,
        external=body.external,
        sent_on=body.sent_on,
        now=utcnow(),
    )
    db.commit()
    answer = {
        "document_id": document_id,
        "paper_dispatches": [paper_dispatch_json(r) for r in rows],
    }
    return schemas.PaperDispatchList.model_validate(answer).dump(), 201


@bp.get("/documents/<int:document_id>/paper-dispatches")
@operation(responses={200: schemas.PaperDispatchList})
def list_paper_dispatches(document_id: int) -> Any:
    """The paper recipients of a document."""
    rows = paper.paper_dispatches_of(get_session(), http.actor(), document_id)
    answer = {
        "document_id": document_id,
        "paper_dispatches": [paper_dispatch_json(r) for r in rows],
    }
    return schemas.PaperDispatchList.model_validate(answer).dump()
