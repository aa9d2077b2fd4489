"""storage: e-mails fetched from the office mailboxes (hộp thư văn bản đến): the message
kept as evidence, and what the clerk decided; each PDF attachment is an incoming entry."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from storage.db import Base
from storage.models import Unit, User
from storage.types import UTCDateTime, utcnow


class MailMessage(Base):
    """One e-mail read from an office mailbox over IMAP.

    The raw message (``.eml``) is a blob under its SHA-256; ``(message_id, sha256)`` is
    unique, so a message fetched again (delivered twice, or not flagged on the server
    after a crash) is recorded once.
    """

    __tablename__ = "mail_messages"
    __table_args__ = (
        UniqueConstraint("message_id", "sha256"),
        Index("ix_mail_messages_unit_state", "unit_id", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    mailbox: Mapped[str] = mapped_column(String(64))
    # The Message-ID header (``<sha256:…>`` when the message has none).
    message_id: Mapped[str] = mapped_column(String(255))
    # SHA-256 of the raw message: also its key in the blob store.
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column()
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    sender: Mapped[str] = mapped_column(String(255))
    # The address a reply goes to (Reply-To, else From); None when unreadable.
    reply_to: Mapped[str | None] = mapped_column(String(255))
    subject: Mapped[str] = mapped_column(Text)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    fetched_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # pending | received | returned | discarded
    state: Mapped[str] = mapped_column(String(16), default="pending")
    # What the intake noticed: MIME defects, attachments refused (not PDF, broken...).
    problems: Mapped[list[Any]] = mapped_column(JSON, default=list)
    handled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    handled_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reason: Mapped[str | None] = mapped_column(Text)

    unit: Mapped[Unit] = relationship(lazy="joined")
    handled_by: Mapped[User | None] = relationship(lazy="joined")
