"""storage: sessions of signatures made off the server (USB tokens, remote signing services)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.db import Base
from storage.types import UTCDateTime, utcnow


class ExternalSigningSession(Base):
    """One prepared external signature of a sign task: single-use, short-lived.

    Only bytes and plain values are kept between the steps (never pickled pyHanko
    objects). The session id given to the client is a random secret; only its SHA-256
    is stored. ``used_at`` is set atomically by the first completion attempt, so a
    session is consumed once whatever the outcome.
    """

    __tablename__ = "external_signing_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    """SHA-256 (hex) of the session id handed to the client."""
    mode: Mapped[str] = mapped_column(String(16))
    """``'signature'`` (the client returns a raw signature or a CMS) or ``'plugin'`` (the
    client uploads a PDF signed by a local plugin)."""
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id"), index=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    certificate_id: Mapped[int | None] = mapped_column(ForeignKey("certificates.id"))
    """The registered external certificate announced at prepare (``signature`` mode)."""
    document_version: Mapped[int] = mapped_column(Integer)
    source_sha256: Mapped[str] = mapped_column(String(64))
    """The document's current revision when the session was prepared."""
    prepared_sha256: Mapped[str | None] = mapped_column(String(64))
    """Blob of the staged PDF with the reserved signature slot (``signature`` mode)."""
    field_name: Mapped[str] = mapped_column(String(128))
    level: Mapped[str] = mapped_column(String(8))
    """PAdES level the policy asks for (B-B, B-T, B-LT, B-LTA)."""
    document_digest: Mapped[bytes | None] = mapped_column(LargeBinary)
    reserved_start: Mapped[int | None] = mapped_column(Integer)
    reserved_end: Mapped[int | None] = mapped_column(Integer)
    signed_attrs: Mapped[bytes | None] = mapped_column(LargeBinary)
    """DER of the CMS signed attributes: exactly the bytes the client signs."""
    signature_mechanism: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    outcome: Mapped[str | None] = mapped_column(String(16))
    """``'signed'`` or ``'refused'`` once used."""
