"""storage: the append-only, hash-chained audit log."""

from __future__ import annotations

import enum
import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import AuditEvent, AuditHead
from storage.types import utcnow

GENESIS = "0" * 64


class AuditAction(enum.StrEnum):
    """Names of audited actions (``object:verb``)."""

    LOGIN = "auth:login"
    LOGIN_FAILED = "auth:login_failed"
    LOGOUT = "auth:logout"
    TOKEN_ISSUED = "auth:token_issued"  # noqa: S105 - an action name
    UPLOADED = "document:uploaded"
    SUBMITTED = "document:submitted"
    VIEWED = "document:viewed"
    DOWNLOADED = "document:downloaded"
    STEP_APPROVED = "document:step:approved"
    STEP_RETURNED = "document:step:returned"
    STEP_REJECTED = "document:step:rejected"
    SIGNED = "document:signed"
    SIGN_FAILED = "document:sign_failed"
    VALIDATED = "document:validated"
    USER_CREATED = "user:created"
    CERT_ISSUED = "certificate:issued"
    KEY_LOCKED = "certificate:key_locked"
    SYSTEM_INIT = "system:initialised"


_FIELDS = ("seq", "at", "actor_id", "action", "object_type", "object_id", "details", "prev_hash")


def _hash_fields(values: dict[str, Any]) -> str:
    body = dict(values, at=values["at"].isoformat())
    raw = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(raw.encode()).hexdigest()


def entry_hash(event: AuditEvent) -> str:
    """:returns: the SHA-256 chaining ``event`` to its predecessor."""
    return _hash_fields({name: getattr(event, name) for name in _FIELDS})


def append(
    session: Session,
    action: AuditAction | str,
    *,
    actor_id: int | None,
    object_type: str,
    object_id: str | int | None = None,
    details: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> AuditEvent:
    """Append one entry in the caller's transaction (the caller commits).

    The chain head row is locked (``SELECT ... FOR UPDATE``; SQLite transactions are
    already exclusive), so concurrent transactions extend the chain one after another.

    :returns: the new entry.
    """
    head = session.scalars(select(AuditHead).where(AuditHead.id == 1).with_for_update()).first()
    if head is None:
        head = AuditHead(id=1, seq=0, hash=GENESIS)
        session.add(head)
    # Round-trip through JSON so the hashed form is exactly what the column returns.
    clean = json.loads(json.dumps(details or {}, ensure_ascii=False, default=str))
    event = AuditEvent(
        seq=head.seq + 1,
        at=(at or utcnow()).astimezone(UTC),
        actor_id=actor_id,
        action=str(action),
        object_type=object_type,
        object_id=None if object_id is None else str(object_id),
        details=clean,
        prev_hash=head.hash,
    )
    event.hash = entry_hash(event)
    head.seq = event.seq
    head.hash = event.hash
    session.add(event)
    session.flush()
    return event


@dataclass(frozen=True)
class ChainReport:
    """Result of recomputing the audit chain."""

    ok: bool
    """Whether every entry links to its predecessor and hashes correctly."""
    entries: int
    """How many entries were checked."""
    first_broken: int | None
    """Sequence number of the first entry that does not verify, if any."""
    reason: str | None
    """Why that entry fails."""
    head_hash: str
    """Hash of the last verified entry."""


def verify_chain(session: Session, batch: int = 5000) -> ChainReport:
    """Recompute the whole chain from the genesis entry.

    Detects a changed row (hash mismatch), a deleted or inserted row (sequence gap or
    broken link) and a reordering, and checks the head row against the last entry.

    :returns: a :class:`ChainReport`.
    """
    columns = [getattr(AuditEvent, name) for name in _FIELDS]
    prev_hash = GENESIS
    expected_seq = 1
    count = 0
    last_seq = 0
    while True:
        # Plain rows, not entities: nothing lands in the caller's identity map.
        rows = session.execute(
            select(*columns, AuditEvent.hash)
            .where(AuditEvent.seq > last_seq)
            .order_by(AuditEvent.seq)
            .limit(batch)
        ).all()
        if not rows:
            break
        for row in rows:
            values = dict(zip(_FIELDS, row[:-1], strict=True))
            seq = values["seq"]
            if seq != expected_seq:
                return ChainReport(False, count, expected_seq, "missing entry", prev_hash)
            if values["prev_hash"] != prev_hash:
                return ChainReport(False, count, seq, "broken link", prev_hash)
            if _hash_fields(values) != row[-1]:
                return ChainReport(False, count, seq, "entry altered", prev_hash)
            prev_hash = row[-1]
            expected_seq += 1
            count += 1
            last_seq = seq
    head = session.execute(select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1)).first()
    if head is not None and (head.seq != count or head.hash != prev_hash):
        return ChainReport(False, count, count + 1, "entries missing at the end", prev_hash)
    return ChainReport(True, count, None, None, prev_hash)
