"""workflow: what an upload becomes before it is a revision: a Word/OpenDocument draft
converted to PDF (the original kept beside it), appendices converted and merged behind
the main text, the files recorded, the text extracted for search."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage import audit
from storage.audit import AuditAction
from storage.blobs import BlobStore, StagedBlob
from storage.models import Document, User
from storage.search_models import DocumentFile
from workflow.accounts import access
from workflow.errors import InvalidInputError, NotFoundError
from workflow.files import appendix, convert, extract
from workflow.vocab import DOC_TYPES

MAX_APPENDICES = 20


@dataclass
class Prepared:
    """One uploaded file as a PDF, staged."""

    filename: str
    pdf: StagedBlob
    source: StagedBlob | None = None
    """The uploaded draft when it was converted (kept beside the PDF)."""
    pages: int = 0


@dataclass
class Batch:
    """Everything staged for one upload, published together or discarded together."""

    staged: list[StagedBlob] = field(default_factory=list)

    def keep(self, blob: StagedBlob) -> StagedBlob:
        self.staged.append(blob)
        return blob

    def discard(self, blobs: BlobStore) -> None:
        for blob in self.staged:
            blobs.discard(blob)


def prepare(
    blobs: BlobStore, batch: Batch, staged: StagedBlob, filename: str, check: Callable[..., int]
) -> Prepared:
    """:returns: the upload as a checked PDF (converted first when it is a draft).

    :param check: checks a staged PDF, returns its page count (raises on a bad PDF).
    :raises InvalidInputError: a draft LibreOffice cannot convert, or a bad PDF.
    """
    batch.keep(staged)
    with staged.path.open("rb") as fh:
        head = fh.read(16)
    try:
        suffix = convert.office_suffix(filename, head)
    except convert.ConversionError as exc:
        raise InvalidInputError(str(exc), code="bad_draft") from exc
    if suffix is None:
        return Prepared(filename, staged, None, check(staged))
    work = Path(tempfile.mkdtemp(prefix="trinhky-draft-"))
    try:
        done = convert.to_pdf(staged.path, suffix, work)
        target = blobs.new_temp_path(".pdf")
        shutil.copyfile(done.pdf, target)
    except convert.ConversionError as exc:
        raise InvalidInputError(str(exc), code="conversion_failed") from exc
    finally:
        shutil.rmtree(work, ignore_errors=True)
    pdf = batch.keep(blobs.stage_file(target))
    return Prepared(filename, pdf, staged, check(pdf))


def merge(
    blobs: BlobStore,
    batch: Batch,
    main: Prepared,
    parts: Sequence[Prepared],
    doc_type: str,
    subject: str,
) -> tuple[StagedBlob, list[appendix.Placed]]:
    """:returns: the main PDF followed by the appendices (each first page marked), staged,
    and where each appendix starts."""
    kind = DOC_TYPES.get(doc_type, "văn bản").lower()
    short = subject if len(subject) <= 60 else subject[:57].rstrip() + "…"
    line = f"Kèm theo {kind}: {short}"
    target = blobs.new_temp_path(".pdf")
    placed = appendix.merge(
        main.pdf.path,
        [appendix.Part(p.pdf.path, f"PHỤ LỤC {i}") for i, p in enumerate(parts, 1)],
        line,
        target,
    )
    return batch.keep(blobs.stage_file(target)), placed


def publish(blobs: BlobStore, batch: Batch) -> None:
    """Publish every staged blob of the upload (the same content twice is one blob)."""
    published: set[str] = set()
    for blob in batch.staged:
        if blob.sha256 in published:
            blobs.discard(blob)
            continue
        blobs.publish(blob)
        published.add(blob.sha256)


def record(
    session: Session,
    doc: Document,
    main: Prepared,
    parts: Sequence[Prepared],
    placed: Sequence[appendix.Placed],
) -> None:
    """Record the draft's source (when converted) and the appendices of ``doc``."""
    if main.source is not None:
        session.add(
            DocumentFile(
                document_id=doc.id,
                role="source",
                filename=main.filename,
                blob_sha256=main.source.sha256,
                pdf_sha256=main.pdf.sha256,
                first_page=1,
                pages=main.pages,
            )
        )
    for position, (part, where) in enumerate(zip(parts, placed, strict=True), 1):
        session.add(
            DocumentFile(
                document_id=doc.id,
                role="appendix",
                position=position,
                filename=part.filename,
                blob_sha256=(part.source or part.pdf).sha256,
                pdf_sha256=part.pdf.sha256,
                first_page=where.first_page,
                pages=where.pages,
            )
        )


def remember_text(session: Session, blobs: BlobStore, sha256: str) -> None:
    """Extract the text of a stored PDF for search (once per content)."""
    extract.remember(session, blobs, sha256)


def files_of(session: Session, actor: User, document_id: int) -> list[DocumentFile]:
    """:returns: the document's source draft and appendices, in order.

    :raises NotFoundError: no such document, or not visible to ``actor``.
    """
    access.get_visible_document(session, actor, document_id)
    return files_of_document(session, document_id)


def files_of_document(session: Session, document_id: int) -> list[DocumentFile]:
    """:returns: a document's source draft and appendices, in order (no access check)."""
    return list(
        session.scalars(
            select(DocumentFile)
            .where(DocumentFile.document_id == document_id)
            .order_by(DocumentFile.role.desc(), DocumentFile.position, DocumentFile.id)
        )
    )


def file_for_download(
    session: Session, actor: User, document_id: int, file_id: int
) -> DocumentFile:
    """:returns: one file of the document, its download audited.

    :raises NotFoundError: no such file, or the document is not visible to ``actor``.
    """
    found = [f for f in files_of(session, actor, document_id) if f.id == file_id]
    if not found:
        raise NotFoundError("Không tìm thấy tệp này của văn bản.")
    audit.append(
        session,
        AuditAction.DOWNLOADED,
        actor_id=actor.id,
        object_type="document",
        object_id=document_id,
        details={"file": file_id, "role": found[0].role, "sha256": found[0].blob_sha256},
    )
    return found[0]


MEDIA_TYPES = {
    ".pdf": "application/pdf",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".doc": "application/msword",
    ".odt": "application/vnd.oasis.opendocument.text",
    ".rtf": "application/rtf",
}


def media_type(filename: str) -> str:
    """:returns: the media type a stored file is served with (by its name)."""
    return MEDIA_TYPES.get(Path(filename).suffix.lower(), "application/octet-stream")
