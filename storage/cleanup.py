"""storage: what a crash leaves behind, removed: temporary files of the blob store (an
upload cut off by ``kill -9``, a signing that never finished) and blobs no row refers to
(signed output whose transaction never committed), each older than a grace period, each
removal entered in the audit log in the caller's transaction.

A blob is *referenced* when its key appears in any text, string or JSON column of any
table (``*_sha256`` columns, but also the audit details that name a signed report): the
scan over-protects rather than guesses which columns hold keys. The grace period covers
work in progress: an upload is staged, checked, published and only then named by a
committed row, and publishing content that is already stored makes the blob young
again, so nothing younger than the grace period is touched."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import JSON, String, Text, select
from sqlalchemy.orm import Session

from storage import audit
from storage.blobs import BlobStore, StoredFile
from storage.db import Base

_KEY = re.compile(r"[0-9a-f]{64}")
TEMPORARY_REMOVED = "storage:temporary_removed"
BLOB_REMOVED = "storage:blob_removed"


@dataclass(frozen=True)
class Removed:
    """One file removed by :func:`sweep`."""

    kind: str
    """``temporary`` or ``blob``."""
    name: str
    """The temporary file's name or the blob's key."""
    size: int
    modified: datetime


def referenced_keys(session: Session) -> set[str]:
    """:returns: every blob key any row names (in any string, text or JSON column)."""
    keys: set[str] = set()
    for table in Base.metadata.sorted_tables:
        for column in table.columns:
            kind = column.type
            if isinstance(kind, String) and not isinstance(kind, Text):
                if kind.length is not None and kind.length < 64:
                    continue
            elif not isinstance(kind, (Text, JSON)):
                continue
            rows = session.execute(select(column).where(column.is_not(None))).scalars()
            for value in rows:
                text = value if isinstance(value, str) else json.dumps(value, default=str)
                keys.update(_KEY.findall(text))
    return keys


def sweep(session: Session, blobs: BlobStore, now: datetime, grace: timedelta) -> list[Removed]:
    """Remove temporary files and unreferenced blobs last modified before ``now - grace``,
    auditing each removal in ``session`` (the caller commits).

    :returns: what was removed.
    """
    cutoff = now - grace
    removed: list[Removed] = []
    for stored in _old(blobs.temporaries(), cutoff):
        if blobs.remove_temporary(stored.name):
            removed.append(_audited(session, "temporary", stored, now))
    referenced = referenced_keys(session)
    for stored in _old(blobs.blobs(), cutoff):
        if stored.name in referenced:
            continue
        modified = blobs.modified(stored.name)  # published again meanwhile: young
        if modified is None or modified >= cutoff:
            continue
        blobs.delete(stored.name)
        removed.append(_audited(session, "blob", stored, now))
    return removed


def _old(files: Iterator[StoredFile], cutoff: datetime) -> list[StoredFile]:
    return [f for f in files if f.modified < cutoff]


def _audited(session: Session, kind: str, stored: StoredFile, now: datetime) -> Removed:
    item = Removed(kind, stored.name, stored.size, stored.modified)
    audit.append(
        session,
        TEMPORARY_REMOVED if kind == "temporary" else BLOB_REMOVED,
        actor_id=None,
        object_type="blob" if kind == "blob" else "temporary_file",
        object_id=stored.name,
        details={
            "size": stored.size,
            "modified": stored.modified.isoformat(),
            "age_hours": round((now - stored.modified).total_seconds() / 3600, 1),
        },
        at=now,
    )
    return item
