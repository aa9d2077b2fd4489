"""Bounded work for hostile PDFs: time and peak memory of the upload check
(:func:`signing.pades.inspect_pdf` with the default :class:`signing.limits.PdfLimits`, as
``check_pdf`` runs it) on each hostile file of ``tests/hostile_pdfs.py``, each in a child
process of its own (peak RSS growth over the child's RSS once everything is imported).
For comparison, the same check without limits (the upload check before issue 12).

    .venv/bin/python -m bench.pdf_limits
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.hostile_pdfs import (
    active_content_pdf,
    deep_nesting_pdf,
    deflate_bomb_pdf,
    many_objects_pdf,
    many_pages_pdf,
)
from tests.pdfs import simple_pdf

REPO = Path(__file__).resolve().parent.parent
CASES = {
    "1 page (ordinary)": lambda: simple_pdf(),
    "100,000 pages, one shared content stream": lambda: many_pages_pdf(100_000),
    "3,000 pages, /Count says 1": lambda: many_pages_pdf(3000, count=1),
    "deflate bomb, 2 GB inflated": lambda: deflate_bomb_pdf(2048),
    "array nested 100,000 deep": lambda: deep_nesting_pdf(100_000),
    "600,000 objects": lambda: many_objects_pdf(600_000),
    "active content (JS, XFA, Launch...)": lambda: active_content_pdf(),
}

CHILD = """
import json, resource, sys, time
from pathlib import Path
from signing.errors import PdfInputError
from signing.limits import PdfLimits
from signing.pades import inspect_pdf
limited = sys.argv[2] == "limits"
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.monotonic()
try:
    info = inspect_pdf(Path(sys.argv[1]), allow_empty_password=True,
                       limits=PdfLimits() if limited else None)
    outcome = f"accepted ({info.pages} pages, {len(info.active_content)} active items)"
except PdfInputError as exc:
    outcome = f"refused: {exc.code}"
seconds = time.monotonic() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"seconds": seconds, "growth_mb": (peak - base) / 1024, "outcome": outcome}))
"""


def measure(path: Path, mode: str, timeout: float = 300) -> dict[str, object]:
    """Run the check on ``path`` in a child; ``mode`` is ``limits`` or ``none``."""
    started = time.monotonic()
    try:
        done = subprocess.run(
            [sys.executable, "-c", CHILD, str(path), mode],
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return {"seconds": time.monotonic() - started, "growth_mb": None, "outcome": "timeout"}
    if done.returncode != 0:
        return {"seconds": None, "growth_mb": None, "outcome": done.stderr.strip()[-200:]}
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    print(f"load average at start: {os.getloadavg()}")
    with tempfile.TemporaryDirectory() as folder:
        for name, make in CASES.items():
            path = Path(folder) / "case.pdf"
            path.write_bytes(make())
            size = path.stat().st_size / 1e6
            for mode in ("limits", "none"):
                r = measure(path, mode, timeout=120)
                seconds = f"{r['seconds']:.2f} s" if r["seconds"] is not None else "-"
                growth = f"{r['growth_mb']:.0f} MB" if r["growth_mb"] is not None else "-"
                label = "with limits" if mode == "limits" else "no limits (before)"
                print(
                    f"{name:42s} {size:7.1f} MB  {label:19s} {seconds:>9s}  "
                    f"peak RSS +{growth:>7s}  {r['outcome']}"
                )
    print(f"load average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
