"""storage: the append-only, hash-chained audit log."""

from __future__ import annotations

import enum
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage import tlog
from storage.audit_models import AuditCheckpoint
from storage.checkpoints import token_matches
from storage.models import AuditEvent, AuditHead
from storage.types import utcnow

GENESIS = "0" * 64


class AuditAction(enum.StrEnum):
    """Names of audited actions (``object:verb``)."""

    LOGIN = "auth:login"
    LOGIN_FAILED = "auth:login_failed"
    LOGOUT = "auth:logout"
    TOKEN_ISSUED = "auth:token_issued"  # noqa: S105 - an action name
    TOKEN_REVOKED = "auth:token_revoked"  # noqa: S105 - an action name
    UPLOADED = "document:uploaded"
    OCR_APPLIED = "document:ocr_applied"
    SUBMITTED = "document:submitted"
    VIEWED = "document:viewed"
    DOWNLOADED = "document:downloaded"
    STEP_APPROVED = "document:step:approved"
    STEP_RETURNED = "document:step:returned"
    STEP_REJECTED = "document:step:rejected"
    SIGNED = "document:signed"
    REVISED = "document:revised"
    WITHDRAWN = "document:withdrawn"
    DELEGATED = "document:delegated"
    REASSIGNED = "document:reassigned"
    COMMENTED = "document:commented"
    ISSUED = "document:issued"
    REGISTERED = "document:registered"
    DISPATCHED = "document:dispatched"
    RECEIVED = "document:received"
    RETURNED_TO_SENDER = "document:returned_to_sender"
    RECALLED = "document:recalled"
    PAPER_REGISTERED = "document:paper_registered"
    PAPER_DISPATCHED = "document:paper_dispatched"
    PAPER_RECEIVED = "incoming:paper_registered"
    ROUTE_SAVED = "route:saved"
    SIGN_FAILED = "document:sign_failed"
    VALIDATED = "document:validated"
    USER_CREATED = "user:created"
    CERT_ISSUED = "certificate:issued"
    CERT_REVOKED = "certificate:revoked"
    KEY_LOCKED = "certificate:key_locked"
    SYSTEM_INIT = "system:initialised"


_FIELDS = ("seq", "at", "actor_id", "action", "object_type", "object_id", "details", "prev_hash")

# Exactly ``json.dumps(..., sort_keys=True, ensure_ascii=False, separators=(",", ":"))``,
# built once: json.dumps would build this encoder again for every entry.
_ENCODER = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _hash_fields(values: dict[str, Any]) -> str:
    body = dict(values, at=values["at"].isoformat())
    return hashlib.sha256(_ENCODER.encode(body).encode()).hexdigest()


def entry_hash(event: AuditEvent) -> str:
    """:returns: the SHA-256 chaining ``event`` to its predecessor."""
    return _hash_fields({name: getattr(event, name) for name in _FIELDS})


def hash_values(
    seq: int,
    at: datetime,
    actor_id: int | None,
    action: str,
    object_type: str,
    object_id: str | None,
    details: dict[str, Any],
    prev_hash: str,
) -> str:
    """The hash of an entry from its column values (what :func:`entry_hash` computes).

    :param at: timezone-aware UTC, as the column returns it.
    :returns: the hex SHA-256.
    """
    body = {
        "seq": seq,
        "at": at.isoformat(),
        "actor_id": actor_id,
        "action": action,
        "object_type": object_type,
        "object_id": object_id,
        "details": details,
        "prev_hash": prev_hash,
    }
    return hashlib.sha256(_ENCODER.encode(body).encode()).hexdigest()


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
    tlog.append_leaves(session, [tlog.audit_leaf(event.seq, event.hash)], lock_audit=False)
    head.seq = event.seq
    head.hash = event.hash
    session.add(event)
    session.flush()
    return event


