"""workflow: reading one raw e-mail (pure): its headers as a clerk needs them, its PDF
attachments, and what was wrong with it. Never raises on a malformed message: a
message that cannot be read is still kept, with its problems listed."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes
from email.header import decode_header, make_header
from email.message import Message
from email.policy import compat32
from email.utils import getaddresses, parseaddr, parsedate_to_datetime

MAX_HEADER = 255


@dataclass(frozen=True)
class Attachment:
    """A part of the message that claims to be a PDF."""

    filename: str
    """Its file name (``tep-dinh-kem-N.pdf`` when it has none)."""
    data: bytes
    """Its decoded content."""


@dataclass(frozen=True)
class ParsedMail:
    """What the intake keeps of one e-mail."""

    sha256: str
    """SHA-256 of the raw message (its blob key)."""
    message_id: str
    """The Message-ID header, or ``<sha256:…>`` when there is none."""
    sender: str
    """The From header as a person reads it."""
    reply_to: str | None
    """The address a reply goes to (Reply-To, else From), if one can be read."""
    subject: str
    """The decoded subject."""
    sent_at: datetime | None
    """The Date header (UTC), if readable."""
    attachments: tuple[Attachment, ...]
    """The PDF parts, in order."""
    problems: list[str] = field(default_factory=list)
    """MIME defects and unreadable headers, in Vietnamese."""


def _header(msg: Message, name: str, problems: list[str]) -> str:
    raw = msg.get(name)
    if raw is None:
        return ""
    try:
        text = str(make_header(decode_header(str(raw))))
    except (ValueError, LookupError, UnicodeError):
        problems.append(f"Tiêu đề {name} không đọc được")
        text = str(raw).encode("ascii", "replace").decode()
    return " ".join(text.split())


def _is_pdf(part: Message, filename: str | None) -> bool:
    ctype = part.get_content_type()
    return ctype == "application/pdf" or (
        bool(filename) and str(filename).lower().endswith(".pdf") and not part.is_multipart()
    )


def parse_mail(raw: bytes) -> ParsedMail:
    """:returns: what the intake keeps of ``raw`` (never raises: problems are listed)."""
    sha = hashlib.sha256(raw).hexdigest()
    problems: list[str] = []
    # compat32 parses anything; the newer policy raises on some malformed headers.
    msg = message_from_bytes(raw, policy=compat32)
    message_id = _header(msg, "Message-ID", problems).strip()[:MAX_HEADER] or f"<sha256:{sha}>"
    sender = _header(msg, "From", problems)[:MAX_HEADER] or "(không rõ người gửi)"
    subject = _header(msg, "Subject", problems) or "(không có tiêu đề)"
    reply = None
    for name in ("Reply-To", "From"):
        pairs = getaddresses([_header(msg, name, problems)]) if msg.get(name) else []
        address = next((a for _, a in pairs if "@" in a), None)
        if address:
            reply = address[:MAX_HEADER]
            break
    sent_at = None
    if msg.get("Date"):
        try:
            sent_at = parsedate_to_datetime(str(msg["Date"]))
            if sent_at.tzinfo is None:
                sent_at = sent_at.replace(tzinfo=UTC)
            sent_at = sent_at.astimezone(UTC)
        except (TypeError, ValueError, IndexError):
            problems.append("Ngày gửi (Date) không đọc được")
    attachments: list[Attachment] = []
    for part in msg.walk():
        for defect in part.defects:
            text = f"Thư sai cấu trúc MIME: {type(defect).__name__}"
            if text not in problems:
                problems.append(text)
        if part.is_multipart():
            continue
        try:
            filename = part.get_filename()
        except (ValueError, LookupError, UnicodeError):
            filename = None
        if not _is_pdf(part, filename):
            continue
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes) or not payload:
            problems.append(f"Tệp đính kèm {filename or ''} rỗng hoặc không giải mã được")
            continue
        name = str(make_header(decode_header(filename))) if filename else ""
        attachments.append(Attachment(name or f"tep-dinh-kem-{len(attachments) + 1}.pdf", payload))
    return ParsedMail(
        sha256=sha,
        message_id=message_id,
        sender=sender,
        reply_to=reply,
        subject=subject[:2000],
        sent_at=sent_at,
        attachments=tuple(attachments),
        problems=problems,
    )


def display_address(value: str) -> str:
    """:returns: the bare address of a From-style header value."""
    return parseaddr(value)[1]
