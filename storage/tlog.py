"""storage: the transparency log: the audit log and the ledger as leaves of an RFC 9162
Merkle tree, appended in the transaction of the entry, and proofs read in ``O(log n)``.

Every perfect subtree is stored (``log_nodes``) when its last leaf is appended, and the
log's frontier (the roots of the perfect subtrees of the whole log) is kept in the
locked state row, so an append reads one row and writes the leaf plus, on average, one
node. An inclusion or consistency proof at any size is a fold of at most ``2 log2(n)``
stored hashes, fetched in one query.

Leaf inputs are canonical JSON (sorted keys, no spaces, UTF-8) that name their own
position ``idx``, so an entry deleted, inserted or moved shows at its place even to a
reader who has only today's log:

- ``{"idx":P,"kind":"audit","seq":N,"sha256":H}``: audit entry ``N`` whose chain hash is
  ``H`` (:func:`storage.audit.entry_hash`, which covers every column of the entry);
- ``{"idx":P,"kind":"ledger","id":I,"sha256":H}``: a version of ledger entry ``I``, ``H``
  the SHA-256 of its canonical line (:func:`storage.ledger.ledger_line`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Table, and_, event, func, insert, inspect, or_, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from storage import merkle
from storage.checkpoints import Timestamper, token_info
from storage.models import AuditHead
from storage.tlog_models import LogLeaf, LogNode, LogState, LogTreeHead
from storage.types import utcnow

AUDIT = "audit"
LEDGER = "ledger"
HEAD_FORMAT = "trinhky-tree-head/1"
"""``format`` of a signed tree head's statement."""

_ENCODER = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":"))
_LEAVES = cast(Table, LogLeaf.__table__)
_NODES = cast(Table, LogNode.__table__)
_STATE = cast(Table, LogState.__table__)


def canonical(value: Mapping[str, Any]) -> str:
    """:returns: ``value`` as canonical JSON (sorted keys, no spaces, UTF-8 text)."""
    return _ENCODER.encode(value)


@dataclass(frozen=True)
class NewLeaf:
    """A leaf to append."""

    kind: str
    """:data:`AUDIT` or :data:`LEDGER`."""
    ref: str
    """The audit ``seq`` or the ledger entry ``id``."""
    body: Mapping[str, Any]
    """What the leaf input says beside its ``idx`` and ``kind``."""

    def data(self, idx: int) -> str:
        """:returns: the leaf input at position ``idx``."""
        return canonical({"idx": idx, "kind": self.kind, **self.body})


def audit_leaf(seq: int, entry_hash: str) -> NewLeaf:
    """:returns: the leaf of audit entry ``seq`` whose chain hash is ``entry_hash``."""
    return NewLeaf(AUDIT, str(seq), {"seq": seq, "sha256": entry_hash})


def ledger_leaf(entry_id: int, line: bytes) -> NewLeaf:
    """:param line: the entry's canonical line (:func:`storage.ledger.ledger_line`).
    :returns: the leaf of this version of ledger entry ``entry_id``."""
    return NewLeaf(
        LEDGER, str(entry_id), {"id": entry_id, "sha256": hashlib.sha256(line).hexdigest()}
    )


def _state(connection: Connection) -> tuple[int, list[bytes]]:
    row = connection.execute(
        select(_STATE.c.size, _STATE.c.frontier).where(_STATE.c.id == 1).with_for_update()
    ).first()
    if row is None:
        connection.execute(insert(_STATE).values(id=1, size=0, frontier=b""))
        return 0, []
    raw = bytes(row.frontier)
    return int(row.size), [raw[i : i + 32] for i in range(0, len(raw), 32)]


def append_leaves(session: Session, leaves: Iterable[NewLeaf], *, lock_audit: bool = True) -> int:
    """Append ``leaves`` in the caller's transaction (the caller commits).

    The state row is locked (``FOR UPDATE``; SQLite transactions are exclusive); with
    ``lock_audit`` the audit head is locked first, the order :func:`storage.audit.append`
    takes them in, so the two writers never wait on each other in a circle.

    :returns: the index of the first appended leaf.
    """
    connection = session.connection()
    if lock_audit:
        connection.execute(select(AuditHead.id).where(AuditHead.id == 1).with_for_update())
    return append_rows(connection, leaves)


