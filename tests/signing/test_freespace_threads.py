"""PDFium is not thread-safe: a gthread worker places stamps in several threads at once,
and unguarded it died of SIGSEGV under the signing benchmark. Every in-process use of
PDFium (``text_boxes`` for the stamp's place, ``find_header`` for the "Số:" line at
issuance) holds one lock; the check runs in a child process so that a crash fails the
test instead of killing pytest."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from signing_testlib import make_pdf_bytes

CHILD = """
import sys, threading
from pathlib import Path
from signing.freespace import text_boxes
from signing.numberline import find_header
path = Path(sys.argv[1])
expected = text_boxes(path, 0)
header = find_header(path)
assert expected, "no text found"
failures = []
def work(index):
    for _ in range(60):
        if index % 2 and find_header(path) != header:
            failures.append(1)
        if not index % 2 and text_boxes(path, 0) != expected:
            failures.append(1)
threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print("ok" if not failures else "different")
"""


def test_text_boxes_from_many_threads_at_once(tmp_path: Path) -> None:
    pdf = tmp_path / "page.pdf"
    pdf.write_bytes(make_pdf_bytes("Van ban thu nghiem " * 20, 3))
    repo = Path(__file__).resolve().parents[2]
    result = subprocess.run(  # noqa: S603 - our interpreter, our code
        [sys.executable, "-c", CHILD, str(pdf)],
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"child died ({result.returncode}): {result.stderr[-800:]}"
    assert result.stdout.strip() == "ok"
