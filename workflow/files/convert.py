"""workflow: Word and OpenDocument drafts to PDF with LibreOffice headless, in a bounded
child process with a private profile (two conversions never share one, and a crash
leaves nothing behind)."""

from __future__ import annotations

import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from workflow.files.bounded import Limits, ToolError, run

OFFICE_SUFFIXES = (".docx", ".doc", ".odt", ".rtf")
"""Drafts accepted besides PDF."""
_ZIP = b"PK\x03\x04"
_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_RTF = b"{\\rtf"
DEFAULT_LIMITS = Limits(seconds=120, memory_bytes=3 << 30)
"""LibreOffice maps much more than it uses; 3 GiB of address space is a safe ceiling."""


class ConversionError(Exception):
    """The draft could not be converted (the message is for people, in Vietnamese)."""


def office_suffix(filename: str, head: bytes) -> str | None:
    """:returns: the suffix to convert from when the upload is an office draft (by its
    name and its first bytes), else ``None`` (a PDF, or something to refuse later)."""
    suffix = Path(filename or "").suffix.lower()
    if suffix in (".docx", ".odt") and head.startswith(_ZIP):
        return suffix
    if suffix == ".doc" and head.startswith(_OLE):
        return suffix
    if suffix == ".rtf" and head.startswith(_RTF):
        return suffix
    if suffix in OFFICE_SUFFIXES:
        raise ConversionError(
            f"Tệp {Path(filename).name} không đúng định dạng {suffix}. "
            "Hãy lưu lại bằng Word hoặc LibreOffice rồi tải lên."
        )
    return None


def soffice() -> str | None:
    """:returns: LibreOffice's command, if installed."""
    return shutil.which("soffice") or shutil.which("libreoffice")


@dataclass(frozen=True)
class Converted:
    """A draft converted to PDF."""

    pdf: Path
    """The PDF (inside the caller's work folder)."""
    seconds: float
    """How long LibreOffice took."""


def to_pdf(source: Path, suffix: str, workdir: Path, limits: Limits = DEFAULT_LIMITS) -> Converted:
    """Convert ``source`` (a draft whose format ``suffix`` names) to PDF in ``workdir``.

    :raises ConversionError: LibreOffice is missing, failed, or ran out of time.
    """
    command = soffice()
    if command is None:
        raise ConversionError(
            "Máy chủ chưa cài LibreOffice nên chưa nhận được tệp Word/OpenDocument; "
            "hãy lưu văn bản thành PDF rồi tải lên (quản trị: cài libreoffice-writer-nogui)."
        )
    work = Path(tempfile.mkdtemp(prefix="convert-", dir=workdir))
    draft = work / f"draft{suffix}"
    shutil.copyfile(source, draft)
    out = work / "out"
    started = time.monotonic()
    try:
        done = run(
            [
                command,
                f"-env:UserInstallation={(work / 'profile').as_uri()}",
                "--headless",
                "--norestore",
                "--nologo",
                "--nolockcheck",
                "--convert-to",
                "pdf:writer_pdf_Export",
                "--outdir",
                str(out),
                str(draft),
            ],
            limits,
            cwd=work,
            home=work,
        )
    except ToolError as exc:
        raise ConversionError(f"Không chuyển được tệp sang PDF: {exc}") from exc
    pdf = out / "draft.pdf"
    if done.returncode != 0 or not pdf.is_file() or pdf.stat().st_size == 0:
        raise ConversionError(
            "Không chuyển được tệp sang PDF (tệp hỏng hoặc có mật khẩu?). "
            "Hãy mở bằng Word, lưu thành PDF rồi tải lên."
        )
    return Converted(pdf, time.monotonic() - started)
