"""workflow: the transparency log's use-cases: signed tree heads (the organisation's
seal, the TSA), proofs as the API publishes them, where an issued document sits in the
log, and the log's export for the offline verifier."""

from __future__ import annotations

import base64
import json
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from signing.keys import load_signer
from signing.statements import sign_statement
from storage import tlog
from storage.checkpoints import Timestamper
from storage.models import AuditEvent, Unit
from storage.tlog_models import LogLeaf, LogTreeHead
from workflow.errors import ConflictError, NotFoundError
from workflow.registry import issuers
from workflow.services import Services
from workflow.transparency import witnesses
from workflow.vocab import vn_iso

EXPORT_FORMAT = "trinhky-log-export/1"
AUDIT_FIELDS = (
    "seq",
    "at",
    "actor_id",
    "action",
    "object_type",
    "object_id",
    "details",
    "prev_hash",
    "hash",
)
NO_HEAD = (
    "Sổ nhật ký chưa có đầu cây được ký nào bao gồm mục này. Đầu cây mới được ký theo chu "
    "kỳ điểm kiểm tra; hãy thử lại sau, hoặc ghi rõ tham số size."
)


def _b64(data: bytes | None) -> str | None:
    return base64.b64encode(data).decode() if data is not None else None


def head_json(head: LogTreeHead) -> dict[str, Any]:
    """:returns: a signed tree head as it is published (``GET /log/head``) and saved."""
    return {
        "id": head.id,
        "size": head.size,
        "root_hash": head.root_hash,
        "timestamp": json.loads(head.statement)["timestamp"],
        "issued_at": vn_iso(head.issued_at),
        "statement": head.statement,
        "signature": _b64(head.signature),
        "signer_fingerprint": head.signer_fingerprint,
        "timestamp_token": _b64(head.timestamp_token),
        "tsa": head.tsa_name,
    }


def organisation_signer(session: Session, services: Services) -> tlog.Signer:
    """The organisation's seal key (the root unit's stored seal certificate) as a
    statement signer.

    :raises ConflictError: no root unit, or no seal certificate with a stored key.
    """
    org = session.scalars(select(Unit).where(Unit.parent_id.is_(None)).order_by(Unit.id)).first()
    if org is None:
        raise ConflictError("Chưa có đơn vị gốc của tổ chức.")
    cert = issuers.seal_certificate(session, org)
    trust = services.trust
    signer = load_signer(
        cert.cert_pem.encode(),
        cert.encrypted_key_pem.encode(),
        services.seal_passphrase,
        trust.other_certs_pem + trust.trust_roots_pem,
    )
    return lambda data: sign_statement(signer, data)


def publish_tree_head(
    session: Session,
    services: Services,
    timestamper: Timestamper | None,
    now: datetime,
    *,
    force: bool = False,
) -> LogTreeHead | None:
    """Sign and stamp the log's head unless the newest tree head has its size, and owe
    it to every active witness (the caller commits).

    :returns: the new tree head, or ``None`` when the log did not grow.
    :raises ConflictError: the organisation has no seal certificate.
    """
    size, _root = tlog.current_root(session)
    latest = tlog.latest_tree_head(session)
    if latest is not None and latest.size == size and not force:
        return None
    head = tlog.record_tree_head(
        session, organisation_signer(session, services), timestamper, now=now, force=force
    )
    if head is not None:
        witnesses.owe(session, head, now)
    return head


def published_head(session: Session) -> LogTreeHead:
    """:raises NotFoundError: no tree head was signed yet."""
    head = tlog.latest_tree_head(session)
    if head is None:
        raise NotFoundError(
            "Sổ nhật ký chưa có đầu cây nào được ký. Hãy chờ điểm kiểm tra kế tiếp."
        )
    return head


def _size_or_head(session: Session, size: int | None) -> tuple[int, LogTreeHead | None]:
    if size is not None:
        have = tlog.log_size(session)
        if size > have:
            raise NotFoundError(f"Sổ nhật ký mới có {have} mục, chưa có cây cỡ {size}.")
        return size, tlog.tree_head_of_size(session, size)
    head = published_head(session)
    return head.size, head


def inclusion(session: Session, entry: int, size: int | None) -> dict[str, Any]:
    """:returns: the inclusion proof of ``entry`` in the tree of ``size`` leaves (by
        default the newest signed tree head), with that head when one has this size.
    :raises NotFoundError: no such entry in that tree.
    """
    size, head = _size_or_head(session, size)
    if entry >= size:
        raise NotFoundError(
            NO_HEAD if entry < tlog.log_size(session) else f"Không có mục {entry} trong sổ nhật ký."
        )
    proof = tlog.inclusion_proof(session, entry, size)
    return {
        "entry": entry,
        "size": size,
        "leaf": proof.data,
        "leaf_hash": proof.leaf_hash.hex(),
        "audit_path": [h.hex() for h in proof.path],
        "root_hash": proof.root.hex(),
        "tree_head": head_json(head) if head is not None else None,
    }


def consistency(session: Session, old: int, new: int | None) -> dict[str, Any]:
    """:returns: the consistency proof from the tree of ``old`` leaves to that of ``new``
        (by default the newest signed tree head), with both roots.
    :raises NotFoundError: a size the log does not have. :raises ConflictError: old > new.
    """
    new, head = _size_or_head(session, new)
    if old > new:
        raise ConflictError(f"Cây cỡ {old} lớn hơn cây cỡ {new}: không có bằng chứng nhất quán.")
    return {
        "from": old,
        "to": new,
        "from_root": tlog.root_at(session, old).hex(),
        "to_root": tlog.root_at(session, new).hex(),
        "consistency_path": [h.hex() for h in tlog.consistency_proof(session, old, new)],
        "tree_head": head_json(head) if head is not None else None,
    }


