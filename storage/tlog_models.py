"""storage: the models of the transparency log (RFC 9162 Merkle tree over the audit log
and the ledger): leaves, perfect subtrees, the append state, signed tree heads, witnesses.

``log_leaves``, ``log_nodes`` and ``log_tree_heads`` are append-only (database triggers,
migration 0026), like the audit log.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from storage.db import Base
from storage.types import UTCDateTime, utcnow


class LogLeaf(Base):
    """One entry of the log: its leaf input (``data``) and ``SHA-256(0x00 || data)``."""

    __tablename__ = "log_leaves"

    idx: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    """Position in the log, from 0 (RFC 9162's leaf index)."""
    kind: Mapped[str] = mapped_column(String(16))
    """``audit`` (an audit-log entry) or ``ledger`` (a version of a ledger entry)."""
    ref: Mapped[str] = mapped_column(String(64), index=True)
    """The audit entry's ``seq`` or the ledger entry's ``id``."""
    data: Mapped[str] = mapped_column(Text)
    """The leaf input: canonical JSON naming the entry and its SHA-256."""
    leaf_hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class LogNode(Base):
    """A perfect subtree of the log (level 1 and up; level 0 are the leaves): the hash of
    leaves ``[idx << level, (idx + 1) << level)``, written when its last leaf is."""

    __tablename__ = "log_nodes"

    level: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    idx: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class LogState(Base):
    """The single row holding the log's size and frontier; locked to serialise appends."""

    __tablename__ = "log_state"

    id: Mapped[int] = mapped_column(primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    frontier: Mapped[bytes] = mapped_column(LargeBinary, default=b"")
    """The roots of the perfect subtrees of the whole log, largest first, concatenated."""


class LogTreeHead(Base):
    """A signed tree head: the log's size and root at a moment, signed by the
    organisation (CMS, detached, over ``statement``) and stamped by the TSA (RFC 3161
    over ``SHA-256(statement)``). Kept forever."""

    __tablename__ = "log_tree_heads"

    id: Mapped[int] = mapped_column(primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger, index=True)
    root_hash: Mapped[str] = mapped_column(String(64))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime())
    statement: Mapped[str] = mapped_column(Text)
    """The signed bytes (UTF-8 canonical JSON of size, root hash and time)."""
    signature: Mapped[bytes | None] = mapped_column(LargeBinary)
    """DER of a CMS SignedData (detached) by the organisation's seal key."""
    signer_fingerprint: Mapped[str | None] = mapped_column(String(64))
    timestamp_token: Mapped[bytes | None] = mapped_column(LargeBinary)
    tsa_name: Mapped[str | None] = mapped_column(String(255))


class LogWitness(Base):
    """Another party that receives every signed tree head by webhook."""

    __tablename__ = "log_witnesses"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    url: Mapped[str] = mapped_column(String(1000))
    secret: Mapped[str] = mapped_column(String(200))
    """HMAC-SHA256 key of ``X-TrinhKy-Signature`` (never shown again, never logged)."""
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class LogDelivery(Base):
    """One tree head owed to one witness: delivered, or retried until it is."""

    __tablename__ = "log_deliveries"
    __table_args__ = (UniqueConstraint("witness_id", "tree_head_id", name="uq_log_delivery"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    witness_id: Mapped[int] = mapped_column(ForeignKey("log_witnesses.id"), index=True)
    tree_head_id: Mapped[int] = mapped_column(ForeignKey("log_tree_heads.id"))
    state: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    """``pending`` (to send or retry), ``delivered``, ``failed`` (attempts exhausted)."""
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_status: Mapped[int | None] = mapped_column(Integer)
    """The witness's HTTP status of the last attempt."""
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
