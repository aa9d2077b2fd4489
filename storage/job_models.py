"""storage: bulk signing jobs (ký hàng loạt) and their items, so any worker can report
progress."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from storage.db import Base
from storage.types import UTCDateTime, utcnow


class BulkJob(Base):
    """One signer's request to sign many tasks with one passphrase entry.

    The passphrase is never stored: the key is decrypted once when the job is accepted
    and the signer lives only in the memory of the process running the job. A job whose
    process died cannot resume; it is marked ``failed`` and must be started again.
    """

    __tablename__ = "bulk_jobs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    """Random hex id (not a sequence, so job URLs cannot be enumerated)."""
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    """The signer; the only user who may read the job."""
    certificate_id: Mapped[int] = mapped_column(ForeignKey("certificates.id"))
    """The certificate whose key was decrypted for this job."""
    status: Mapped[str] = mapped_column(String(16), default="queued")
    """``queued``, ``running``, ``done`` or ``failed`` (the job itself, not its items)."""
    total: Mapped[int] = mapped_column(Integer)
    """Number of items."""
    error: Mapped[str | None] = mapped_column(Text)
    """Why the job as a whole stopped (Vietnamese), when ``failed``."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    """Heartbeat: touched after every item, so a job whose process died can be told."""

    items: Mapped[list[BulkJobItem]] = relationship(
        back_populates="job", order_by="BulkJobItem.position", cascade="all, delete-orphan"
    )


class BulkJobItem(Base):
    """One task of a bulk job; it succeeds or fails on its own."""

    __tablename__ = "bulk_job_items"
    __table_args__ = (UniqueConstraint("job_id", "task_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("bulk_jobs.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    """Order in which the items are signed (as the signer selected them)."""
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id"), index=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"))
    state: Mapped[str] = mapped_column(String(16), default="pending")
    """``pending``, ``signed`` or ``failed``."""
    error: Mapped[str | None] = mapped_column(Text)
    """Why this item was not signed (Vietnamese, for the signer)."""
    revision_id: Mapped[int | None] = mapped_column(ForeignKey("revisions.id"))
    """The signed revision, once ``signed``."""
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    job: Mapped[BulkJob] = relationship(back_populates="items")