@dataclass(frozen=True)
class Position:
    """Where an issued document's issuance sits in the log (the public page)."""

    entry: int
    """The leaf index."""
    seq: int
    """The audit entry's sequence number."""
    covered: bool
    """Whether the newest signed tree head includes it (a proof can be given now)."""


def issuance_position(session: Session, document_id: int) -> Position | None:
    """:returns: the log position of the ``document:issued`` entry of a document, if any."""
    seq = session.scalar(
        select(AuditEvent.seq)
        .where(
            AuditEvent.action == "document:issued",
            AuditEvent.object_type == "document",
            AuditEvent.object_id == str(document_id),
        )
        .order_by(AuditEvent.seq.desc())
        .limit(1)
    )
    if seq is None:
        return None
    found = tlog.latest_leaf(session, tlog.AUDIT, [str(seq)])
    if str(seq) not in found:
        return None
    head = tlog.latest_tree_head(session)
    entry = found[str(seq)]
    return Position(entry, int(seq), head is not None and entry < head.size)


def bundle_log(
    session: Session,
    services: Services,
    timestamper: Timestamper | None,
    now: datetime,
    audit_seqs: range,
    ledger_ids: list[int],
) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """The log part of an audit bundle: a tree head covering everything written so far
    (signed now if the log grew; the newest one if the seal cannot sign) and the
    inclusion proof of each audit entry of ``audit_seqs`` and of the newest version of
    each ledger entry of ``ledger_ids`` against it.

    :returns: (the head as published, the proofs), or (None, []) with no head at all.
    """
    try:
        head = publish_tree_head(session, services, timestamper, now)
    except ConflictError:  # no seal certificate: the newest signed head still serves
        head = None
    head = head or tlog.latest_tree_head(session)
    if head is None:
        return None, []
    proofs: list[dict[str, Any]] = []
    wanted = [
        (tlog.AUDIT, [str(s) for s in audit_seqs]),
        (tlog.LEDGER, [str(i) for i in ledger_ids]),
    ]
    for kind, refs in wanted:
        for start in range(0, len(refs), 500):
            found = tlog.latest_leaf(session, kind, refs[start : start + 500])
            for ref, index in sorted(found.items(), key=lambda item: item[1]):
                if index >= head.size:
                    continue
                proof = tlog.inclusion_proof(session, index, head.size)
                proofs.append(
                    {
                        "kind": kind,
                        "ref": ref,
                        "entry": index,
                        "leaf": proof.data,
                        "audit_path": [h.hex() for h in proof.path],
                    }
                )
    return head_json(head), proofs


def write_export(
    session: Session,
    out: IO[bytes],
    *,
    pki: Mapping[str, bytes] | None = None,
    batch: int = 5000,
) -> int:
    """Write the whole log for the offline verifier: a ZIP with ``leaves.jsonl`` (every
    leaf: index, kind, ref, leaf input), ``audit.jsonl`` (the audit entries the leaves
    name, every column), ``tree-head.json`` (the newest signed tree head) and
    ``tree-heads.jsonl`` (all of them) and ``pki/`` (the certificates to check the
    heads' signatures against).

    :returns: the number of leaves written.
    """
    count = 0
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        with zf.open("leaves.jsonl", "w") as fh:
            last = -1
            while True:
                rows = session.execute(
                    select(LogLeaf.idx, LogLeaf.kind, LogLeaf.ref, LogLeaf.data)
                    .where(LogLeaf.idx > last)
                    .order_by(LogLeaf.idx)
                    .limit(batch)
                ).all()
                if not rows:
                    break
                for idx, kind, ref, data in rows:
                    line = {"idx": idx, "kind": kind, "ref": ref, "data": data}
                    fh.write((tlog.canonical(line) + "\n").encode())
                count += len(rows)
                last = int(rows[-1][0])
        with zf.open("audit.jsonl", "w") as fh:
            columns = [getattr(AuditEvent, name) for name in AUDIT_FIELDS]
            last = 0
            while True:
                chunk = session.execute(
                    select(*columns)
                    .where(AuditEvent.seq > last)
                    .order_by(AuditEvent.seq)
                    .limit(batch)
                ).all()
                if not chunk:
                    break
                for r in chunk:
                    row = dict(zip(AUDIT_FIELDS, r, strict=True))
                    row["at"] = r[1].isoformat()  # exactly what storage.audit hashes
                    fh.write((tlog.canonical(row) + "\n").encode())
                last = int(chunk[-1][0])
        heads = session.scalars(select(LogTreeHead).order_by(LogTreeHead.id)).all()
        zf.writestr("tree-heads.jsonl", "".join(tlog.canonical(head_json(h)) + "\n" for h in heads))
        if heads:
            zf.writestr("tree-head.json", json.dumps(head_json(heads[-1]), indent=2))
        for name, pem in (pki or {}).items():
            zf.writestr(f"pki/{name}", pem)
        zf.writestr("format.json", json.dumps({"format": EXPORT_FORMAT, "leaves": count}))
    return count


def pki_files(services: Services) -> dict[str, bytes]:
    """:returns: the embedded root (the trust anchor of the seal and the TSA)."""
    return {"root.pem": services.root_pem_path().read_bytes()}


def export_to(session: Session, services: Services, path: Path) -> int:
    """:returns: the leaves written by :func:`write_export` to ``path``."""
    with path.open("wb") as out:
        return write_export(session, out, pki=pki_files(services))
