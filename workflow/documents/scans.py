"""workflow: scanned paper made searchable: the OCR job takes every stored PDF whose
pages have no text, adds a text layer with ocrmypdf (page images unchanged) and records
the text for search. A document not yet signed gets the searchable PDF as a new revision
(``ocr``), so the signature later covers the text layer too; a document already signed
is never rewritten (only its text is recorded)."""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from storage import audit
from storage.audit import AuditAction
from storage.blobs import BlobStore
from storage.models import Document, Revision, Signature
from storage.search_models import TextExtract
from workflow.accounts import access
from workflow.documents.states import DocState
from workflow.files import extract, ocr

DRAFTING = (DocState.DRAFT, DocState.IN_REVIEW, DocState.RETURNED, DocState.AWAITING_SIGNATURE)
"""States in which a drafted document may still get a new revision (nobody signed yet);
registered paper, incoming and signed documents keep their file as it is."""
BATCH = 10
"""Files OCR'd per run (each can take a minute on a long scan)."""


@dataclass(frozen=True)
class OcrRun:
    """What one run did."""

    done: int
    revised: int
    """Unsigned documents that got the searchable PDF as a new revision."""
    failed: int


def _unsigned_documents(session: Session, sha256: str) -> list[int]:
    signed = exists().where(Signature.document_id == Document.id)
    newest = (
        select(Revision.blob_sha256)
        .where(Revision.document_id == Document.id)
        .order_by(Revision.number.desc())
        .limit(1)
        .scalar_subquery()
    )
    return list(
        session.scalars(
            select(Document.id).where(
                newest == sha256,
                ~signed,
                Document.form == "electronic",
                Document.direction == "outgoing",
                Document.state.in_(DRAFTING),
            )
        )
    )


def run_ocr(session: Session, blobs: BlobStore, limit: int = BATCH) -> OcrRun:
    """OCR up to ``limit`` waiting scans (see the module)."""
    waiting = session.scalars(
        select(TextExtract)
        .where(TextExtract.needs_ocr.is_(True), TextExtract.ocr_state.is_(None))
        .order_by(TextExtract.created_at)
        .limit(limit)
    ).all()
    done = revised = failed = 0
    for item in waiting:
        work = Path(tempfile.mkdtemp(prefix="trinhky-ocr-"))
        try:
            with blobs.local_copy(item.blob_sha256) as source:
                target = work / "ocr.pdf"
                ocr.make_searchable(source, target)
            got = extract.pdf_text(target)
            staged = blobs.stage_file(_moved(blobs, target))
            ocr_sha = blobs.publish(staged)
        except ocr.OcrError:
            item.ocr_state = "failed"
            failed += 1
            continue
        finally:
            shutil.rmtree(work, ignore_errors=True)
        item.text, item.source, item.ocr_state, item.ocr_sha256 = got.text, "ocr", "done", ocr_sha
        if session.get(TextExtract, ocr_sha) is None:
            session.add(
                TextExtract(blob_sha256=ocr_sha, text=got.text, source="ocr", pages=got.pages)
            )
        done += 1
        for doc_id in _unsigned_documents(session, item.blob_sha256):
            doc = access.lock_document(session, doc_id)
            if doc.revisions[-1].blob_sha256 != item.blob_sha256 or session.scalar(
                select(exists().where(Signature.document_id == doc_id))
            ):
                continue  # signed or revised meanwhile: never rewritten
            last = doc.revisions[-1]
            doc.revisions.append(
                Revision(
                    number=last.number + 1,
                    blob_sha256=ocr_sha,
                    size=blobs.size(ocr_sha),
                    filename=last.filename,
                    kind="ocr",
                    created_by_id=last.created_by_id,
                )
            )
            session.flush()
            audit.append(
                session,
                AuditAction.OCR_APPLIED,
                actor_id=None,
                object_type="document",
                object_id=doc_id,
                details={"from": item.blob_sha256, "sha256": ocr_sha, "pages": got.pages},
            )
            revised += 1
    return OcrRun(done, revised, failed)


def _moved(blobs: BlobStore, path: Path) -> Path:
    target = blobs.new_temp_path(".pdf")
    shutil.move(path, target)
    return target
