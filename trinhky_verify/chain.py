"""The audit hash chain and checkpoint rules, copied from the server.

Keep in step with ``storage/audit.py`` (``hash_values``, ``GENESIS``),
``storage/checkpoints.py`` (``checkpoint_digest``) and ``storage/heads.py``
(``LEDGER_HEAD``, ``LEDGER_HEAD_FORMAT``), ``storage/ledger.py`` (``LEDGER_FIELDS``,
``ledger_line``): ``tests/test_bundle.py`` checks that
both compute the same hash for the same entry.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

GENESIS = "0" * 64
"""``prev_hash`` of entry 1 (storage.audit.GENESIS)."""

LEDGER_HEAD = "ledger:head"
"""Audit action recording the ledger's digest (storage.heads.LEDGER_HEAD)."""
LEDGER_HEAD_FORMAT = "trinhky-ledger-head/1"
"""How that digest is computed (storage.heads.LEDGER_HEAD_FORMAT)."""

FIELDS = ("seq", "at", "actor_id", "action", "object_type", "object_id", "details", "prev_hash")
"""The hashed fields, in storage.audit._FIELDS order (the encoder sorts keys anyway)."""

# storage/audit.py: json.dumps(..., sort_keys=True, ensure_ascii=False, separators=(",", ":"))
_ENCODER = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def entry_hash(row: Mapping[str, Any]) -> str:
    """SHA-256 of one audit entry as ``storage.audit.hash_values`` computes it.

    :param row: an ``audit.jsonl`` row; ``at`` is the ISO 8601 string the server hashed
        (``datetime.isoformat()`` of the UTC time).
    :returns: the hex digest.
    """
    body = {name: row[name] for name in FIELDS}
    return hashlib.sha256(_ENCODER.encode(body).encode()).hexdigest()


def checkpoint_digest(head_hash: str) -> bytes:
    """What a checkpoint's RFC 3161 token stamps: ``SHA-256(bytes.fromhex(head_hash))``
    (storage.checkpoints.checkpoint_digest)."""
    return hashlib.sha256(bytes.fromhex(head_hash)).digest()


LEDGER_FIELDS = (
    "id",
    "target",
    "subject_kind",
    "subject_id",
    "unit_id",
    "doc_type",
    "period_date",
    "state",
    "label",
    "title",
    "reason",
    "exempt_reason",
    "exempt_decision",
    "exempt_approved_by_id",
    "evidence",
    "pdf_sha256",
)
"""The columns of a ledger entry its canonical line covers (storage.ledger.LEDGER_FIELDS)."""


def ledger_line(row: Mapping[str, Any]) -> bytes:
    """The canonical line of a ``ledger.jsonl`` row (storage.ledger.ledger_line)."""
    return (_ENCODER.encode([row[name] for name in LEDGER_FIELDS]) + "\n").encode()
