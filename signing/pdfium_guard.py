"""Signing layer: the one lock around PDFium in this process.

PDFium is not thread-safe (pypdfium2's documentation): a gthread worker serves several
requests in threads, and two threads inside PDFium at once crash the process (SIGSEGV,
seen with two stamps placed at once). Every in-process use of PDFium (reading a page's
text for the stamp's free space, finding the "Số:" line) holds this lock, and closes
what it opened before releasing it. The page viewer renders in a child process.
"""

from __future__ import annotations

import threading

PDFIUM_LOCK = threading.Lock()
