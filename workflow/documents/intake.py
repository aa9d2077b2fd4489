"""workflow: what an uploaded PDF becomes before it is a revision: checked, repaired when
damaged, decrypted when it opens with the empty password, refused when it is certified
against new signatures.

- A file pyHanko cannot read as damaged or truncated (or with its header out of place)
  is rewritten by qpdf in a bounded child process (:mod:`signing.repair`); if the
  rewrite passes the same checks it becomes the revision and the uploaded file is kept
  beside it as a blob (``Revision.original_sha256``, ``Revision.conversion``).
- An encrypted file that opens with the empty user password and carries no signature
  is decrypted to a clean copy (the choice for encrypted inputs: an unencrypted output
  validates in every independent validator, and the encryption protected nothing since
  anyone can open it); the encrypted original is kept beside it the same way. A signed
  encrypted file stays as it is (decrypting would break its signatures) and is signed
  in encrypted incremental updates.
- A certification (DocMDP) that forbids another signature is refused with the reason.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.orm import Session

from signing import repair
from signing.docmdp import check_certification
from signing.errors import PdfInputError
from signing.pades import PdfInfo
from storage import audit
from storage.audit import AuditAction
from storage.blobs import BlobStore, StagedBlob
from storage.models import Document, Revision, User
from workflow.accounts import access
from workflow.errors import InvalidInputError, NotFoundError
from workflow.files import convert

HEADER_SEARCH = 64 * 1024
REPAIRABLE = ("pdf_damaged", "pdf_truncated", "pdf_not_pdf")
"""Refusal codes of :func:`check_pdf` worth a rewrite."""
REPAIRED = "repaired"
"""``Revision.conversion`` of a file rewritten by qpdf."""
DECRYPTED = "decrypted"
"""``Revision.conversion`` of a file decrypted (empty user password)."""
MSG_UNREPAIRABLE = " Máy chủ đã thử sửa tự động (qpdf) nhưng không khôi phục được tệp: {}."


@dataclass(frozen=True)
class Accepted:
    """An uploaded PDF ready to become a revision."""

    staged: StagedBlob
    """The file the revision holds (the rewritten one when converted)."""
    info: PdfInfo
    """What pyHanko sees of it."""
    original: StagedBlob | None = None
    """The file as uploaded, when it was converted (kept beside it)."""
    conversion: str | None = None
    """:data:`REPAIRED`, :data:`DECRYPTED` or None."""
    note: str = ""
    """What the repairer recovered from (its warnings, shortened)."""

    def audit_details(self, original_sha256: str | None) -> dict[str, object]:
        """Audit details of a conversion ({} when the file was stored as uploaded)."""
        if self.conversion is None:
            return {}
        return {"conversion": self.conversion, "original_sha256": original_sha256}

    def discard(self, blobs: BlobStore) -> None:
        """Remove the staged files (nothing was published)."""
        blobs.discard(self.staged)
        if self.original is not None:
            blobs.discard(self.original)


def _certification_ok(staged: StagedBlob, info: PdfInfo) -> None:
    if not info.signatures:
        return
    try:
        check_certification(staged.path)
    except PdfInputError as exc:
        raise InvalidInputError(str(exc), code=f"pdf_{exc.code}") from exc


def _rewrite(blobs: BlobStore, staged: StagedBlob, kind: str) -> tuple[StagedBlob, str] | str:
    """:returns: the rewritten file staged and the note, or the reason it failed."""
    out = blobs.new_temp_path(".pdf")
    run = repair.repair if kind == REPAIRED else repair.decrypt
    result = run(staged.path, out)
    if not result.ok:
        out.unlink(missing_ok=True)
        return result.reason
    return blobs.stage_file(out), "; ".join(result.warnings)[:1000]


def _has_pdf_header(staged: StagedBlob) -> bool:
    """A ``%PDF-`` header somewhere in the first 64 KiB (qpdf finds one after garbage;
    without one the file is not a PDF at all, e.g. an Office draft)."""
    with staged.path.open("rb") as fh:
        return b"%PDF-" in fh.read(HEADER_SEARCH)


def accept_pdf_upload(
    blobs: BlobStore,
    staged: StagedBlob,
    filename: str,
    check_pdf: Callable[[StagedBlob], PdfInfo],
) -> Accepted | None:
    """:func:`accept_upload` for a PDF; None for a Word/OpenDocument draft (converted by
    :mod:`workflow.documents.drafts`, which checks the PDF it makes)."""
    with staged.path.open("rb") as fh:
        head = fh.read(16)
    try:
        if convert.office_suffix(filename, head) is not None:
            return None
    except convert.ConversionError:
        return None  # the drafts module explains it
    return accept_upload(blobs, staged, check_pdf)


def accept_upload(
    blobs: BlobStore, staged: StagedBlob, check_pdf: Callable[[StagedBlob], PdfInfo]
) -> Accepted:
    """Check an uploaded PDF, converting it when that makes it signable.

    On error nothing is left staged but ``staged`` itself (the caller discards it).

    :param check_pdf: the upload check (:func:`workflow.documents.usecases.check_pdf`),
        applied to the upload and again to a rewritten file.

    :returns: the file to store, and the original when converted.
    :raises InvalidInputError: not a PDF, damaged beyond repair, encrypted with a
        password, certified against new signatures... (explained in Vietnamese).
    """
    try:
        info = check_pdf(staged)
    except InvalidInputError as exc:
        if (
            exc.code not in REPAIRABLE
            or staged.size == 0
            or not repair.available()
            or not _has_pdf_header(staged)
        ):
            raise
        rewritten = _rewrite(blobs, staged, REPAIRED)
        if isinstance(rewritten, str):
            raise InvalidInputError(
                str(exc) + MSG_UNREPAIRABLE.format(rewritten[:200]), code=exc.code
            ) from exc
        fixed, note = rewritten
        try:
            info = check_pdf(fixed)
            _certification_ok(fixed, info)
        except BaseException:
            blobs.discard(fixed)
            raise
        return Accepted(fixed, info, staged, REPAIRED, note)
    _certification_ok(staged, info)
    if not info.signatures and not info.encrypted and repair.broken_metadata(staged.path):
        # pyHanko rewrites the XMP metadata on signing and fails on unreadable XML.
        out = blobs.new_temp_path(".pdf")
        if repair.drop_metadata(staged.path, out).ok:
            fixed = blobs.stage_file(out)
            try:
                fixed_info = check_pdf(fixed)
            except BaseException:
                blobs.discard(fixed)
                raise
            return Accepted(fixed, fixed_info, staged, REPAIRED, "unreadable XMP metadata removed")
        out.unlink(missing_ok=True)
    if info.encrypted and not info.signatures and repair.available():
        rewritten = _rewrite(blobs, staged, DECRYPTED)
        if not isinstance(rewritten, str):
            clean, note = rewritten
            try:
                clean_info = check_pdf(clean)
            except InvalidInputError:
                blobs.discard(clean)  # keep the encrypted file, signed encrypted as before
                return Accepted(staged, info)
            return Accepted(clean, clean_info, staged, DECRYPTED, note)
    return Accepted(staged, info)


def converted_source(doc: Document) -> Revision | None:
    """The upload the current revision descends from, if it was repaired or decrypted
    (what a validation report of the signed file says)."""
    for rev in reversed(doc.revisions):
        if rev.kind == "upload":
            return rev if rev.conversion else None
    return None


def original_file(
    session: Session, blobs: BlobStore, actor: User, document_id: int, number: int
) -> tuple[Document, Revision]:
    """Resolve the uploaded original kept beside revision ``number`` and audit the
    download.

    :raises NotFoundError: not party to it, no such revision, or nothing was converted.
    """
    doc = access.get_visible_document(session, actor, document_id)
    rev = next((r for r in doc.revisions if r.number == number), None)
    if rev is None or rev.original_sha256 is None or not blobs.exists(rev.original_sha256):
        raise NotFoundError("Phiên bản này không có tệp gốc được lưu kèm.")
    audit.append(
        session,
        AuditAction.DOWNLOADED,
        actor_id=actor.id,
        object_type="document",
        object_id=doc.id,
        details={"revision": number, "sha256": rev.original_sha256, "original": True},
    )
    return doc, rev
