"""workflow: dispatch (phát hành) of issued documents and their receipt (tiếp nhận) by the
recipient units' clerks after automatic signature validation.

Use-cases take the session and services and never commit; the views do.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from signing.profiles import TrustConfig
from signing.validate import MSG_UNREADABLE, ValidationReport, validate_pdf
from storage import audit
from storage.audit import AuditAction
from storage.blobs import BlobStore, StagedBlob
from storage.errors import BlobNotFoundError
from storage.models import Document, Role, Unit, User
from storage.registry_models import Dispatch, IncomingEntry, ReportObligation
from storage.types import utcnow
from workflow.accounts import access
from workflow.coverage import ledger as coverage
from workflow.documents import routing
from workflow.documents.states import DocState
from workflow.documents.usecases import MAX_SUBJECT, check_pdf
from workflow.errors import (
    ConflictError,
    ForbiddenError,
    InvalidInputError,
    NotFoundError,
    WorkflowError,
)
from workflow.files import extract
from workflow.i18n import N_
from workflow.mail import EMAIL_RE, Mailer, MailError
from workflow.registry import issuance
from workflow.registry.issuers import ISSUER_KINDS, issuer_of
from workflow.vocab import DOC_TYPES, VN_TZ, normalise_doc_type
from workflow.webhooks import events as webhook_events

log = logging.getLogger("trinhky.dispatch")

NO_MAIL_SERVER = "not sent: no mail server"
ENTRY_NOT_FOUND = N_("Không tìm thấy văn bản đến này, hoặc bạn không có quyền xem.")
INCOMING_STATES = ("pending", "received", "returned")
RECEIPT_REFUSED = "incoming:receipt_refused"
REPORT_RECEIVED = "report:received"
REPORT_RETURNED = "report:returned"


class GoneError(WorkflowError):
    """A one-time link already used or expired."""

    status = 410
    code = "link_gone"


# --- who acts for which unit ----------------------------------------------------------


def clerk_units(session: Session, user: User) -> set[int]:
    """:returns: the units whose registers ``user`` keeps as clerk: their own units, and
    for a clerk of an office (Văn phòng) also the committee it serves."""
    units: set[int] = set()
    for unit_id in user.units_with(Role.CLERK):
        units.add(unit_id)
        unit = session.get(Unit, unit_id)
        if unit is not None and unit.kind == "office":
            units.add(issuer_of(session, unit).id)
    return units


def default_clerk_unit(session: Session, user: User) -> int | None:
    """:returns: the caller's register unit: an issuing committee first, else the lowest."""
    units = clerk_units(session, user)
    if not units:
        return None
    issuers = [u for u in units if (unit := session.get(Unit, u)) and unit.kind in ISSUER_KINDS]
    return min(issuers or units)


def clerks_of(session: Session, unit_id: int) -> list[User]:
    """:returns: the active users who keep the registers of ``unit_id``."""
    users = session.scalars(select(User).where(User.active.is_(True)).order_by(User.id)).all()
    return [u for u in users if u.units_with(Role.CLERK) and unit_id in clerk_units(session, u)]


def _document_for_clerk(session: Session, actor: User, document_id: int) -> Document:
    doc = session.get(Document, document_id)
    if doc is None:
        raise NotFoundError(_(access.NOT_FOUND))
    if doc.issuer_unit_id is not None and doc.issuer_unit_id in clerk_units(session, actor):
        return doc
    access.get_visible_document(session, actor, document_id)  # 404 when not party to it
    raise ForbiddenError(_("Chỉ văn thư của cơ quan ban hành được phát hành văn bản này."))


# --- dispatch -------------------------------------------------------------------------


@dataclass(frozen=True)
class ExternalLink:
    """A one-time download link for an outside recipient (the token is never stored)."""

    dispatch: Dispatch
    token: str


@dataclass(frozen=True)
class Dispatched:
    """What dispatching created."""

    document: Document
    dispatches: list[Dispatch]
    links: list[ExternalLink]


def token_hash(token: str) -> str:
    """:returns: the SHA-256 (hex) stored for a download token."""
    return hashlib.sha256(token.encode()).hexdigest()


