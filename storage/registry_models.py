"""storage: models of the administrative workflow: numbering, registers, dispatch,
delegations, comments, notifications, work files and report obligations, and the paper
(off-system) items the clerk registers."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from storage import intake_models  # noqa: F401 - registers mail_messages (a foreign key)
from storage.db import Base
from storage.models import Document, Unit, User
from storage.types import UTCDateTime, utcnow


class NumberSeries(Base):
    """The last number given in one register of one issuer in one year.

    Numbers are taken with one ``UPDATE ... SET last_number = last_number + 1`` in the
    issuing transaction: the row lock serialises concurrent issuances and a rolled-back
    issuance gives its number back, so the series has neither gaps nor duplicates.
    """

    __tablename__ = "number_series"
    __table_args__ = (UniqueConstraint("unit_id", "register", "year"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    register: Mapped[str] = mapped_column(String(24))
    year: Mapped[int] = mapped_column(Integer)
    last_number: Mapped[int] = mapped_column(Integer, default=0)


class Dispatch(Base):
    """One recipient of an issued document (nơi nhận): a unit or an outside address;
    sent electronically, or on paper (recorded by the issuer's clerk: ``form="paper"``,
    ``state="paper"``, an outside organisation by its name only, ``dispatched_at`` the
    day it was sent)."""

    __tablename__ = "dispatches"

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"), index=True)
    form: Mapped[str] = mapped_column(String(16), default="electronic", server_default="electronic")
    recipient_unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    external_name: Mapped[str | None] = mapped_column(String(255))
    external_email: Mapped[str | None] = mapped_column(String(255))
    # SHA-256 of the one download token given to an external recipient.
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    dispatched_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    dispatched_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    state: Mapped[str] = mapped_column(String(16), default="sent")
    received_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    received_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    downloaded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    document: Mapped[Document] = relationship(lazy="joined")
    recipient_unit: Mapped[Unit | None] = relationship(lazy="joined")
    received_by: Mapped[User | None] = relationship(foreign_keys=[received_by_id], lazy="joined")


class IncomingEntry(Base):
    """An entry of a unit's incoming register (sổ văn bản đến)."""

    __tablename__ = "incoming_entries"
    __table_args__ = (
        UniqueConstraint("unit_id", "year", "number"),
        Index("ix_incoming_unit_year", "unit_id", "year"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    year: Mapped[int | None] = mapped_column(Integer)
    # Số đến: given when the entry is received, never for a returned one.
    number: Mapped[int | None] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(16))  # internal | external
    # Hình thức: "electronic", or "paper" (arrived on paper, registered by the clerk).
    form: Mapped[str] = mapped_column(String(16), default="electronic", server_default="electronic")
    dispatch_id: Mapped[int | None] = mapped_column(ForeignKey("dispatches.id"))
    # The sender's document when known: the dispatched one, or for a paper entry from a
    # unit of the bloc the document of that unit's register with the same symbol.
    document_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id"))
    # The PDF (a scan for a paper entry: optional; never for a classified one).
    blob_sha256: Mapped[str | None] = mapped_column(String(64))
    sender: Mapped[str] = mapped_column(String(255))
    # A paper entry whose sender is a unit of the bloc: that unit.
    sender_unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    # A paper entry of a classified document: mat, toi_mat or tuyet_mat (metadata only).
    classification: Mapped[str | None] = mapped_column(String(16))
    original_symbol: Mapped[str | None] = mapped_column(String(64))
    original_date: Mapped[date | None] = mapped_column(Date)
    subject: Mapped[str] = mapped_column(Text)
    doc_type: Mapped[str | None] = mapped_column(String(8))
    state: Mapped[str] = mapped_column(String(16), default="pending")
    validation: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    return_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    received_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    received_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    assigned_unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    # Handling after receipt: the document on the incoming route that carries the tasks
    # (a leader assigns, the assigned unit handles), the lead person, the reply.
    handling_document_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id"))
    lead_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reply_document_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id"))
    # An attachment of an e-mail read from an office mailbox (mail_messages.id).
    mail_message_id: Mapped[int | None] = mapped_column(ForeignKey("mail_messages.id"), index=True)

    unit: Mapped[Unit] = relationship(foreign_keys=[unit_id], lazy="joined")
    received_by: Mapped[User | None] = relationship(foreign_keys=[received_by_id], lazy="joined")


class Delegation(Base):
    """Ủy quyền: written, limited in time and scope, never sub-delegated."""

    __tablename__ = "delegations"

    id: Mapped[int] = mapped_column(primary_key=True)
    from_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    to_user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Scope: the task actions and document types it covers (None: every one).
    actions: Mapped[list[str] | None] = mapped_column(JSON)
    doc_types: Mapped[list[str] | None] = mapped_column(JSON)
    # A delegation for one task only (the "delegate" action on a task).
    task_id: Mapped[int | None] = mapped_column(ForeignKey("tasks.id"))
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    from_user: Mapped[User] = relationship(foreign_keys=[from_user_id], lazy="joined")
    to_user: Mapped[User] = relationship(foreign_keys=[to_user_id], lazy="joined")


class Comment(Base):
    """A comment on a document, at any time, by anyone party to it."""

    __tablename__ = "comments"

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    user: Mapped[User] = relationship(lazy="joined")


class Notification(Base):
    """An in-app notification (new task, reminder, receipt, recall)."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_user_read", "user_id", "read_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(32))
    message: Mapped[str] = mapped_column(Text)
    document_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    emailed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class WorkFile(Base):
    """Hồ sơ công việc: the documents and steps of one matter."""

    __tablename__ = "work_files"

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    code: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(Text)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    classified: Mapped[bool] = mapped_column(Boolean, default=False)
    # Hình thức: "electronic", or "paper" (kept on paper: never processed online).
    form: Mapped[str] = mapped_column(String(16), default="electronic", server_default="electronic")
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Derived when closing: every item was processed in the system.
    processed_online: Mapped[bool | None] = mapped_column(Boolean)

    unit: Mapped[Unit] = relationship(lazy="joined")
    owner: Mapped[User] = relationship(lazy="joined")
    items: Mapped[list[WorkFileItem]] = relationship(
        back_populates="work_file", lazy="selectin", order_by="WorkFileItem.id"
    )


class WorkFileItem(Base):
    """A document, incoming entry or offline step recorded in a work file."""

    __tablename__ = "work_file_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    work_file_id: Mapped[int] = mapped_column(ForeignKey("work_files.id"), index=True)
    document_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id"))
    incoming_entry_id: Mapped[int | None] = mapped_column(ForeignKey("incoming_entries.id"))
    # A step that happened outside the system (on paper): makes the file not online.
    offline_note: Mapped[str | None] = mapped_column(Text)
    added_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    added_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    work_file: Mapped[WorkFile] = relationship(back_populates="items")
    document: Mapped[Document | None] = relationship(lazy="joined")


class ReportObligation(Base):
    """A report a unit owes for a period under the reporting regime (chế độ báo cáo)."""

    __tablename__ = "report_obligations"
    __table_args__ = (UniqueConstraint("unit_id", "report_type", "period"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"), index=True)
    report_type: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(Text)
    period: Mapped[str] = mapped_column(String(16))  # 2026, 2026-Q3, 2026-09
    due_date: Mapped[date] = mapped_column(Date)
    classified: Mapped[bool] = mapped_column(Boolean, default=False)
    # The report document, and its delivery to the superior's incoming register.
    document_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id"))
    incoming_entry_id: Mapped[int | None] = mapped_column(ForeignKey("incoming_entries.id"))
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Submitted (T4): the superior's clerk received it electronically, signatures valid.
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Delivered on paper instead (recorded by a clerk): the date, and who recorded it.
    paper_delivered_on: Mapped[date | None] = mapped_column(Date)
    paper_recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    unit: Mapped[Unit] = relationship(lazy="joined")
    document: Mapped[Document | None] = relationship(lazy="joined")
    incoming_entry: Mapped[IncomingEntry | None] = relationship(lazy="joined")


class HandSignature(Base):
    """The handwritten signature of a document signed on paper (ký tay), registered by
    the clerk with the document (``Document.form == "paper"``)."""

    __tablename__ = "hand_signatures"

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"), unique=True)
    # The signer: a user of the system when known, always the name as written.
    signer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    signer_name: Mapped[str] = mapped_column(String(255))
    signed_on: Mapped[date] = mapped_column(Date)
    # A scan of the signed paper (a PDF in the blob store), if the clerk uploaded one.
    scan_sha256: Mapped[str | None] = mapped_column(String(64))
    scan_size: Mapped[int | None] = mapped_column(BigInteger)

    signer: Mapped[User | None] = relationship(lazy="joined")
