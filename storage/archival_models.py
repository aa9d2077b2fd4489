"""storage: what the archival renewal knows of each document's newest document
timestamp, so the daily job reads a PDF once per revision, not every day."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.db import Base
from storage.types import UTCDateTime, utcnow


class ArchivalStamp(Base):
    """The newest document timestamp of one revision of a signed document."""

    __tablename__ = "archival_stamps"

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"), index=True)
    revision_id: Mapped[int] = mapped_column(ForeignKey("revisions.id"), unique=True)
    timestamps: Mapped[int] = mapped_column(Integer)
    """Document timestamps in the file (0: a B-LT file)."""
    tsa_not_after: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    """Expiry of the newest one's TSA certificate: renew before it."""
    digest_algorithm: Mapped[str | None] = mapped_column(String(32))
    checked_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    verdicts: Mapped[list[Any] | None] = mapped_column(JSON, nullable=True)
    """``[[field name, passed], ...]`` in file order: each signature's AdES long-term
    verdict when this revision was made by a renewal (validated before it was stored);
    the next renewal must keep them. ``None``: not validated yet."""
