"""workflow: the paper side of the registers (Decree 30: every document issued or
received is registered, whatever its form): a document signed by hand, a document that
arrived on paper, and an issued document sent on paper.

A document signed by hand is numbered in the same yearly series as the electronic ones
of its issuer; a paper incoming document in the same incoming series as the electronic
receipts. Each item reaches the coverage ledger in the same transaction (a miss of T2
or T1 unless exempt). A scan is optional: stored in the blob store once every check
passed (blob before row), never for a classified document.

Use-cases take the session and services and never commit; the views do.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from signing.profiles import TrustConfig
from storage import audit
from storage.audit import AuditAction
from storage.blobs import BlobStore, StagedBlob
from storage.models import Document, Unit, User
from storage.registry_models import Dispatch, HandSignature, IncomingEntry
from workflow.accounts import access
from workflow.coverage import ledger as coverage
from workflow.documents.states import DocState
from workflow.documents.usecases import MAX_SUBJECT, check_pdf
from workflow.errors import ConflictError, ForbiddenError, InvalidInputError, NotFoundError
from workflow.files import extract
from workflow.registry import dispatch as dispatching
from workflow.registry import incoming
from workflow.registry.issuance import allocate_number, assign_number
from workflow.registry.issuers import issuer_of
from workflow.vocab import CLASSIFICATION_LABELS, DOC_TYPES, VN_TZ, normalise_doc_type


@dataclass(frozen=True)
class Scan:
    """A scan stored in the blob store."""

    sha256: str
    """Its SHA-256 (the blob's address)."""
    size: int
    """Its size in bytes."""


# --- checks shared by the three kinds ---------------------------------------------------


def _text(value: Any, label: str, limit: int, *, required: bool = True) -> str:
    if value is not None and not isinstance(value, str):
        raise InvalidInputError(_("'%(field)s' phải là chuỗi.", field=label))
    text = " ".join((value or "").split())
    if required and not text:
        raise InvalidInputError(_("Vui lòng nhập %(field)s.", field=label))
    if len(text) > limit:
        raise InvalidInputError(_("%(field)s quá dài (tối đa %(n)s ký tự).", field=label, n=limit))
    return text


def _day(value: Any, label: str, today: date, *, required: bool) -> date | None:
    """A date ``YYYY-MM-DD`` (or ``dd/mm/yyyy``) not after ``today`` (Vietnam time)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise InvalidInputError(
                _("Vui lòng nhập %(field)s (dạng YYYY-MM-DD, ví dụ 2026-12-01).", field=label)
            )
        return None
    if not isinstance(value, str):
        raise InvalidInputError(_("%(field)s phải là ngày dạng YYYY-MM-DD.", field=label))
    try:
        day = date.fromisoformat(value.strip())
    except ValueError:
        try:
            day = datetime.strptime(value.strip(), "%d/%m/%Y").date()
        except ValueError as exc:
            raise InvalidInputError(
                _("%(field)s không hợp lệ: nhập dạng 2026-12-01 hoặc 01/12/2026.", field=label)
            ) from exc
    if day > today:
        raise InvalidInputError(
            _(
                "%(field)s (%(day)s) không được sau ngày hôm nay.",
                field=label,
                day=day.strftime("%d/%m/%Y"),
            )
        )
    if day.year < 2000:
        raise InvalidInputError(_("%(field)s không hợp lệ.", field=label))
    return day


def _doc_type(value: Any, *, required: bool) -> str | None:
    if not value and not required:
        return None
    code = normalise_doc_type(value) if isinstance(value, str) else None
    if code is None:
        raise InvalidInputError(
            _("Loại văn bản không hợp lệ. Chọn một trong: %(types)s.", types=", ".join(DOC_TYPES))
        )
    return code


def _unit_by_code(session: Session, code: Any, label: str) -> Unit:
    if not isinstance(code, str) or not code.strip():
        raise InvalidInputError(_("'%(field)s' phải là mã đơn vị.", field=label))
    unit = session.scalars(select(Unit).where(Unit.code == code.strip())).first()
    if unit is None:
        raise InvalidInputError(_("Không có đơn vị mã «%(code)s».", code=code.strip()))
    if not unit.active:
        raise InvalidInputError(_("Đơn vị «%(name)s» đã ngừng hoạt động.", name=unit.name))
    return unit


@contextmanager
def _checked(blobs: BlobStore, staged: StagedBlob | None) -> Iterator[None]:
    """Run the checks; on any refusal drop the uploaded scan (nothing is kept)."""
    try:
        yield
        if staged is not None:
            check_pdf(staged)
    except BaseException:
        if staged is not None:
            blobs.discard(staged)
        raise


def _publish(blobs: BlobStore, staged: StagedBlob | None) -> Scan | None:
    if staged is None:
        return None
    size = staged.size
    return Scan(blobs.publish(staged), size)


def _today(now: datetime) -> date:
    return now.astimezone(VN_TZ).date()


# --- outgoing: signed by hand -------------------------------------------------------------


@dataclass(frozen=True)
class HandSigned:
    """What the clerk registers for a document signed on paper."""

    doc_type: Any
    subject: Any
    signer: Any
    """A username, or the signer's name as written."""
    signed_on: Any
    """``YYYY-MM-DD``."""
    unit: Any = None
    """The unit's code; ``None``: the clerk's issuer."""
    copies: Any = None
    """Số lượng bản (optional)."""


def _signer(session: Session, value: Any) -> tuple[User | None, str]:
    name = _text(value, _("người ký"), 255)
    user = session.scalars(select(User).where(User.username == name)).first()
    return (user, user.full_name) if user is not None else (None, name)


def _copies(value: Any) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 10000:
        raise InvalidInputError(_("Số lượng bản phải là số nguyên từ 1 đến 10000."))
    return value


def register_hand_signed(
    session: Session,
    blobs: BlobStore,
    trust: TrustConfig,
    actor: User,
    fields: HandSigned,
    scan: StagedBlob | None,
    *,
    now: datetime,
) -> Document:
    """Register an outgoing document signed by hand: the next number of its issuer's
    ordinary series, issued now, ``form="paper"``; a miss of T2 (for the Standing
    Committee and the boards) unless exempt, recorded in the same transaction.

    :raises ForbiddenError: not a clerk of the issuing unit (or of the unit keeping its
        registers).
    :raises InvalidInputError: a bad field or scan (nothing is kept).
    """
    with _checked(blobs, scan):
        clerk_of = dispatching.clerk_units(session, actor)
        if not clerk_of:
            raise ForbiddenError(_("Chỉ văn thư được vào sổ văn bản ký tay."))
        if fields.unit in (None, ""):
            default = dispatching.default_clerk_unit(session, actor)
            unit = session.get(Unit, default) if default is not None else None
            assert unit is not None  # noqa: S101 - a clerk has a unit
        else:
            unit = _unit_by_code(session, fields.unit, "unit")
        issuer = issuer_of(session, unit)
        if unit.id not in clerk_of and issuer.id not in clerk_of:
            raise ForbiddenError(
                _(
                    "Chỉ văn thư của cơ quan ban hành (%(issuer)s) được vào sổ văn bản này.",
                    issuer=issuer.name,
                )
            )
        code = _doc_type(fields.doc_type, required=True)
        subject = _text(fields.subject, _("trích yếu nội dung"), MAX_SUBJECT)
        signer, signer_name = _signer(session, fields.signer)
        signed_on = _day(fields.signed_on, _("ngày ký"), _today(now), required=True)
        copies = _copies(fields.copies)
    stored = _publish(blobs, scan)
    if stored is not None:
        extract.remember(session, blobs, stored.sha256)  # searchable (OCR if a scan)
    assert code is not None and signed_on is not None  # noqa: S101 - required above
    doc = Document(
        unit_id=unit.id,
        created_by_id=actor.id,
        subject=subject,
        doc_type=code,
        state=DocState.ISSUED,
        route_id=None,
        form="paper",
        copies=copies,
        created_at=now,
        updated_at=now,
    )
    session.add(doc)
    session.flush()
    assign_number(session, doc, issuer, "outgoing", actor, now)
    session.add(
        HandSignature(
            document_id=doc.id,
            signer_id=signer.id if signer else None,
            signer_name=signer_name,
            signed_on=signed_on,
            scan_sha256=stored.sha256 if stored else None,
            scan_size=stored.size if stored else None,
        )
    )
    session.flush()
    audit.append(
        session,
        AuditAction.PAPER_REGISTERED,
        actor_id=actor.id,
        object_type="document",
        object_id=doc.id,
        details={
            "number": doc.number,
            "symbol": doc.symbol,
            "register": doc.register,
            "unit": unit.code,
            "signer": signer_name,
            "signer_id": signer.id if signer else None,
            "signed_on": signed_on.isoformat(),
            "scan_sha256": stored.sha256 if stored else None,
        },
        at=now,
    )
    coverage.record_document(session, blobs, trust, doc, now=now, actor_id=actor.id)
    return doc


def hand_signature(session: Session, doc: Document) -> HandSignature | None:
    """:returns: the handwritten signature of a paper document, if it is one."""
    if doc.form != "paper":
        return None
    return session.scalars(select(HandSignature).where(HandSignature.document_id == doc.id)).first()


def scan_file(session: Session, blobs: BlobStore, actor: User, document_id: int) -> tuple[str, str]:
    """:returns: the key of the scan of a document signed by hand and its download name, for the
    issuer's clerks and those party to the document; the download is audited.

    :raises NotFoundError: no such document, not visible, or no scan.
    """
    doc = session.get(Document, document_id)
    if doc is None or doc.issuer_unit_id not in dispatching.clerk_units(session, actor):
        doc = access.get_visible_document(session, actor, document_id)
    hand = hand_signature(session, doc)
    if hand is None or hand.scan_sha256 is None or not blobs.exists(hand.scan_sha256):
        raise NotFoundError(_("Văn bản này không có bản quét."))
    audit.append(
        session,
        AuditAction.DOWNLOADED,
        actor_id=actor.id,
        object_type="document",
        object_id=doc.id,
        details={"scan_sha256": hand.scan_sha256},
    )
    name = f"{(doc.symbol or 'van-ban').replace('/', '-')}-ban-quet.pdf"
    return hand.scan_sha256, name


# --- incoming on paper ------------------------------------------------------------------


@dataclass(frozen=True)
class PaperIncoming:
    """What the clerk registers for a document that arrived on paper."""

    sender: Any = None
    """An outside organisation's name (or the name of the sending unit)."""
    sender_unit: Any = None
    """The code of the sending unit when it is a unit of the bloc."""
    original_symbol: Any = None
    original_date: Any = None
    subject: Any = None
    doc_type: Any = None
    classification: Any = None
    """``mat``, ``toi_mat`` or ``tuyet_mat``: metadata only, no scan."""


def _sender_document(
    session: Session, sender: Unit, symbol: str | None, day: date | None
) -> Document | None:
    """:returns: the sending unit's issued document with that number and symbol, if one
    document of its issuer's registers has it (in the year of its date, when given)."""
    if not symbol:
        return None
    query = select(Document).where(
        Document.issuer_unit_id == issuer_of(session, sender).id,
        Document.symbol == symbol,
        Document.issued_at.is_not(None),
    )
    if day is not None:
        query = query.where(Document.year == day.year)
    found = session.scalars(query.limit(2)).all()
    return found[0] if len(found) == 1 else None


def _unmatched_paper_dispatch(session: Session, document_id: int, unit_id: int) -> Dispatch | None:
    """:returns: a paper dispatch of the document to the unit that no incoming entry
    registers yet."""
    matched = select(IncomingEntry.dispatch_id).where(IncomingEntry.dispatch_id.is_not(None))
    return session.scalars(
        select(Dispatch)
        .where(
            Dispatch.document_id == document_id,
            Dispatch.recipient_unit_id == unit_id,
            Dispatch.form == "paper",
            Dispatch.id.not_in(matched),
        )
        .order_by(Dispatch.id)
    ).first()


def register_paper_incoming(
    session: Session,
    blobs: BlobStore,
    actor: User,
    unit_id: int | None,
    fields: PaperIncoming,
    scan: StagedBlob | None,
    *,
    now: datetime,
) -> IncomingEntry:
    """Register a document that arrived on paper: received now, with the next number of
    the unit's incoming series; a miss of T1 when it is an exchange of the bloc
    committee; put on the incoming route for a leader to assign (unless classified).

    :raises ForbiddenError: not a clerk of the receiving unit.
    :raises InvalidInputError: a bad field or scan (nothing is kept).
    """
    with _checked(blobs, scan):
        if not dispatching.clerk_units(session, actor):
            raise ForbiddenError(_("Chỉ văn thư được vào sổ văn bản đến."))
        unit = dispatching.check_register_access(session, actor, unit_id)
        if unit not in dispatching.clerk_units(session, actor):
            raise ForbiddenError(_("Chỉ văn thư của đơn vị nhận được vào sổ văn bản đến."))
        classification = fields.classification or None
        if classification is not None and classification not in CLASSIFICATION_LABELS:
            raise InvalidInputError(_("Độ mật không hợp lệ: mat, toi_mat hoặc tuyet_mat."))
        if classification is not None and scan is not None:
            raise InvalidInputError(
                _(
                    "Văn bản mật không được tải bản quét lên hệ thống: chỉ vào sổ số, ngày, "
                    "nơi gửi và độ mật."
                )
            )
        sender_unit = None
        if fields.sender_unit not in (None, ""):
            sender_unit = _unit_by_code(session, fields.sender_unit, "sender_unit")
            if sender_unit.id == unit:
                raise InvalidInputError(_("Đơn vị gửi không thể là chính đơn vị nhận."))
            sender = sender_unit.name
        else:
            sender = _text(fields.sender, _("cơ quan gửi (tác giả)"), 255)
        symbol = _text(fields.original_symbol, _("số, ký hiệu"), 64, required=False) or None
        when = _day(fields.original_date, _("ngày văn bản"), _today(now), required=False)
        if classification == "tuyet_mat":
            if _text(fields.subject, _("trích yếu nội dung"), MAX_SUBJECT, required=False):
                raise InvalidInputError(
                    _(
                        "Văn bản Tuyệt mật không được ghi trích yếu trên hệ thống; hãy để trống trích yếu."
                    )
                )
            subject = ""
        else:
            subject = _text(fields.subject, _("trích yếu nội dung"), MAX_SUBJECT)
        code = _doc_type(fields.doc_type, required=False)
    stored = _publish(blobs, scan)
    if stored is not None:
        extract.remember(session, blobs, stored.sha256)  # searchable (OCR if a scan)
    year = now.astimezone(VN_TZ).year
    sent = _sender_document(session, sender_unit, symbol, when) if sender_unit else None
    # The sender's clerk recorded it as sent on paper here: the same exchange.
    sent_on_paper = _unmatched_paper_dispatch(session, sent.id, unit) if sent else None
    entry = IncomingEntry(
        unit_id=unit,
        year=year,
        number=allocate_number(session, unit, "incoming", year),
        source="internal" if sender_unit else "external",
        form="paper",
        document_id=sent.id if sent else None,
        dispatch_id=sent_on_paper.id if sent_on_paper else None,
        blob_sha256=stored.sha256 if stored else None,
        sender=sender,
        sender_unit_id=sender_unit.id if sender_unit else None,
        original_symbol=symbol,
        original_date=when,
        subject=subject,
        doc_type=code,
        classification=classification,
        state="received",
        created_at=now,
        created_by_id=actor.id,
        received_at=now,
        received_by_id=actor.id,
    )
    session.add(entry)
    session.flush()
    audit.append(
        session,
        AuditAction.PAPER_RECEIVED,
        actor_id=actor.id,
        object_type="incoming",
        object_id=entry.id,
        details={
            "unit": entry.unit.code,
            "number": entry.number,
            "year": year,
            "sender": sender,
            "sender_unit": sender_unit.code if sender_unit else None,
            "symbol": symbol,
            "classification": classification,
            "document_id": entry.document_id,
            "scan_sha256": entry.blob_sha256,
        },
        at=now,
    )
    coverage.record_paper_incoming(session, entry, now=now, actor_id=actor.id)
    if classification is None:
        incoming.start_handling(session, blobs, entry, actor)
    return entry


# --- sent on paper ----------------------------------------------------------------------


def _recipients(
    session: Session, recipients: Any, external: Any, issuer_id: int
) -> list[tuple[Unit | None, str]]:
    if recipients is None:
        recipients = []
    if not isinstance(recipients, list) or not all(
        isinstance(r, int) and not isinstance(r, bool) for r in recipients
    ):
        raise InvalidInputError(_("'recipients' phải là danh sách mã số (id) đơn vị nhận."))
    if external is None:
        external = []
    if not isinstance(external, list) or not all(isinstance(n, str) for n in external):
        raise InvalidInputError(_("'external' phải là danh sách tên cơ quan, tổ chức nhận."))
    out: list[tuple[Unit | None, str]] = []
    for unit_id in dict.fromkeys(recipients):
        unit = session.get(Unit, unit_id)
        if unit is None:
            raise InvalidInputError(_("Không có đơn vị nhận với mã số %(id)s.", id=unit_id))
        if unit.id == issuer_id:
            raise InvalidInputError(
                _("Không gửi văn bản cho chính cơ quan ban hành (%(unit)s).", unit=unit.name)
            )
        out.append((unit, unit.name))
    for raw in external:
        name = _text(raw, _("tên nơi nhận"), 255)
        if name.casefold() not in {n.casefold() for u, n in out if u is None}:
            out.append((None, name))
    if not out:
        raise InvalidInputError(_("Hãy chọn ít nhất một nơi nhận."))
    return out


def record_paper_dispatch(
    session: Session,
    actor: User,
    document_id: int,
    *,
    recipients: Any,
    external: Any = None,
    sent_on: Any = None,
    now: datetime,
) -> list[Dispatch]:
    """Record that an issued document (electronic or paper) was sent on paper to units
    (ids) and outside organisations (names): dispatch rows with ``form="paper"``, a miss
    of T1 for each such exchange of the bloc committee, recorded in the same transaction.
    A paper entry the recipient's clerk already registered for the document is matched
    with its dispatch (one exchange).

    :raises NotFoundError: no such document, or not party to it.
    :raises ForbiddenError: not a clerk of its issuer.
    :raises ConflictError: not issued, recalled, or already sent on paper to a unit.
    :raises InvalidInputError: no or unknown recipients, a bad date.
    """
    doc = session.get(Document, document_id)
    if doc is None:
        raise NotFoundError(_(access.NOT_FOUND))
    if doc.issuer_unit_id is None or doc.issuer_unit_id not in dispatching.clerk_units(
        session, actor
    ):
        access.get_visible_document(session, actor, document_id)  # 404 when not party to it
        raise ForbiddenError(_("Chỉ văn thư của cơ quan ban hành được ghi nhận gửi văn bản này."))
    if doc.state != DocState.ISSUED or doc.recalled_at is not None or doc.issued_at is None:
        raise ConflictError(
            _("Chỉ ghi nhận gửi bản giấy cho văn bản đã ban hành và chưa bị thu hồi.")
        )
    wanted = _recipients(session, recipients, external, doc.issuer_unit_id)
    today = _today(now)
    day = _day(sent_on, _("ngày gửi"), today, required=False) or today
    issued_on = doc.issued_at.astimezone(VN_TZ).date()
    if day < issued_on:
        raise InvalidInputError(
            _(
                "Ngày gửi không được trước ngày ban hành (%(day)s).",
                day=issued_on.strftime("%d/%m/%Y"),
            )
        )
    earlier = session.scalars(
        select(Dispatch).where(Dispatch.document_id == doc.id, Dispatch.form == "paper")
    ).all()
    sent_units = {p.recipient_unit_id for p in earlier if p.recipient_unit_id is not None}
    again = [name for unit, name in wanted if unit is not None and unit.id in sent_units]
    if again:
        raise ConflictError(_("Đã ghi nhận gửi bản giấy đến: %(names)s.", names=", ".join(again)))
    doc.updated_at = now  # the versioned row serialises concurrent recordings
    # The day it was sent: at the moment of recording when that is today.
    at = now if day == today else datetime.combine(day, time(12), VN_TZ)
    rows = [
        Dispatch(
            document_id=doc.id,
            form="paper",
            state="paper",
            recipient_unit_id=unit.id if unit else None,
            external_name=None if unit else name,
            dispatched_at=at,
            dispatched_by_id=actor.id,
        )
        for unit, name in wanted
    ]
    session.add_all(rows)
    session.flush()
    for row in rows:
        if row.recipient_unit_id is not None:
            _match_registered_entry(session, row)
    audit.append(
        session,
        AuditAction.PAPER_DISPATCHED,
        actor_id=actor.id,
        object_type="document",
        object_id=doc.id,
        details={
            "sent_on": day.isoformat(),
            "dispatches": [r.id for r in rows],
            "units": [u.code for u, _n in wanted if u is not None],
            "external": [n for u, n in wanted if u is None],
        },
        at=now,
    )
    coverage.record_paper_dispatches(session, rows, now=now, actor_id=actor.id)
    return rows


def _match_registered_entry(session: Session, row: Dispatch) -> None:
    """Match the recipient's paper entry of the document (registered before the sender
    recorded the dispatch) with the dispatch."""
    entry = session.scalars(
        select(IncomingEntry)
        .where(
            IncomingEntry.form == "paper",
            IncomingEntry.unit_id == row.recipient_unit_id,
            IncomingEntry.document_id == row.document_id,
            IncomingEntry.dispatch_id.is_(None),
        )
        .order_by(IncomingEntry.id)
    ).first()
    if entry is not None:
        entry.dispatch_id = row.id


def paper_dispatches_of(session: Session, actor: User, document_id: int) -> list[Dispatch]:
    """:returns: the paper recipients of a document, for its issuer's clerks and those
    party to it."""
    doc = session.get(Document, document_id)
    if doc is None or doc.issuer_unit_id not in dispatching.clerk_units(session, actor):
        access.get_visible_document(session, actor, document_id)
    return list(
        session.scalars(
            select(Dispatch)
            .where(Dispatch.document_id == document_id, Dispatch.form == "paper")
            .order_by(Dispatch.id)
        )
    )
