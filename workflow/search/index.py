"""workflow: the search index kept in step with the data: every commit of a session
that touched a document (its revisions, signatures, files), an incoming entry, a work
file or a PDF's extracted text re-indexes those objects in the same transaction, so a
search never sees a state that was not committed, nor misses one that was."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, case, event, func, literal_column, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, sessionmaker

from storage.models import Document, Revision, Signature, Unit, User
from storage.registry_models import IncomingEntry, WorkFile
from storage.search_models import DocumentFile, SearchEntry, TextExtract
from storage.types import utcnow
from workflow.files.extract import fold
from workflow.vocab import (
    CLASSIFICATION_LABELS,
    DOC_TYPES,
    ENTRY_STATE_LABELS,
    STATE_LABELS,
    URGENCY_LABELS,
    to_vn,
)

_PENDING = "trinhky.search.pending"
MAX_TSV_BODY = 200_000
"""Characters of the body in PostgreSQL's tsvector (its size limit is 1 MB)."""
HIDDEN_LEVEL = "tuyet_mat"
"""Tuyệt mật: no subject line in the index (Decree 30 practice: not without permission)."""


def _vn_day(moment: datetime | None) -> date | None:
    local = to_vn(moment)
    return local.date() if local is not None else None


def _dmy(day: date | None) -> str:
    return day.strftime("%d/%m/%Y") if day is not None else ""


def _text_of(session: Session, shas: Iterable[str | None]) -> str:
    """:returns: the text of the first of ``shas`` (newest first) that has an extract with
    text (one query, one text read)."""
    rank: dict[str, int] = {}
    for sha in shas:
        if sha is not None:
            rank.setdefault(sha, len(rank))
    if not rank:
        return ""
    text = session.scalars(
        select(TextExtract.text)
        .where(TextExtract.blob_sha256.in_(rank), TextExtract.text != "")
        .order_by(case(rank, value=TextExtract.blob_sha256))
        .limit(1)
    ).first()
    return text or ""


def _name(session: Session, model: Any, key: int | None, attr: str) -> str:
    if key is None:
        return ""
    row = session.get(model, key)
    return str(getattr(row, attr)) if row is not None else ""


def _document_row(session: Session, doc: Document) -> dict[str, Any]:
    secret = doc.classification == HIDDEN_LEVEL
    signers = session.scalars(
        select(User.full_name)
        .join(Signature, Signature.signer_id == User.id)
        .where(Signature.document_id == doc.id)
    ).all()
    files = session.scalars(
        select(DocumentFile).where(DocumentFile.document_id == doc.id).order_by(DocumentFile.id)
    ).all()
    day = _vn_day(doc.issued_at or doc.created_at)
    meta = [
        doc.symbol or "",
        f"Số {doc.number}" if doc.number else "",
        doc.doc_type,
        DOC_TYPES.get(doc.doc_type, ""),
        STATE_LABELS.get(doc.state, doc.state),
        doc.unit.name if doc.unit else "",
        _name(session, Unit, doc.issuer_unit_id, "name"),
        doc.created_by.full_name if doc.created_by else "",
        *signers,
        CLASSIFICATION_LABELS.get(doc.classification or "", ""),
        URGENCY_LABELS.get(doc.urgency or "", ""),
        _dmy(_vn_day(doc.created_at)),
        _dmy(_vn_day(doc.issued_at)),
        *(f.filename for f in files),
    ]
    body = "" if secret else _text_of(session, (r.blob_sha256 for r in reversed(doc.revisions)))
    title = (doc.symbol or DOC_TYPES.get(doc.doc_type, "")) if secret else doc.subject
    return {
        "kind": "document",
        "object_id": doc.id,
        "unit_id": doc.unit_id,
        "title": title,
        "symbol": doc.symbol,
        "doc_type": doc.doc_type,
        "state": doc.state,
        "day": day,
        "meta": " · ".join(m for m in meta if m),
        "body": body,
    }


def _incoming_row(session: Session, entry: IncomingEntry) -> dict[str, Any]:
    secret = entry.classification == HIDDEN_LEVEL
    day = entry.original_date or _vn_day(entry.received_at or entry.created_at)
    meta = [
        entry.original_symbol or "",
        f"Số đến {entry.number}" if entry.number else "",
        entry.sender,
        entry.doc_type or "",
        DOC_TYPES.get(entry.doc_type or "", ""),
        ENTRY_STATE_LABELS.get(entry.state, entry.state),
        entry.unit.name if entry.unit else "",
        CLASSIFICATION_LABELS.get(entry.classification or "", ""),
        _dmy(entry.original_date),
        _dmy(_vn_day(entry.received_at)),
    ]
    shas: list[str | None] = [entry.blob_sha256]
    if entry.document_id is not None:
        doc = session.get(Document, entry.document_id)
        if doc is not None:
            shas.extend(r.blob_sha256 for r in reversed(doc.revisions))
    return {
        "kind": "incoming",
        "object_id": entry.id,
        "unit_id": entry.unit_id,
        "title": (entry.original_symbol or "") if secret else entry.subject,
        "symbol": entry.original_symbol,
        "doc_type": entry.doc_type,
        "state": entry.state,
        "day": day,
        "meta": " · ".join(m for m in meta if m),
        "body": "" if secret else _text_of(session, shas),
    }


