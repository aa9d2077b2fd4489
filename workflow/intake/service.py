"""workflow: the e-mail intake (use-cases): a message read from an office mailbox is
recorded once, kept as evidence (its ``.eml`` as a blob, its SHA-256 in the audit log)
with each valid PDF attachment as a pending incoming entry of the receiving unit; the
unit's clerk receives it (the register's receive), returns it to the sender with a
reason (a reply e-mail) or discards it as spam. Use-cases never commit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from io import BytesIO

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from signing.profiles import TrustConfig
from storage import audit
from storage.blobs import BlobStore
from storage.errors import BlobTooLargeError
from storage.intake_models import MailMessage
from storage.models import Role, Unit, User
from storage.registry_models import IncomingEntry
from storage.types import utcnow
from workflow.accounts import access
from workflow.documents import routing
from workflow.documents.usecases import MAX_SUBJECT, check_pdf
from workflow.errors import ConflictError, ForbiddenError, InvalidInputError, NotFoundError
from workflow.intake.parse import ParsedMail, parse_mail
from workflow.mail import Mailer, MailError
from workflow.registry import dispatch as dispatching
from workflow.registry import incoming

FETCHED = "mail:fetched"
RECEIVED = "mail:received"
RETURNED = "mail:returned"
DISCARDED = "mail:discarded"
STATES = ("pending", "received", "returned", "discarded")
MAX_REASON = 2000
NOT_FOUND = "Không tìm thấy thư điện tử này trong hộp thư văn bản đến."


@dataclass(frozen=True)
class Ingested:
    """The outcome of one raw message."""

    message: MailMessage
    """Its row (the earlier one for a duplicate)."""
    new: bool
    """False: already recorded (delivered twice, or fetched again after a crash)."""


def find(session: Session, parsed: ParsedMail) -> MailMessage | None:
    """:returns: the message already recorded with this Message-ID and SHA-256."""
    return session.scalars(
        select(MailMessage).where(
            MailMessage.message_id == parsed.message_id, MailMessage.sha256 == parsed.sha256
        )
    ).first()


def ingest(
    session: Session,
    blobs: BlobStore,
    *,
    mailbox: str,
    unit: Unit,
    raw: bytes,
    max_bytes: int,
    now: datetime,
) -> Ingested:
    """Record one raw e-mail (once): its blob, its row, a pending incoming entry per PDF
    attachment that passes the upload checks, and the audit entry with its SHA-256.
    A refused attachment (not a PDF, broken, too large) is listed in its problems."""
    parsed = parse_mail(raw)
    earlier = find(session, parsed)
    if earlier is not None:
        return Ingested(earlier, False)
    key = blobs.put(BytesIO(raw))  # blob before row
    problems = list(parsed.problems)
    message = MailMessage(
        mailbox=mailbox,
        message_id=parsed.message_id,
        sha256=key,
        size=len(raw),
        unit_id=unit.id,
        sender=parsed.sender,
        reply_to=parsed.reply_to,
        subject=parsed.subject,
        sent_at=parsed.sent_at,
        fetched_at=now,
        state="pending",
        problems=list(problems),  # a copy: the final list is assigned after the entries
    )
    session.add(message)
    session.flush()
    entries: list[IncomingEntry] = []
    many = len(parsed.attachments) > 1
    for attachment in parsed.attachments:
        try:
            staged = blobs.stage(BytesIO(attachment.data), limit=max_bytes)
        except BlobTooLargeError:
            problems.append(f"Tệp {attachment.filename} quá lớn (tối đa {max_bytes} byte)")
            continue
        try:
            check_pdf(staged)
        except InvalidInputError as exc:
            blobs.discard(staged)
            problems.append(f"Tệp {attachment.filename} không nhận được: {exc.message}")
            continue
        sha = blobs.publish(staged)
        subject = f"{parsed.subject} ({attachment.filename})" if many else parsed.subject
        entry = IncomingEntry(
            unit_id=unit.id,
            source="external",
            form="electronic",
            blob_sha256=sha,
            sender=parsed.sender,
            subject=subject[:MAX_SUBJECT],
            state="pending",
            created_at=now,
            mail_message_id=message.id,
        )
        session.add(entry)
        entries.append(entry)
    if not parsed.attachments:
        problems.append("Thư không có tệp PDF đính kèm")
    for clerk in dispatching.clerks_of(session, unit.id):
        routing.notify(
            session,
            clerk.id,
            "incoming",
            f"Thư điện tử đến từ {parsed.sender}: {parsed.subject[:200]}",
            None,
        )
    message.problems = problems
    session.flush()
    audit.append(
        session,
        FETCHED,
        actor_id=None,
        object_type="mail",
        object_id=message.id,
        details={
            "mailbox": mailbox,
            "unit": unit.code,
            "message_id": parsed.message_id,
            "sha256": key,
            "size": len(raw),
            "sender": parsed.sender,
            "subject": parsed.subject[:200],
            "entries": [{"id": e.id, "sha256": e.blob_sha256} for e in entries],
            "problems": problems,
        },
        at=now,
    )
    return Ingested(message, True)


# --- the clerk's queue ---------------------------------------------------------------


def queue(
    session: Session, actor: User, unit_id: int | None, state: str | None
) -> list[MailMessage]:
    """:returns: a unit's e-mailed messages, newest first (its clerks, auditors, admins).

    :raises ForbiddenError: not a clerk of the unit.
    """
    unit_id = dispatching.check_register_access(session, actor, unit_id)
    query = select(MailMessage).where(MailMessage.unit_id == unit_id)
    if state:
        if state not in STATES:
            raise InvalidInputError(
                _("Trạng thái phải là pending, received, returned hoặc discarded.")
            )
        query = query.where(MailMessage.state == state)
    return list(session.scalars(query.order_by(MailMessage.id.desc())))


def entries_of(session: Session, message: MailMessage) -> list[IncomingEntry]:
    """:returns: the incoming entries made of a message's attachments."""
    return list(
        session.scalars(
            select(IncomingEntry)
            .where(IncomingEntry.mail_message_id == message.id)
            .order_by(IncomingEntry.id)
        )
    )