class Anchor(Protocol):
    """A trusted point of the chain: an :class:`AuditCheckpoint` or any (seq, hash) pair."""

    @property
    def seq(self) -> int:
        """Sequence number of the anchored entry (0: the empty chain)."""
        ...

    @property
    def head_hash(self) -> str:
        """Hash of that entry."""
        ...


@dataclass(frozen=True)
class ChainAnchor:
    """A plain :class:`Anchor`."""

    seq: int
    """Sequence number of the anchored entry."""
    head_hash: str
    """Hash of that entry."""


@dataclass(frozen=True)
class ChainReport:
    """Result of recomputing the audit chain (a broken chain is a result, not an error)."""

    ok: bool
    """Whether every entry links to its predecessor and hashes correctly, the head row
    matches the last entry and every checkpoint matches the recomputed chain."""
    entries: int
    """How many entries were verified (after the starting checkpoint, if any)."""
    first_broken: int | None
    """Sequence number of the first entry that does not verify, if any."""
    reason: str | None
    """Why that entry fails (English, for logs and the CLI)."""
    head_hash: str
    """Hash of the last verified entry."""
    problem: str | None = None
    """Kind of failure: ``missing``, ``inserted``, ``altered``, ``rehashed``, ``reordered``,
    ``broken_link``, ``head`` or ``checkpoint``."""
    checkpoints_checked: int = 0
    """How many checkpoints were compared with the recomputed chain."""
    checkpoints_ok: bool = True
    """Whether all of those matched (and their timestamp tokens stamp their head)."""
    start_seq: int = 0
    """Sequence number verification started after (0: the genesis)."""


_COLUMNS = tuple(getattr(AuditEvent, name) for name in _FIELDS) + (AuditEvent.hash,)
_Row = tuple[int, datetime, int | None, str, str, str | None, dict[str, Any], str, str]


@dataclass(frozen=True)
class _Mark:
    id: int
    seq: int
    head_hash: str
    token: bytes | None


def _load_marks(session: Session, start_seq: int) -> dict[int, list[_Mark]]:
    rows = session.execute(
        select(
            AuditCheckpoint.id,
            AuditCheckpoint.seq,
            AuditCheckpoint.head_hash,
            AuditCheckpoint.timestamp_token,
        )
        .where(AuditCheckpoint.seq >= start_seq)
        .order_by(AuditCheckpoint.seq, AuditCheckpoint.id)
    )
    marks: dict[int, list[_Mark]] = {}
    for row in rows:
        marks.setdefault(row[1], []).append(_Mark(*row))
    return marks


def _mark_problem(mark: _Mark, chain_hash: str, good_seq: int) -> str | None:
    if mark.head_hash != chain_hash:
        return (
            f"chain differs from checkpoint #{mark.id} at entry {mark.seq}: "
            f"history rewritten after entry {good_seq}"
        )
    if mark.token is not None and not token_matches(mark.token, mark.head_hash):
        return f"timestamp token of checkpoint #{mark.id} does not stamp its head hash"
    return None


def _diagnose_link(
    session: Session, row: _Row, prev: str, prev_prev: str | None
) -> tuple[int, str, str]:
    """Name the first broken entry when entry ``row`` does not link to its predecessor.

    :param prev_prev: the predecessor's own ``prev_hash`` if it was verified in this run.
    :returns: (first broken seq, problem, reason).
    """
    seq, linked, stored = row[0], row[7], row[8]
    if prev_prev is not None and linked == prev_prev:
        return seq - 1, "inserted", f"entry {seq - 1} was inserted: entry {seq} links past it"
    if (
        prev_prev is not None
        and hash_values(*row[:8]) == stored
        and session.scalar(select(AuditEvent.seq).where(AuditEvent.hash == linked)) is None
    ):
        return seq - 1, "rehashed", f"entry {seq - 1} was altered and its hash recomputed"
    successor = session.scalar(
        select(AuditEvent.seq).where(AuditEvent.prev_hash == prev, AuditEvent.seq != seq).limit(1)
    )
    if successor is not None:
        return (
            seq,
            "reordered",
            f"entries out of order: the successor of entry {seq - 1} is stored at {successor}",
        )
    return seq, "broken_link", "broken link"


