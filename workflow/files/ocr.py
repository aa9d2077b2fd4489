"""workflow: OCR of scanned pages with ocrmypdf and Tesseract's Vietnamese data: a text
layer is added under the page images, which stay as they are (``--output-type pdf``,
no optimisation, pages that already have text skipped)."""

from __future__ import annotations

import shutil
from pathlib import Path

from workflow.files.bounded import Limits, ToolError, run

LIMITS = Limits(seconds=600, memory_bytes=2 << 30)


class OcrError(Exception):
    """OCR could not run or failed (message for the job's summary)."""


def available() -> bool:
    """:returns: whether ocrmypdf is installed."""
    return shutil.which("ocrmypdf") is not None


def make_searchable(source: Path, out: Path, limits: Limits = LIMITS) -> None:
    """Write ``source`` with a text layer on its scanned pages to ``out``.

    :raises OcrError: ocrmypdf missing, failed or too slow.
    """
    try:
        done = run(
            [
                "ocrmypdf",
                "--language",
                "vie+eng",
                "--skip-text",
                "--output-type",
                "pdf",
                "--optimize",
                "0",
                "--jobs",
                "1",
                "--quiet",
                str(source),
                str(out),
            ],
            limits,
            cwd=out.parent,
            home=out.parent,
        )
    except ToolError as exc:
        raise OcrError(str(exc)) from exc
    if done.returncode != 0 or not out.is_file():
        tail = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:]
        raise OcrError(f"ocrmypdf thất bại (mã {done.returncode}): {' '.join(tail)}")