def _external_list(external: Any) -> list[tuple[str, str]]:
    if external is None:
        return []
    if not isinstance(external, list):
        raise InvalidInputError(_('\'external\' phải là danh sách {"name", "email"}.'))
    out: list[tuple[str, str]] = []
    for item in external:
        if not isinstance(item, dict):
            raise InvalidInputError(_("Mỗi nơi nhận bên ngoài phải có 'name' và 'email'."))
        name = " ".join(str(item.get("name") or "").split())
        email = str(item.get("email") or "").strip()
        if not name:
            raise InvalidInputError(_("Hãy nhập tên nơi nhận bên ngoài."))
        if len(name) > 255 or len(email) > 255 or not EMAIL_RE.match(email):
            raise InvalidInputError(
                _(
                    "Địa chỉ thư điện tử «%(email)s» của %(name)s không hợp lệ.",
                    email=email,
                    name=name,
                )
            )
        if email.lower() not in {e.lower() for _, e in out}:
            out.append((name, email))
    return out


def _recipient_units(session: Session, recipients: Any, issuer_id: int) -> list[Unit]:
    if recipients is None:
        return []
    if not isinstance(recipients, list) or not all(
        isinstance(r, int) and not isinstance(r, bool) for r in recipients
    ):
        raise InvalidInputError(_("'recipients' phải là danh sách mã số (id) đơn vị nhận."))
    units: list[Unit] = []
    for unit_id in dict.fromkeys(recipients):
        unit = session.get(Unit, unit_id)
        if unit is None:
            raise InvalidInputError(_("Không có đơn vị nhận với mã số %(id)s.", id=unit_id))
        if unit.id == issuer_id:
            raise InvalidInputError(
                _("Không phát hành văn bản cho chính cơ quan ban hành (%(unit)s).", unit=unit.name)
            )
        units.append(unit)
    return units


def deliver_to_unit(
    session: Session, actor: User, doc: Document, unit: Unit, sender: str, now: datetime
) -> tuple[Dispatch, IncomingEntry]:
    """Put the current revision of ``doc`` in ``unit``'s incoming register (pending
    receipt by its clerks, who are told): one dispatch row and its incoming entry."""
    row = Dispatch(
        document_id=doc.id,
        recipient_unit_id=unit.id,
        dispatched_at=now,
        dispatched_by_id=actor.id,
        state="sent",
    )
    session.add(row)
    session.flush()
    entry = IncomingEntry(
        unit_id=unit.id,
        source="internal",
        dispatch_id=row.id,
        document_id=doc.id,
        blob_sha256=doc.current_revision.blob_sha256,
        sender=sender,
        original_symbol=doc.symbol,
        original_date=doc.issued_at.astimezone(VN_TZ).date() if doc.issued_at else None,
        subject=doc.subject,
        doc_type=doc.doc_type,
        state="pending",
        created_at=now,
        created_by_id=actor.id,
    )
    session.add(entry)
    session.flush()
    for clerk in clerks_of(session, unit.id):
        routing.notify(
            session,
            clerk.id,
            "incoming",
            f"Văn bản đến: {doc.symbol or doc.subject[:60]} của {sender} - {doc.subject[:200]}",
            None,
        )
    return row, entry