def get_message(
    session: Session, actor: User, message_id: int, *, lock: bool = False
) -> MailMessage:
    """:returns: one message, for the clerks of its unit (auditors and admins: read).

    :raises NotFoundError: no such message, or not the actor's to see.
    """
    query = select(MailMessage).where(MailMessage.id == message_id)
    message = session.scalars(query.with_for_update(of=MailMessage) if lock else query).first()
    if message is None:
        raise NotFoundError(_(NOT_FOUND))
    overseer = access.is_auditor(actor) or actor.has_role(Role.ADMIN)
    if message.unit_id not in dispatching.clerk_units(session, actor) and not overseer:
        raise NotFoundError(_(NOT_FOUND))
    return message


def _for_clerk(session: Session, actor: User, message_id: int) -> MailMessage:
    message = get_message(session, actor, message_id, lock=True)
    if message.unit_id not in dispatching.clerk_units(session, actor):
        raise ForbiddenError(_("Chỉ văn thư của đơn vị nhận được xử lý thư điện tử đến."))
    if message.state != "pending":
        raise ConflictError(_("Thư này đã được xử lý; không xử lý lại."))
    return message


def _close(message: MailMessage, actor: User, state: str, reason: str | None) -> None:
    message.state = state
    message.handled_at = utcnow()
    message.handled_by_id = actor.id
    message.reason = reason