def _workfile_row(session: Session, wf: WorkFile) -> dict[str, Any]:
    meta = [
        wf.code,
        wf.unit.name if wf.unit else "",
        wf.owner.full_name if wf.owner else "",
        _dmy(_vn_day(wf.opened_at)),
        _dmy(_vn_day(wf.closed_at)),
        "Đã đóng" if wf.closed_at else "Đang mở",
    ]
    return {
        "kind": "workfile",
        "object_id": wf.id,
        "unit_id": wf.unit_id,
        "title": wf.title,
        "symbol": wf.code,
        "doc_type": None,
        "state": "closed" if wf.closed_at else "open",
        "day": _vn_day(wf.opened_at),
        "meta": " · ".join(m for m in meta if m),
        "body": "",
    }


def _tsv(title: Any, meta: Any, body: Any) -> ColumnElement[Any]:
    simple: ColumnElement[Any] = literal_column("'simple'::regconfig")
    return (
        func.setweight(func.to_tsvector(simple, title), literal_column("'A'"))
        .op("||")(func.setweight(func.to_tsvector(simple, meta), literal_column("'B'")))
        .op("||")(
            func.setweight(
                func.to_tsvector(simple, func.left(body, MAX_TSV_BODY)), literal_column("'C'")
            )
        )
    )


def upsert(session: Session, row: dict[str, Any]) -> None:
    """Insert or replace the index row of one object."""
    values = {
        **row,
        "fold_title": fold(row["title"]),
        "fold_meta": fold(row["meta"]),
        "fold_body": fold(row["body"]),
        "updated_at": utcnow(),
    }
    key = ("kind", "object_id")
    if session.get_bind().dialect.name == "postgresql":
        pg = pg_insert(SearchEntry).values(
            **values,
            tsv=_tsv(values["fold_title"], values["fold_meta"], values["fold_body"]),
            tsv_head=_tsv(values["fold_title"], values["fold_meta"], ""),
        )
        statement: Any = pg.on_conflict_do_update(
            index_elements=list(key),
            set_={c: pg.excluded[c] for c in [*values, "tsv", "tsv_head"] if c not in key},
        )
    else:
        lite = sqlite_insert(SearchEntry).values(**values)
        statement = lite.on_conflict_do_update(
            index_elements=list(key),
            set_={c: lite.excluded[c] for c in values if c not in key},
        )
    session.execute(statement)


def reindex(
    session: Session,
    documents: Iterable[int] = (),
    incoming: Iterable[int] = (),
    workfiles: Iterable[int] = (),
) -> int:
    """Rebuild the index rows of these objects (missing ones are skipped).

    :returns: how many rows were written.
    """
    written = 0
    for doc_id in sorted(set(documents)):
        doc = session.get(Document, doc_id)
        if doc is not None:
            upsert(session, _document_row(session, doc))
            written += 1
    for entry_id in sorted(set(incoming)):
        entry = session.get(IncomingEntry, entry_id)
        if entry is not None:
            upsert(session, _incoming_row(session, entry))
            written += 1
    for wf_id in sorted(set(workfiles)):
        wf = session.get(WorkFile, wf_id)
        if wf is not None:
            upsert(session, _workfile_row(session, wf))
            written += 1
    return written


def reindex_all(session: Session) -> int:
    """Rebuild the whole index (``flask --app wsgi search reindex``). :returns: rows."""
    return reindex(
        session,
        session.scalars(select(Document.id)).all(),
        session.scalars(select(IncomingEntry.id)).all(),
        session.scalars(select(WorkFile.id)).all(),
    )


# --- keeping in step ----------------------------------------------------------------


def _pending(session: Session) -> dict[str, set[Any]]:
    pending: dict[str, set[Any]] = session.info.setdefault(
        _PENDING, {"document": set(), "incoming": set(), "workfile": set(), "sha": set()}
    )
    return pending


def _collect(session: Session, _context: Any) -> None:
    pending = _pending(session)
    for obj in (*session.new, *session.dirty):
        if isinstance(obj, Document):
            pending["document"].add(obj.id)
        elif isinstance(obj, Revision | Signature | DocumentFile):
            pending["document"].add(obj.document_id)
        elif isinstance(obj, IncomingEntry):
            pending["incoming"].add(obj.id)
        elif isinstance(obj, WorkFile):
            pending["workfile"].add(obj.id)
        elif isinstance(obj, TextExtract):
            pending["sha"].add(obj.blob_sha256)


def _flush_index(session: Session) -> None:
    pending = session.info.get(_PENDING)
    if not pending or not any(pending.values()):
        return
    session.flush()
    pending = session.info.pop(_PENDING)
    documents = {i for i in pending["document"] if i is not None}
    incoming = {i for i in pending["incoming"] if i is not None}
    if pending["sha"]:
        shas = pending["sha"]
        documents.update(
            session.scalars(select(Revision.document_id).where(Revision.blob_sha256.in_(shas)))
        )
        incoming.update(
            session.scalars(select(IncomingEntry.id).where(IncomingEntry.blob_sha256.in_(shas)))
        )
    reindex(session, documents, incoming, {i for i in pending["workfile"] if i is not None})
    session.info.pop(_PENDING, None)


def _forget(session: Session, *_args: Any) -> None:
    session.info.pop(_PENDING, None)


def _after_flush(session: Session, context: Any) -> None:
    # New rows have their ids only now; session.new and .dirty still show what was flushed.
    _collect(session, context)


def keep_in_step(factory: sessionmaker[Session]) -> None:
    """Re-index what each session of ``factory`` touched, when it commits."""
    if event.contains(factory, "before_commit", _flush_index):
        return
    event.listen(factory, "after_flush", _after_flush)
    event.listen(factory, "before_commit", _flush_index)
    event.listen(factory, "after_rollback", _forget)