def dispatch(
    session: Session,
    actor: User,
    document_id: int,
    recipients: Any,
    external: Any = None,
) -> Dispatched:
    """Send an issued document to recipient units (their incoming registers) and to outside
    addresses (one-time download links; the caller e-mails them after committing).

    :raises ConflictError: not issued, recalled, metadata only, or already sent to one.
    :raises InvalidInputError: no or unknown recipients, a bad e-mail address.
    """
    doc = _document_for_clerk(session, actor, document_id)
    if doc.state != DocState.ISSUED or doc.recalled_at is not None:
        raise ConflictError(_("Chỉ phát hành được văn bản đã ban hành và chưa bị thu hồi."))
    if doc.form == "paper" and not doc.classification:
        raise ConflictError(
            _(
                "Văn bản ký tay không có chữ ký số nên không phát hành điện tử được; "
                "hãy ghi nhận gửi bản giấy."
            )
        )
    if not doc.has_content:
        raise ConflictError(
            _("Văn bản mật chỉ được đăng ký thông tin; không phát hành điện tử qua hệ thống.")
        )
    assert doc.issuer_unit_id is not None and doc.issuer_unit is not None  # noqa: S101
    units = _recipient_units(session, recipients, doc.issuer_unit_id)
    outside = _external_list(external)
    if not units and not outside:
        raise InvalidInputError(_("Hãy chọn ít nhất một nơi nhận."))
    earlier = session.scalars(
        select(Dispatch).where(Dispatch.document_id == doc.id, Dispatch.form == "electronic")
    ).all()
    sent_units = {d.recipient_unit_id for d in earlier}
    sent_emails = {(d.external_email or "").lower() for d in earlier}
    again = [u.name for u in units if u.id in sent_units] + [
        e for _, e in outside if e.lower() in sent_emails
    ]
    if again:
        raise ConflictError(_("Văn bản đã được phát hành đến: %(names)s.", names=", ".join(again)))
    now = utcnow()
    # Touching the versioned document row serialises concurrent dispatches of it.
    doc.updated_at = now
    revision = doc.current_revision
    created: list[Dispatch] = []
    links: list[ExternalLink] = []
    for unit in units:
        row, _entry = deliver_to_unit(session, actor, doc, unit, doc.issuer_unit.name, now)
        created.append(row)
    for name, email in outside:
        token = secrets.token_urlsafe(32)
        row = Dispatch(
            document_id=doc.id,
            external_name=name,
            external_email=email,
            token_hash=token_hash(token),
            dispatched_at=now,
            dispatched_by_id=actor.id,
            state="link",
        )
        session.add(row)
        created.append(row)
        links.append(ExternalLink(row, token))
    session.flush()
    audit.append(
        session,
        AuditAction.DISPATCHED,
        actor_id=actor.id,
        object_type="document",
        object_id=doc.id,
        details={
            "revision": revision.number,
            "sha256": revision.blob_sha256,
            "units": [u.code for u in units],
            "external": [e for _, e in outside],
        },
    )
    webhook_events.emit(
        session,
        "dispatched",
        {"units": [u.code for u in units], "external": len(outside)},
        document=doc,
        now=now,
    )
    return Dispatched(doc, created, links)


def deliver_links(
    session: Session,
    mailer: Mailer,
    dispatched: Dispatched,
    link_url: Any,
    days: int,
) -> None:
    """E-mail each outside recipient its link and record the outcome on the dispatch.

    Called after the dispatch is committed, so no e-mail names a link that does not exist;
    a refused e-mail leaves the dispatch in place, marked ``mail_failed`` and logged.
    """
    doc = dispatched.document
    for link in dispatched.links:
        row = link.dispatch
        if not mailer.enabled:
            row.state = "not_sent"
            continue
        body = (
            f"Kính gửi {row.external_name},\n\n"
            f"{doc.issuer_unit.name if doc.issuer_unit else ''} gửi văn bản số {doc.symbol}: "
            f"{doc.subject}\n\nTải văn bản (một lần, trong {days} ngày):\n{link_url(link.token)}\n\n"
            "Văn bản có chữ ký số; hãy kiểm tra chữ ký sau khi tải về.\n"
        )
        try:
            mailer.send(row.external_email or "", f"Văn bản số {doc.symbol}", body)
        except MailError as exc:
            log.warning(
                "dispatch %s of document %s: the link was not e-mailed to %s: %s",
                row.id,
                doc.id,
                row.external_email,
                exc,
            )
            row.state = "mail_failed"
        else:
            row.state = "emailed"


def mail_status(row: Dispatch) -> str | None:
    """:returns: the e-mail outcome of an outside dispatch (``None`` for units and for
    a dispatch on paper)."""
    if row.form == "paper":
        return None
    return {
        "not_sent": NO_MAIL_SERVER,
        "mail_failed": "not sent: mail server error",
        "link": "pending",
    }.get(row.state, "sent" if row.recipient_unit_id is None else None)


def dispatches_of(session: Session, actor: User, document_id: int) -> list[Dispatch]:
    """:returns: the recipients of a document, for its sender and those party to it."""
    access.get_dispatchable_document(session, actor, document_id, clerk_units(session, actor))
    return list(
        session.scalars(
            select(Dispatch).where(Dispatch.document_id == document_id).order_by(Dispatch.id)
        )
    )


