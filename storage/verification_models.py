"""storage: public verification codes of issued documents (mã xác thực, ``/v/<code>``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from storage.db import Base
from storage.models import Document
from storage.types import UTCDateTime, utcnow


class VerificationCode(Base):
    """The random code printed (as text and QR) on an issued document.

    One code per document, unique across documents; random, never derived from the id,
    so codes cannot be enumerated. Rows are never updated or deleted.
    """

    __tablename__ = "verification_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"), unique=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    """Crockford base32, upper case, without separators (e.g. ``'7Q2K9XW4MB'``)."""
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    document: Mapped[Document] = relationship()