def receive(
    session: Session, blobs: BlobStore, trust: TrustConfig, actor: User, message_id: int
) -> list[IncomingEntry]:
    """Receive every pending attachment of a message through the register's receive
    (signature validation, the incoming number; unsigned ones as "unsigned electronic").

    :returns: the message's entries after receipt.
    :raises ConflictError: already handled, or no PDF attachment to receive.
    """
    message = _for_clerk(session, actor, message_id)
    pending = [e for e in entries_of(session, message) if e.state == "pending"]
    if not pending:
        raise ConflictError(
            _("Thư không có tệp PDF hợp lệ để tiếp nhận; hãy trả lại người gửi hoặc loại bỏ.")
        )
    for entry in pending:
        incoming.receive(session, blobs, trust, actor, entry.id)
    entries = entries_of(session, message)
    received = [e for e in entries if e.state == "received"]
    _close(message, actor, "received" if received else "returned", None)
    audit.append(
        session,
        RECEIVED,
        actor_id=actor.id,
        object_type="mail",
        object_id=message.id,
        details={
            "sha256": message.sha256,
            "received": [{"entry": e.id, "number": e.number} for e in received],
            "returned": [e.id for e in entries if e.state == "returned"],
            "unsigned": [e.id for e in received if (e.validation or {}).get("unsigned_electronic")],
        },
    )
    return entries


def _reason(reason: object) -> str:
    if not isinstance(reason, str) or not reason.strip():
        raise InvalidInputError(_("Hãy nhập lý do trả lại để báo cho người gửi."))
    text = reason.strip()
    if len(text) > MAX_REASON:
        raise InvalidInputError(_("Lý do quá dài (tối đa %(n)s ký tự).", n=MAX_REASON))
    return text


def reply_text(message: MailMessage, reason: str, org: str) -> tuple[str, str]:
    """:returns: (subject, body) of the reply telling the sender why it was returned."""
    subject = f"Re: {message.subject}"[:200]
    body = "\n".join(
        (
            "Kính gửi Quý cơ quan,",
            "",
            f"{org} đã nhận thư điện tử «{message.subject}» nhưng chưa tiếp nhận được "
            "văn bản kèm theo, vì lý do sau:",
            f"  {reason}",
            "",
            "Đề nghị Quý cơ quan kiểm tra và gửi lại.",
            "",
            "Thư này được gửi tự động từ hệ thống TrinhKy.",
        )
    )
    return subject, body


def return_to_sender(
    session: Session, mailer: Mailer, actor: User, message_id: int, reason: object, org: str
) -> MailMessage:
    """Return a message to its sender with a reason: a reply e-mail, its pending entries
    returned (never numbered).

    :raises InvalidInputError: no reason.
    :raises ConflictError: already handled, no address to reply to, or the reply could
        not be sent (nothing is recorded then).
    """
    text = _reason(reason)
    message = _for_clerk(session, actor, message_id)
    if not message.reply_to:
        raise ConflictError(
            _("Thư không có địa chỉ người gửi đọc được; chỉ có thể loại bỏ thư này.")
        )
    subject, body = reply_text(message, text, org)
    try:
        mailer.send(message.reply_to, subject, body)
    except MailError as exc:
        raise ConflictError(
            _(
                "Chưa gửi được thư trả lời (máy chủ thư): %(error)s. Hãy thử lại sau.",
                error=str(exc),
            )
        ) from exc
    for entry in entries_of(session, message):
        if entry.state == "pending":
            entry.state = "returned"
            entry.return_reason = text
    _close(message, actor, "returned", text)
    audit.append(
        session,
        RETURNED,
        actor_id=actor.id,
        object_type="mail",
        object_id=message.id,
        details={
            "sha256": message.sha256,
            "to": message.reply_to,
            "reason": text,
            "replied": mailer.enabled,
        },
    )
    return message


def discard(session: Session, actor: User, message_id: int, reason: object = None) -> MailMessage:
    """Discard a message as spam: its pending entries are removed (never numbered); the
    message and its ``.eml`` stay as evidence.

    :raises ConflictError: already handled.
    """
    message = _for_clerk(session, actor, message_id)
    text = reason.strip()[:MAX_REASON] if isinstance(reason, str) and reason.strip() else None
    removed = []
    for entry in entries_of(session, message):
        if entry.state == "pending":
            removed.append({"entry": entry.id, "sha256": entry.blob_sha256})
            session.delete(entry)
    _close(message, actor, "discarded", text)
    session.flush()
    audit.append(
        session,
        DISCARDED,
        actor_id=actor.id,
        object_type="mail",
        object_id=message.id,
        details={"sha256": message.sha256, "reason": text, "removed": removed},
    )
    return message