def download(session: Session, blobs: BlobStore, token: str, days: int) -> tuple[Dispatch, str]:
    """Serve an outside recipient's link once, before it expires.

    :returns: the dispatch and the key of the blob to send.

    :raises NotFoundError: no such link.
    :raises GoneError: already used, expired, or the document was recalled.
    """
    row = session.scalars(
        select(Dispatch)
        .where(Dispatch.token_hash == token_hash(token))
        .with_for_update(of=Dispatch)
    ).first()
    if row is None:
        raise NotFoundError(_("Liên kết tải văn bản không hợp lệ."))
    now = utcnow()
    if row.downloaded_at is not None:
        raise GoneError(_("Liên kết tải văn bản đã được sử dụng. Hãy liên hệ cơ quan gửi."))
    if row.dispatched_at + timedelta(days=days) < now:
        raise GoneError(_("Liên kết tải văn bản đã hết hạn. Hãy liên hệ cơ quan gửi."))
    doc = row.document
    if doc.recalled_at is not None:
        raise GoneError(_("Văn bản đã bị thu hồi; không còn tải được."))
    row.downloaded_at = now
    row.state = "downloaded"
    key = doc.current_revision.blob_sha256
    audit.append(
        session,
        AuditAction.DOWNLOADED,
        actor_id=None,
        object_type="document",
        object_id=doc.id,
        details={"dispatch": row.id, "external": row.external_email},
    )
    return row, key


# --- incoming -------------------------------------------------------------------------


def _entry_for_clerk(session: Session, actor: User, entry_id: int, lock: bool) -> IncomingEntry:
    query = select(IncomingEntry).where(IncomingEntry.id == entry_id)
    entry = session.scalars(query.with_for_update(of=IncomingEntry) if lock else query).first()
    if entry is None:
        raise NotFoundError(_(ENTRY_NOT_FOUND))
    if entry.unit_id not in clerk_units(session, actor):
        if access.oversees(actor):
            raise ForbiddenError(_("Chỉ văn thư của đơn vị nhận được tiếp nhận văn bản đến."))
        raise NotFoundError(_(ENTRY_NOT_FOUND))
    return entry


def list_incoming(
    session: Session, actor: User, unit_id: int | None, state: str | None
) -> list[IncomingEntry]:
    """:returns: a unit's incoming entries (its clerks, auditors and administrators).

    :raises ForbiddenError: not a clerk of the unit.
    """
    unit_id = check_register_access(session, actor, unit_id)
    query = select(IncomingEntry).where(IncomingEntry.unit_id == unit_id)
    if state:
        if state not in INCOMING_STATES:
            raise InvalidInputError(_("Trạng thái phải là pending, received hoặc returned."))
        query = query.where(IncomingEntry.state == state)
    return list(session.scalars(query.order_by(IncomingEntry.id.desc())))


def check_register_access(session: Session, actor: User, unit_id: int | None) -> int:
    """:returns: the unit whose registers are asked for (default: the caller's).

    :raises ForbiddenError: neither its clerk, an auditor nor an administrator.
    """
    overseer = access.oversees(actor)
    if unit_id is None:
        unit_id = default_clerk_unit(session, actor)
        if unit_id is None:
            if overseer:
                raise InvalidInputError(_("Hãy chọn đơn vị (tham số 'unit')."))
            raise ForbiddenError(
                _("Chỉ văn thư, người kiểm tra hoặc quản trị được xem sổ văn bản.")
            )
    if session.get(Unit, unit_id) is None:
        raise NotFoundError(_("Không có đơn vị này."))
    if not overseer and unit_id not in clerk_units(session, actor):
        raise ForbiddenError(_("Bạn không phải văn thư của đơn vị này nên không xem được sổ."))
    return unit_id


def _reason(report: dict[str, Any], intact_file: bool) -> str:
    problems: list[str] = []
    if not intact_file:
        problems.append("Tệp nhận được không khớp mã băm SHA-256 của văn bản đã gửi")
    if report.get("error"):
        problems.append(str(report["error"]).rstrip("."))
    elif report.get("verdict") == "unsigned":
        problems.append("Văn bản không có chữ ký số")
    for sig in report.get("signatures", []):
        problems.extend(p for p in sig.get("problems", []) if p not in problems)
    return "Trả lại văn bản: chữ ký số không hợp lệ. " + "; ".join(problems) + "."


def _reports_delivered(session: Session, actor: User, entry: IncomingEntry, now: datetime) -> None:
    """A report delivered to this register for an obligation is submitted when it is
    received (its receipt time), and not when it is returned; both are audited."""
    for ob in session.scalars(
        select(ReportObligation).where(ReportObligation.incoming_entry_id == entry.id)
    ):
        received = entry.state == "received"
        ob.submitted_at = now if received else None
        audit.append(
            session,
            REPORT_RECEIVED if received else REPORT_RETURNED,
            actor_id=actor.id,
            object_type="report_obligation",
            object_id=ob.id,
            details={
                "entry": entry.id,
                "unit": entry.unit.code,
                "number": entry.number,
                "reason": entry.return_reason,
            },
            at=now,
        )


