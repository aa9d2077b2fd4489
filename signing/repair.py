"""Signing layer: rewrite a damaged PDF (qpdf) or decrypt an empty-password one into a
clean copy, in a child process bounded in time and memory.

qpdf (Debian's ``qpdf``) reconstructs broken cross-reference tables, a hopeless
``startxref``, an illegal header or a truncated tail, and writes a fresh file; what it
cannot recover it refuses (exit status 2). The child runs with ``RLIMIT_AS`` and
``RLIMIT_CPU`` set, a wall-clock timeout and no shell, so hostile input costs at most
those bounds. The caller keeps the original beside the rewritten file.
"""

from __future__ import annotations

import resource
import shutil
import subprocess  # noqa: S404 - a fixed argument list, no shell
from dataclasses import dataclass
from pathlib import Path

from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.metadata.xmp_xml import XmpXmlProcessingError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.pdf_utils.writer import copy_into_new_writer

QPDF = "qpdf"
"""The repairer (Debian package ``qpdf``)."""
TIMEOUT_SECONDS = 30.0
"""Wall-clock bound of one rewrite."""
MEMORY_BYTES = 768 * 1024 * 1024
"""Address-space bound of the child."""
CPU_SECONDS = 25
"""CPU-time bound of the child."""


@dataclass(frozen=True)
class RewriteResult:
    """What a rewrite did."""

    ok: bool
    """A file was written that the caller may check and use."""
    warnings: tuple[str, ...]
    """What qpdf said it recovered from (its warnings), at most 20 lines."""
    reason: str
    """Why it failed (English, technical), '' when ``ok``."""


def available() -> bool:
    """:returns: whether qpdf is installed."""
    return shutil.which(QPDF) is not None


def _limits(memory: int, cpu: int) -> None:  # pragma: no cover - runs in the child
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))


def _run(args: list[str], dst: Path, timeout: float, memory: int, cpu: int) -> RewriteResult:
    exe = shutil.which(QPDF)
    if exe is None:
        return RewriteResult(False, (), "qpdf is not installed")
    dst.unlink(missing_ok=True)
    try:
        done = subprocess.run(  # noqa: S603 - fixed program, paths as arguments
            [exe, *args],
            capture_output=True,
            timeout=timeout,
            preexec_fn=lambda: _limits(memory, cpu),  # noqa: PLW1509 - only setrlimit
            check=False,
        )
    except subprocess.TimeoutExpired:
        dst.unlink(missing_ok=True)
        return RewriteResult(False, (), f"qpdf took longer than {timeout:.0f} s")
    lines = done.stderr.decode("utf-8", "replace").splitlines()
    warnings = tuple(line.strip() for line in lines if line.strip())[:20]
    # 0: clean; 3: written after recovering from warnings; 2: errors (no usable output).
    if done.returncode not in (0, 3) or not dst.exists() or dst.stat().st_size == 0:
        dst.unlink(missing_ok=True)
        reason = warnings[-1] if warnings else f"qpdf exit status {done.returncode}"
        if done.returncode < 0:
            reason = f"qpdf stopped by signal {-done.returncode} (time or memory bound)"
        return RewriteResult(False, warnings, reason)
    return RewriteResult(True, warnings, "")


def repair(
    src: Path,
    dst: Path,
    *,
    timeout: float = TIMEOUT_SECONDS,
    memory: int = MEMORY_BYTES,
    cpu: int = CPU_SECONDS,
) -> RewriteResult:
    """Rewrite a damaged PDF into ``dst`` (objects kept, structure rebuilt).

    :param src: the damaged file.
    :param dst: where to write the repaired file.
    :param timeout: wall-clock bound, seconds.
    :param memory: address-space bound of the child, bytes.
    :param cpu: CPU-time bound of the child, seconds.
    :returns: whether a file was written, and what was recovered.
    """
    return _run([str(src), str(dst)], dst, timeout, memory, cpu)


def decrypt(
    src: Path,
    dst: Path,
    *,
    timeout: float = TIMEOUT_SECONDS,
    memory: int = MEMORY_BYTES,
    cpu: int = CPU_SECONDS,
) -> RewriteResult:
    """Write an unencrypted copy of a PDF that opens with the empty user password.

    :param src: the encrypted file.
    :param dst: where to write the clean copy.
    :returns: whether a file was written.
    """
    result = _run(["--decrypt", "--password=", str(src), str(dst)], dst, timeout, memory, cpu)
    if result.ok:
        try:
            _drop_stale_mac(dst)
        except Exception as exc:  # the copy qpdf wrote is unreadable to pyHanko
            dst.unlink(missing_ok=True)
            return RewriteResult(False, result.warnings, f"{type(exc).__name__}: {exc}")
    return result


def _drop_stale_mac(path: Path) -> None:
    """Remove an ISO 32004 ``/AuthCode`` that qpdf keeps in the trailer of a decrypted
    copy: the MAC was of the encrypted file, and its ``/ByteRange`` makes validators
    take it for a signature."""
    with path.open("rb") as fh:
        reader = PdfFileReader(fh, strict=False)
        if "/AuthCode" not in reader.trailer:
            return
        writer = copy_into_new_writer(reader)
        tmp = path.with_suffix(".nomac")
        with tmp.open("wb") as out:
            writer.write(out)  # type: ignore[no-untyped-call]
    tmp.replace(path)


def broken_metadata(path: Path) -> bool:
    """Whether the document's XMP metadata stream is unreadable: pyHanko rewrites it on
    every signature, and fails on it (an XML declaration in a text stream, bad XML).

    :param path: a PDF pyHanko can open.
    :returns: True when ``/Metadata`` exists and cannot be parsed.
    """
    try:
        with path.open("rb") as fh:
            reader = PdfFileReader(fh, strict=False)
            if reader.encrypted:
                reader.decrypt("")
            if "/Metadata" not in reader.root:
                return False
            reader.document_meta_view  # noqa: B018 - parses the XMP
    except XmpXmlProcessingError:
        return True
    except Exception:  # other damage is for the upload checks to judge
        return False
    return False


def drop_metadata(src: Path, dst: Path) -> RewriteResult:
    """Write ``src`` plus an incremental update removing its unreadable XMP metadata
    (pages, text and fonts untouched; the document information dictionary stays).

    :param src: a PDF whose :func:`broken_metadata` is True.
    :param dst: where to write the result.
    :returns: whether it was written.
    """
    try:
        with src.open("rb") as inf, dst.open("w+b") as outf:
            writer = IncrementalPdfFileWriter(inf, strict=False)
            del writer.root["/Metadata"]
            writer.update_root()  # type: ignore[no-untyped-call]
            writer.write(outf)  # type: ignore[no-untyped-call]
    except Exception as exc:  # noqa: BLE001 - reported as a failed repair
        dst.unlink(missing_ok=True)
        return RewriteResult(False, (), f"{type(exc).__name__}: {exc}")
    return RewriteResult(True, ("unreadable XMP metadata removed",), "")