def append_rows(connection: Connection, leaves: Iterable[NewLeaf]) -> int:
    """Append ``leaves`` on ``connection`` (the state row locked; no audit lock): the
    body of :func:`append_leaves`, also used by migration 0026 and the benchmark.

    :returns: the index of the first appended leaf.
    """
    size, frontier = _state(connection)
    first = size
    leaf_rows: list[dict[str, Any]] = []
    node_rows: list[dict[str, Any]] = []
    for leaf in leaves:
        data = leaf.data(size)
        digest = merkle.leaf_hash(data.encode())
        leaf_rows.append(
            {
                "idx": size,
                "kind": leaf.kind,
                "ref": leaf.ref,
                "data": data,
                "leaf_hash": digest,
            }
        )
        for (level, idx), h in merkle.merged_nodes(size, digest, frontier):
            node_rows.append({"level": level, "idx": idx, "hash": h})
        merkle.append_to_frontier(frontier, size, digest)
        size += 1
    if leaf_rows:
        connection.execute(insert(_LEAVES), leaf_rows)
    if node_rows:
        connection.execute(insert(_NODES), node_rows)
    connection.execute(
        update(_STATE).where(_STATE.c.id == 1).values(size=size, frontier=b"".join(frontier))
    )
    return first


def track_ledger(
    entry_class: type, fields: Sequence[str], line: Callable[[dict[str, Any]], bytes]
) -> None:
    """Append a leaf for every ledger entry created, and for every change of its content
    (``fields``), at the flush that writes it (so in the same transaction).

    :param entry_class: the ledger entry model (with an ``id``).
    :param line: canonical line of an entry's ``fields`` (:func:`ledger_leaf` hashes it).
    """

    def after_flush(session: Session, _context: Any) -> None:
        leaves: list[NewLeaf] = []
        for obj in list(session.new) + list(session.dirty):
            if not isinstance(obj, entry_class):
                continue
            state = inspect(obj)
            now = {name: getattr(obj, name) for name in fields}
            if obj not in session.new:
                before = dict(now)
                for name in fields:
                    history = state.attrs[name].history
                    if history.deleted:
                        before[name] = history.deleted[0]
                if line(before) == line(now):
                    continue
            leaves.append(ledger_leaf(int(now["id"]), line(now)))
        if leaves:
            leaves.sort(key=lambda leaf: int(leaf.ref))
            append_leaves(session, leaves)

    event.listen(Session, "after_flush", after_flush)


def log_size(session: Session) -> int:
    """:returns: how many leaves the log holds."""
    return int(session.scalar(select(LogState.size).where(LogState.id == 1)) or 0)


def current_root(session: Session) -> tuple[int, bytes]:
    """:returns: the log's size and root hash, from the state row."""
    row = session.execute(select(LogState.size, LogState.frontier).where(LogState.id == 1)).first()
    if row is None:
        return 0, merkle.EMPTY_ROOT
    raw = bytes(row.frontier)
    return int(row.size), merkle.fold([raw[i : i + 32] for i in range(0, len(raw), 32)])


def _lookup(session: Session, keys: Collection[merkle.Node]) -> dict[merkle.Node, bytes]:
    """The stored hashes of ``keys`` (leaves and nodes), in two queries at most."""
    found: dict[merkle.Node, bytes] = {}
    leaves = [idx for level, idx in keys if level == 0]
    if leaves:
        rows = session.execute(
            select(LogLeaf.idx, LogLeaf.leaf_hash).where(LogLeaf.idx.in_(leaves))
        )
        found.update({(0, int(i)): bytes(h) for i, h in rows})
    by_level: dict[int, list[int]] = {}
    for level, idx in keys:
        if level:
            by_level.setdefault(level, []).append(idx)
    if by_level:
        clause = or_(
            *(and_(LogNode.level == lv, LogNode.idx.in_(ids)) for lv, ids in by_level.items())
        )
        nodes = session.execute(select(LogNode.level, LogNode.idx, LogNode.hash).where(clause))
        found.update({(int(lv), int(i)): bytes(h) for lv, i, h in nodes})
    return found


class ProofError(ValueError):
    """A proof was asked for sizes or entries the log does not have."""


def _check_size(session: Session, size: int) -> None:
    have = log_size(session)
    if size > have:
        raise ProofError(f"the log has {have} entries, not {size}")


def root_at(session: Session, size: int) -> bytes:
    """:returns: the root hash of the log's first ``size`` leaves.
    :raises ProofError: the log is shorter.
    """
    _check_size(session, size)
    if size == 0:
        return merkle.EMPTY_ROOT
    return merkle.tree_hash(size, _lookup(session, merkle.perfect_cover(0, size)))


@dataclass(frozen=True)
class Inclusion:
    """An inclusion proof of one leaf in the tree of ``size`` leaves."""

    index: int
    size: int
    kind: str
    ref: str
    data: str
    """The leaf input."""
    leaf_hash: bytes
    path: list[bytes]
    """The audit path, from the leaf up."""
    root: bytes
    """The root the path leads to (the tree of ``size`` leaves)."""