def verify_chain(
    session: Session, from_checkpoint: Anchor | None = None, *, batch: int = 20_000
) -> ChainReport:
    """Recompute the chain from the genesis entry, or from a trusted checkpoint.

    Names the first broken entry for a changed row (hash mismatch; re-hashed: the next
    link breaks), a deleted row (sequence gap), an inserted row (its successor links past
    it) and reordered rows (the true successor is stored elsewhere); checks the head row
    against the last entry and every checkpoint at or after the start against the chain
    at its ``seq``, so a history re-hashed after a checkpoint is found too.

    :param from_checkpoint: start after this entry instead of the genesis; its stored
        entry must hash to its ``head_hash``. Entries before it are not examined.
    :param batch: rows fetched per query.
    :returns: a :class:`ChainReport`.
    """
    start = 0 if from_checkpoint is None else from_checkpoint.seq
    prev = GENESIS if from_checkpoint is None else from_checkpoint.head_hash
    prev_prev: str | None = None
    count = checked = 0
    good_seq = start

    def report(
        first: int | None, problem: str | None = None, reason: str | None = None
    ) -> ChainReport:
        cp_ok = problem != "checkpoint"
        return ChainReport(
            first is None, count, first, reason, prev, problem, checked, cp_ok, start
        )

    if start > 0:
        anchored = session.execute(select(*_COLUMNS).where(AuditEvent.seq == start)).first()
        if anchored is None or anchored[8] != prev or hash_values(*anchored[:8]) != prev:
            return report(start, "checkpoint", f"entry {start} differs from the checkpoint")
    marks = _load_marks(session, start)
    for mark in marks.pop(start, []):
        checked += 1
        if (problem := _mark_problem(mark, prev, good_seq)) is not None:
            return report(start, "checkpoint", problem)

    expected = start + 1
    last = start
    connection = session.connection()
    while True:
        # Core rows on the session's connection: no ORM loading, no identity map.
        rows: Sequence[_Row] = connection.execute(
            select(*_COLUMNS).where(AuditEvent.seq > last).order_by(AuditEvent.seq).limit(batch)
        ).all()
        if not rows:
            break
        for row in rows:
            seq, at, actor_id, action, object_type, object_id, details, linked, stored = row
            if seq != expected:
                return report(expected, "missing", "missing entry")
            if linked != prev:
                first, problem, reason = _diagnose_link(session, row, prev, prev_prev)
                if first < seq:  # the predecessor is to blame: un-count it
                    count -= 1
                    prev = prev_prev or prev
                return report(first, problem, reason)
            digest = hash_values(seq, at, actor_id, action, object_type, object_id, details, linked)
            if digest != stored:
                return report(seq, "altered", "entry altered")
            if seq in marks:
                for mark in marks.pop(seq):
                    checked += 1
                    if (problem_text := _mark_problem(mark, stored, good_seq)) is not None:
                        return report(seq, "checkpoint", problem_text)
                good_seq = seq
            prev_prev = prev
            prev = stored
            expected += 1
            count += 1
        last = rows[-1][0]

    if marks:
        checked += 1
        mark = marks[min(marks)][0]
        return report(
            expected,
            "checkpoint",
            f"checkpoint #{mark.id} records entry {mark.seq} but the log ends at {expected - 1}",
        )
    head = session.execute(select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1)).first()
    if head is not None:
        if head.seq < expected - 1:
            return report(head.seq + 1, "inserted", "entry beyond the chain head")
        if head.seq > expected - 1:
            return report(expected, "missing", "entries missing at the end")
        if head.hash != prev:
            return report(head.seq, "head", "last entry differs from the chain head")
    return report(None)
