"""storage: the audit-log head and the coverage-ledger head, recorded together under one
RFC 3161 timestamp (the periodic checkpoint of the audit trail).

The ledger is not a chain (its entries are updated when a state changes), so its head is
a digest of its content: SHA-256 over one canonical line per entry, in id order (every
column but ``checked_at``, the time of the last look, which moves on every re-check
without the entry changing). A checkpoint first appends a ``ledger:head`` entry carrying
that digest to the audit log when it differs from the last one recorded, then records the
audit head, stamped by the TSA: one token covers the log and, through the ``ledger:head``
entry it chains, the ledger's content at that moment.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage import audit
from storage.audit import ChainReport, verify_chain
from storage.audit_models import AuditCheckpoint
from storage.checkpoints import Timestamper, create_checkpoint, latest_checkpoint
from storage.ledger import LEDGER_FIELDS, LedgerEntry, ledger_line
from storage.models import AuditEvent, AuditHead

LEDGER_HEAD = "ledger:head"
"""Audit action of a recorded ledger head."""
LEDGER_HEAD_FORMAT = "trinhky-ledger-head/1"
"""How the digest is computed (written into each ``ledger:head`` entry)."""


@dataclass(frozen=True)
class LedgerHead:
    """The ledger's content at one moment, as a digest."""

    entries: int
    """Number of entries."""
    sha256: str
    """Hex SHA-256 over the canonical lines of every entry (:func:`ledger_line`)."""
    last_id: int
    """Highest entry id (0 for an empty ledger)."""

    def details(self) -> dict[str, Any]:
        """:returns: the ``details`` of the ``ledger:head`` audit entry."""
        return {
            "format": LEDGER_HEAD_FORMAT,
            "entries": self.entries,
            "sha256": self.sha256,
            "last_id": self.last_id,
        }


def ledger_head(session: Session, *, batch: int = 5000) -> LedgerHead:
    """Digest the whole ledger (streamed in id order, Core rows: no identity map).

    :param batch: rows fetched per query.
    :returns: the head.
    """
    columns = [getattr(LedgerEntry, name) for name in LEDGER_FIELDS]
    digest = hashlib.sha256()
    count = last = 0
    connection = session.connection()
    while True:
        chunk = connection.execute(
            select(*columns).where(LedgerEntry.id > last).order_by(LedgerEntry.id).limit(batch)
        ).all()
        if not chunk:
            return LedgerHead(count, digest.hexdigest(), last)
        for row in chunk:
            digest.update(ledger_line(dict(zip(LEDGER_FIELDS, row, strict=True))))
        count += len(chunk)
        last = int(chunk[-1][0])


def last_ledger_head(session: Session) -> AuditEvent | None:
    """:returns: the newest ``ledger:head`` audit entry, if any."""
    return session.scalars(
        select(AuditEvent)
        .where(AuditEvent.action == LEDGER_HEAD)
        .order_by(AuditEvent.seq.desc())
        .limit(1)
    ).first()


@dataclass(frozen=True)
class HeadsCheckpoint:
    """What one checkpoint of both heads did."""

    report: ChainReport
    """The audit chain verified from the previous checkpoint (a broken chain stops here)."""
    ledger: LedgerHead | None
    """The ledger head computed (``None`` if the chain is broken)."""
    ledger_event: AuditEvent | None
    """The ``ledger:head`` entry appended (``None``: the ledger did not change)."""
    checkpoint: AuditCheckpoint | None
    """The checkpoint recorded (``None``: broken chain, or nothing new to stamp)."""


def checkpoint_heads(
    session: Session,
    timestamper: Timestamper | None,
    *,
    now: datetime,
    force: bool = False,
    ledger: LedgerHead | None = None,
) -> HeadsCheckpoint:
    """Verify the audit chain from the latest checkpoint, record the ledger head if it
    changed, then checkpoint the audit head under ``timestamper``. The caller commits.

    Nothing is stamped twice: without ``force`` no checkpoint is made when the newest one
    already covers the current head with a token (or without one, if no timestamper).

    :param timestamper: digest -> RFC 3161 token DER; ``None`` records no token.
    :param force: record a checkpoint even if the head did not move.
    :param ledger: the ledger head if the caller computed it already (e.g. outside the
        write transaction); else it is computed here.
    :returns: what was verified and recorded.
    """
    head = ledger if ledger is not None else ledger_head(session)
    # Serialise with appends and with other checkpoints (a scheduler on another host, the
    # button): what "last recorded" and "newest checkpoint" mean must not change under us.
    session.execute(select(AuditHead.id).where(AuditHead.id == 1).with_for_update())
    report = verify_chain(session, latest_checkpoint(session))
    if not report.ok:
        return HeadsCheckpoint(report, None, None, None)
    last = last_ledger_head(session)
    event = None
    if last is None or last.details != head.details():
        event = audit.append(
            session,
            LEDGER_HEAD,
            actor_id=None,
            object_type="ledger",
            object_id=head.last_id,
            details=head.details(),
            at=now,
        )
    newest = latest_checkpoint(session)
    seq = session.scalar(select(AuditHead.seq).where(AuditHead.id == 1)) or 0
    covered = (
        newest is not None
        and newest.seq == seq
        and (newest.timestamp_token is not None or timestamper is None)
    )
    if covered and not force:
        return HeadsCheckpoint(report, head, event, None)
    return HeadsCheckpoint(report, head, event, create_checkpoint(session, timestamper, now=now))