def inclusion_proof(session: Session, index: int, size: int) -> Inclusion:
    """:returns: the proof that leaf ``index`` is in the tree of ``size`` leaves.
    :raises ProofError: no such leaf or size.
    """
    if not 0 <= index < size:
        raise ProofError(f"entry {index} is not in a tree of {size}")
    _check_size(session, size)
    ranges = merkle.inclusion_ranges(index, size)
    keys = merkle.needed_nodes(ranges) | set(merkle.perfect_cover(0, size)) | {(0, index)}
    nodes = _lookup(session, keys)
    leaf = session.get(LogLeaf, index)
    if leaf is None:  # pragma: no cover - the state says it exists
        raise ProofError(f"entry {index} is missing")
    path = merkle.range_hashes(ranges, nodes)
    root = merkle.tree_hash(size, nodes)
    return Inclusion(index, size, leaf.kind, leaf.ref, leaf.data, bytes(leaf.leaf_hash), path, root)


def consistency_proof(session: Session, old: int, new: int) -> list[bytes]:
    """:returns: ``PROOF(old, D[new])`` (empty when ``old`` is 0 or equals ``new``).
    :raises ProofError: ``old > new`` or the log is shorter than ``new``.
    """
    if not 0 <= old <= new:
        raise ProofError(f"no consistency proof from {old} to {new}")
    _check_size(session, new)
    if old in (0, new):
        return []
    ranges = merkle.consistency_ranges(old, new)
    return merkle.proof_from(ranges, lambda keys: _lookup(session, keys))


def latest_leaf(session: Session, kind: str, refs: Iterable[str]) -> dict[str, int]:
    """:returns: for each ref that has a leaf of ``kind``, the index of its newest leaf."""
    wanted = list(refs)
    if not wanted:
        return {}
    rows = session.execute(
        select(LogLeaf.ref, func.max(LogLeaf.idx))
        .where(LogLeaf.kind == kind, LogLeaf.ref.in_(wanted))
        .group_by(LogLeaf.ref)
    )
    return {str(r): int(i) for r, i in rows}


# --- signed tree heads -----------------------------------------------------------------

Signer = Callable[[bytes], tuple[bytes, str]]
"""Signs a statement: returns the DER of a detached CMS signature and the signer
certificate's SHA-256 fingerprint."""


def statement(size: int, root: bytes, issued_at: datetime) -> str:
    """:returns: the canonical JSON a tree head signs."""
    moment = issued_at.astimezone(UTC).isoformat().replace("+00:00", "Z")
    return canonical(
        {"format": HEAD_FORMAT, "size": size, "root_hash": root.hex(), "timestamp": moment}
    )


def statement_digest(text: str) -> bytes:
    """:returns: the SHA-256 the TSA stamps: ``SHA-256(statement)``."""
    return hashlib.sha256(text.encode()).digest()


def latest_tree_head(session: Session) -> LogTreeHead | None:
    """:returns: the newest signed tree head, if any."""
    return session.scalars(select(LogTreeHead).order_by(LogTreeHead.id.desc()).limit(1)).first()


def tree_head_of_size(session: Session, size: int) -> LogTreeHead | None:
    """:returns: the newest signed tree head of exactly ``size`` leaves, if any."""
    return session.scalars(
        select(LogTreeHead).where(LogTreeHead.size == size).order_by(LogTreeHead.id.desc()).limit(1)
    ).first()


def record_tree_head(
    session: Session,
    sign: Signer | None,
    timestamper: Timestamper | None,
    *,
    now: datetime | None = None,
    force: bool = False,
) -> LogTreeHead | None:
    """Sign and stamp the log's current head in the caller's transaction (the caller
    commits), unless the newest tree head already has this size (``force``: anyway).

    :returns: the new tree head, or ``None`` when nothing changed.
    """
    connection = session.connection()
    size, frontier = _state(connection)  # locked: no leaf lands between read and sign
    previous = latest_tree_head(session)
    if previous is not None and previous.size == size and not force:
        return None
    root = merkle.fold(frontier)
    issued_at = (now or utcnow()).astimezone(UTC).replace(microsecond=0)
    text = statement(size, root, issued_at)
    signature, fingerprint = sign(text.encode()) if sign is not None else (None, None)
    token = timestamper(statement_digest(text)) if timestamper is not None else None
    info = token_info(token) if token is not None else None
    head = LogTreeHead(
        size=size,
        root_hash=root.hex(),
        issued_at=issued_at,
        statement=text,
        signature=signature,
        signer_fingerprint=fingerprint,
        timestamp_token=token,
        tsa_name=info.tsa if info is not None else None,
    )
    session.add(head)
    session.flush()
    return head
