"""workflow: the text of PDFs for search (poppler's pdftotext in a bounded child, pypdf
where poppler is missing), and the diacritics folding the search index uses."""

from __future__ import annotations

import re
import shutil
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from pypdf import PdfReader
from sqlalchemy.orm import Session

from storage.blobs import BlobStore
from storage.search_models import TextExtract
from workflow.files.bounded import Limits, run

MAX_TEXT = 300_000
"""Characters of a file's text kept for search (a 300-page document)."""
LIMITS = Limits(seconds=60, memory_bytes=1 << 30)
_LETTERS = re.compile(r"\w", re.UNICODE)
_SPACES = re.compile(r"[ \t\r\x0b]+")


def fold_char(ch: str) -> str:
    """:returns: ``ch`` lower case without diacritics (``đ`` → ``d``); may be empty."""
    if ch in "đĐ":
        return "d"
    base = "".join(c for c in unicodedata.normalize("NFD", ch) if not unicodedata.combining(c))
    return base.lower()


class _FoldTable(dict[int, str]):
    """``str.translate`` table filled on first use of each character."""

    def __missing__(self, code: int) -> str:
        folded = fold_char(chr(code))
        self[code] = folded
        return folded


_TABLE = _FoldTable()


def fold(text: str) -> str:
    """:returns: ``text`` folded for the index and for queries ("Nghị quyết" → "nghi quyet")."""
    return unicodedata.normalize("NFC", text).translate(_TABLE)


def fold_with_map(text: str) -> tuple[str, list[int]]:
    """:returns: the folded text and, for each of its characters, the index of the
    character of ``text`` it came from (to highlight the original)."""
    out: list[str] = []
    where: list[int] = []
    for i, ch in enumerate(text):
        folded = _TABLE[ord(ch)]
        out.append(folded)
        where.extend([i] * len(folded))
    return "".join(out), where


@dataclass(frozen=True)
class PdfText:
    """The text of a PDF."""

    text: str
    pages: int
    blank_pages: int
    """Pages with (almost) no text: scanned images."""


def _clean(text: str) -> str:
    text = unicodedata.normalize("NFC", text.replace("\x00", ""))
    return "\n".join(_SPACES.sub(" ", line).strip() for line in text.splitlines())


def _pages_text(path: Path) -> list[str]:
    if shutil.which("pdftotext"):
        done = run(["pdftotext", "-enc", "UTF-8", "-q", str(path), "-"], LIMITS)
        if done.returncode == 0:
            pages = done.stdout.decode("utf-8", "replace").split("\f")
            return pages[:-1] if pages and not pages[-1].strip() else pages
    reader = PdfReader(str(path))
    if reader.is_encrypted:
        reader.decrypt("")
    return [page.extract_text() or "" for page in reader.pages]


def pdf_text(path: Path) -> PdfText:
    """:returns: the text of the PDF at ``path`` (empty when it cannot be read)."""
    try:
        pages = _pages_text(path)
    except Exception:  # noqa: BLE001 - an unreadable PDF has no text, it is not an error
        return PdfText("", 0, 0)
    blank = sum(1 for p in pages if len(_LETTERS.findall(p)) < 5)
    return PdfText(_clean("\n".join(pages))[:MAX_TEXT], len(pages), blank)


def remember(session: Session, blobs: BlobStore, sha256: str) -> TextExtract:
    """Extract the text of a stored PDF once (by its hash) and record whether its pages
    are scans waiting for OCR.

    :returns: the extract (an existing one is reused).
    """
    found = session.get(TextExtract, sha256)
    if found is not None:
        return found
    with blobs.local_copy(sha256) as path:
        got = pdf_text(path)
    extract = TextExtract(
        blob_sha256=sha256,
        text=got.text,
        source="pdf",
        pages=got.pages,
        needs_ocr=got.pages > 0 and got.blank_pages > 0,
    )
    session.add(extract)
    return extract
