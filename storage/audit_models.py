"""storage: the model of audit-chain checkpoints (signed snapshots of the chain head)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.db import Base
from storage.types import UTCDateTime, utcnow


class AuditCheckpoint(Base):
    """The chain head (``seq``, ``head_hash``) recorded at one moment, optionally with an
    RFC 3161 timestamp token over ``SHA-256(bytes.fromhex(head_hash))``.

    Append-only like the log itself (database triggers, migration 0002).
    """

    __tablename__ = "audit_checkpoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    seq: Mapped[int] = mapped_column(BigInteger, index=True)
    head_hash: Mapped[str] = mapped_column(String(64))
    timestamp_token: Mapped[bytes | None] = mapped_column(LargeBinary)
    tsa_name: Mapped[str | None] = mapped_column(String(255))