class RecalledDocumentError(ConflictError):
    """The document of a pending incoming entry was recalled by its issuer: it is not
    received (no incoming number, nothing counted)."""

    code = "recalled"

    def __init__(self, message: str, *, entry_id: int, document_id: int) -> None:
        super().__init__(message)
        self.entry_id = entry_id
        self.document_id = document_id


def refuse_receipt(session: Session, actor: User, refused: RecalledDocumentError) -> None:
    """Audit a refused receipt (the caller rolled back whatever else it began, and
    commits this alone)."""
    audit.append(
        session,
        RECEIPT_REFUSED,
        actor_id=actor.id,
        object_type="incoming",
        object_id=refused.entry_id,
        details={"document": refused.document_id, "reason": refused.code},
    )


def receive(
    session: Session, blobs: BlobStore, trust: TrustConfig, actor: User, entry_id: int
) -> IncomingEntry:
    """Receive an incoming entry after validating its signatures: a valid one gets the
    next incoming number (số đến); an invalid one is returned to the sender with a reason.

    :raises ConflictError: already received or returned.
    :raises RecalledDocumentError: its document was recalled (nothing is written; the
        view audits the refusal with :func:`refuse_receipt`).
    """
    entry = _entry_for_clerk(session, actor, entry_id, lock=True)
    if entry.state != "pending":
        if entry.state == "received":
            raise ConflictError(_("Văn bản đến này đã được tiếp nhận; không xử lý lại."))
        raise ConflictError(_("Văn bản đến này đã bị trả lại; không xử lý lại."))
    sent = session.get(Document, entry.document_id) if entry.document_id else None
    if sent is not None and sent.recalled_at is not None:
        raise RecalledDocumentError(
            _(
                "Văn bản %(symbol)s đã bị cơ quan ban hành thu hồi (lý do: %(reason)s); "
                "không tiếp nhận văn bản đã thu hồi.",
                symbol=entry.original_symbol or sent.symbol or f"#{sent.id}",
                reason=sent.recall_reason or "-",
            ),
            entry_id=entry.id,
            document_id=sent.id,
        )
    if entry.blob_sha256 is None:  # paper entries are registered as received
        raise ConflictError(_("Văn bản đến bằng giấy không có tệp để kiểm tra chữ ký."))
    try:
        intact_file = blobs.verify(entry.blob_sha256)
        with blobs.local_copy(entry.blob_sha256) as path:
            report = validate_pdf(path, trust).to_dict()
    except BlobNotFoundError:  # lost from the store: unreadable, as a missing file was
        intact_file = False
        report = ValidationReport(signatures=(), error=MSG_UNREADABLE).to_dict()
    report["sha256_matches"] = intact_file
    entry.validation = report
    now = utcnow()
    row = session.get(Dispatch, entry.dispatch_id) if entry.dispatch_id else None
    object_type, object_id = (
        ("document", entry.document_id) if entry.document_id else ("incoming", entry.id)
    )
    # An unsigned PDF e-mailed to an office mailbox is received as "unsigned electronic"
    # (flagged, still electronic for T1); a broken or invalid signature is returned.
    unsigned = entry.mail_message_id is not None and report["verdict"] == "unsigned"
    report["unsigned_electronic"] = unsigned
    if (report["verdict"] == "valid" or unsigned) and intact_file:
        entry.year = now.astimezone(VN_TZ).year
        entry.number = issuance.allocate_number(session, entry.unit_id, "incoming", entry.year)
        entry.state = "received"
        entry.received_at = now
        entry.received_by_id = actor.id
        _reports_delivered(session, actor, entry, now)
        coverage.record_incoming(session, entry, now=now)
        if row is not None:
            row.state = "received"
            row.received_at = now
            row.received_by_id = actor.id
            routing.notify(
                session,
                row.dispatched_by_id,
                "received",
                f"{entry.unit.name} đã tiếp nhận văn bản {entry.original_symbol} "
                f"(số đến {entry.number}).",
                entry.document_id,
            )
        audit.append(
            session,
            AuditAction.RECEIVED,
            actor_id=actor.id,
            object_type=object_type,
            object_id=object_id,
            details={
                "entry": entry.id,
                "unit": entry.unit.code,
                "number": entry.number,
                "year": entry.year,
                "sha256": entry.blob_sha256,
                "unsigned": unsigned,
            },
        )
        webhook_events.emit(
            session,
            "received",
            {
                "unit": entry.unit.code,
                "incoming_number": entry.number,
                "symbol": entry.original_symbol,
                "subject": entry.subject,
            },
            document=sent,
            now=now,
        )
        return entry
    entry.state = "returned"
    entry.return_reason = _reason(report, intact_file)
    _reports_delivered(session, actor, entry, now)
    coverage.record_incoming(session, entry, now=now)
    if row is not None:
        row.state = "returned"
        routing.notify(
            session,
            row.dispatched_by_id,
            "returned",
            f"{entry.unit.name} trả lại văn bản {entry.original_symbol}: {entry.return_reason}",
            entry.document_id,
        )
    audit.append(
        session,
        AuditAction.RETURNED_TO_SENDER,
        actor_id=actor.id,
        object_type=object_type,
        object_id=object_id,
        details={"entry": entry.id, "unit": entry.unit.code, "reason": entry.return_reason},
    )
    return entry


