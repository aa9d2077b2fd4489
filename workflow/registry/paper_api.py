"""workflow: JSON API of the paper side of the registers: documents signed by hand,
documents received on paper, documents sent on paper (on /api/v1)."""

from __future__ import annotations

from typing import Any

from flask import jsonify, request
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
from workflow.registry.api import entry_json
from workflow.services import get_services, get_session
from workflow.uploads import send_blob, stage_upload
from workflow.vocab import FORM_LABELS, SERIES_LABELS, to_vn, vn_iso

bp = api_blueprint("paper_api", __name__)


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
    """:returns: the API form of a document signed by hand."""
    return {
        "id": doc.id,
        "number": doc.number,
        "symbol": doc.symbol,
        "issued_at": vn_iso(doc.issued_at),
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
def register_hand_signed() -> Any:
    """Vào sổ a document signed by hand: JSON or multipart ``doc_type, subject, signer,
    signed_on, unit?, copies?`` (+ ``file``: a scan, PDF) -> 201 with its number."""
    fields, has_file = request_fields()
    staged = scan_upload(has_file)
    db = get_session()
    services = get_services()
    doc = paper.register_hand_signed(
        db,
        services.blobs,
        services.trust,
        http.actor(),
        paper.HandSigned(
            doc_type=fields.get("doc_type"),
            subject=fields.get("subject"),
            signer=fields.get("signer"),
            signed_on=fields.get("signed_on"),
            unit=fields.get("unit"),
            copies=fields.get("copies"),
        ),
        staged,
        now=utcnow(),
    )
    db.commit()
    return jsonify(hand_signed_json(doc, paper.hand_signature(db, doc))), 201


@bp.get("/outgoing/paper/<int:document_id>/scan")
def hand_signed_scan(document_id: int) -> Any:
    """The scan of a document signed by hand (those who may see the document)."""
    db = get_session()
    key, name = paper.scan_file(db, get_services().blobs, http.actor(), document_id)
    db.commit()
    return send_blob(key, name)


@bp.post("/incoming/paper")
def register_paper_incoming() -> Any:
    """Vào sổ a document received on paper: JSON or multipart ``sender`` or
    ``sender_unit`` (code), ``original_symbol, original_date, subject, doc_type?,
    classification?, unit?`` (+ ``file``: a scan) -> 201 with the incoming entry."""
    fields, has_file = request_fields()
    staged = scan_upload(has_file)
    db = get_session()
    try:
        unit_id = unit_ref(db, fields.get("unit"))
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
            sender=fields.get("sender"),
            sender_unit=fields.get("sender_unit"),
            original_symbol=fields.get("original_symbol"),
            original_date=fields.get("original_date"),
            subject=fields.get("subject"),
            doc_type=fields.get("doc_type"),
            classification=fields.get("classification"),
        ),
        staged,
        now=utcnow(),
    )
    db.commit()
    return jsonify(entry_json(entry)), 201


@bp.post("/documents/<int:document_id>/paper-dispatches")
def record_paper_dispatch(document_id: int) -> Any:
    """Record that an issued document was sent on paper: ``{"recipients": [unit ids],
    "external": [names], "sent_on"?: "YYYY-MM-DD"}`` -> 201."""
    body = http.json_body()
    db = get_session()
    rows = paper.record_paper_dispatch(
        db,
        http.actor(),
        document_id,
        recipients=body.get("recipients"),
        external=body.get("external"),
        sent_on=body.get("sent_on"),
        now=utcnow(),
    )
    db.commit()
    return jsonify(
        {"document_id": document_id, "paper_dispatches": [paper_dispatch_json(r) for r in rows]}
    ), 201


@bp.get("/documents/<int:document_id>/paper-dispatches")
def list_paper_dispatches(document_id: int) -> Any:
    """The paper recipients of a document."""
    rows = paper.paper_dispatches_of(get_session(), http.actor(), document_id)
    return jsonify(
        {"document_id": document_id, "paper_dispatches": [paper_dispatch_json(r) for r in rows]}
    )