def _parse_date(value: str | None, label: str) -> date | None:
    value = (value or "").strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        try:
            return datetime.strptime(value, "%d/%m/%Y").date()
        except ValueError as exc:
            raise InvalidInputError(
                _("%(label)s không hợp lệ: nhập dạng 2026-12-01 hoặc 01/12/2026.", label=label)
            ) from exc


def register_external(
    session: Session,
    blobs: BlobStore,
    actor: User,
    staged: StagedBlob,
    *,
    unit_id: int | None,
    sender: str | None,
    original_symbol: str | None,
    original_date: str | None,
    subject: str | None,
    doc_type: str | None,
) -> IncomingEntry:
    """Register a PDF received from outside as a pending incoming entry (received later,
    after signature validation). The blob is published only once every check passed.

    :raises InvalidInputError: a missing field or a bad PDF.
    :raises ForbiddenError: not a clerk of the unit.
    """
    try:
        if not clerk_units(session, actor):
            raise ForbiddenError(_("Chỉ văn thư được vào sổ văn bản đến."))
        unit = check_register_access(session, actor, unit_id)
        if unit not in clerk_units(session, actor):
            raise ForbiddenError(_("Chỉ văn thư của đơn vị nhận được vào sổ văn bản đến."))
        sender = " ".join((sender or "").split())
        subject = " ".join((subject or "").split())
        symbol = " ".join((original_symbol or "").split()) or None
        if not sender:
            raise InvalidInputError(_("Hãy nhập cơ quan gửi (tác giả) của văn bản đến."))
        if not subject:
            raise InvalidInputError(_("Vui lòng nhập trích yếu nội dung văn bản."))
        if len(subject) > MAX_SUBJECT or len(sender) > 255 or len(symbol or "") > 64:
            raise InvalidInputError(_("Trích yếu, cơ quan gửi hoặc số, ký hiệu quá dài."))
        code = normalise_doc_type(doc_type or "") if doc_type else None
        if doc_type and code is None:
            raise InvalidInputError(
                _(
                    "Loại văn bản không hợp lệ. Chọn một trong: %(types)s.",
                    types=", ".join(DOC_TYPES),
                )
            )
        when = _parse_date(original_date, _("Ngày văn bản"))
        check_pdf(staged)
    except BaseException:
        blobs.discard(staged)
        raise
    sha = blobs.publish(staged)
    extract.remember(session, blobs, sha)  # for search (a scan waits for the OCR job)
    entry = IncomingEntry(
        unit_id=unit,
        source="external",
        blob_sha256=sha,
        sender=sender,
        original_symbol=symbol,
        original_date=when,
        subject=subject,
        doc_type=code,
        state="pending",
        created_by_id=actor.id,
    )
    session.add(entry)
    session.flush()
    audit.append(
        session,
        AuditAction.REGISTERED,
        actor_id=actor.id,
        object_type="incoming",
        object_id=entry.id,
        details={"unit": unit, "sha256": sha, "sender": sender, "symbol": symbol},
    )
    return entry


def entry_file(
    session: Session, blobs: BlobStore, actor: User, entry_id: int
) -> tuple[IncomingEntry, str]:
    """:returns: an incoming entry and the key of its PDF, for its clerks."""
    entry = _entry_for_clerk(session, actor, entry_id, lock=False)
    if entry.blob_sha256 is None:
        raise NotFoundError(_("Văn bản đến bằng giấy này không có bản quét."))
    return entry, entry.blob_sha256
