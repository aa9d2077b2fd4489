"""Signing layer: bounded work for every PDF. Before anything parses a whole uploaded file
(validation, page images, signing), :func:`check_limits` checks it against
:class:`PdfLimits` in time and memory proportional to the limits, not to what the file
claims: pages, objects, nesting, decompressed size, wall-clock time. A file beyond any
limit is refused with a Vietnamese message naming the limit.

The checks read the raw bytes through ``mmap`` (never the whole file into memory) and
the page tree through pyHanko's lazy reader, stopping as soon as a limit is passed:

- objects: the entries of the cross-reference sections (already parsed by the reader);
- pages: ``/Count`` of the root, then a walk of the page tree that stops past the limit
  (a ``/Count`` that lies does not help), with cycles refused;
- nesting: runs of nested arrays or dictionaries in the raw bytes, and the page tree's
  depth; a parser that recurses too deep is refused on the same code;
- decompressed size: every ``/FlateDecode`` stream is inflated in 1 MiB steps and thrown
  away, the total compared to the limit (a deflate bomb stops at the limit);
- time: every step checks a deadline.
"""

from __future__ import annotations

import mmap
import re
import time
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.reader import PdfFileReader

from signing.errors import PdfInputError

_STEP = 1024 * 1024
_STREAM = re.compile(rb"stream\r?\n")
_DICT_LOOKBACK = 2048
_TAIL = 4096
_SIZE = re.compile(rb"/Size\s+(\d{1,12})")
_PAGE_MARKER = re.compile(rb"/Type\s*/Page(?![A-Za-z])")


@dataclass(frozen=True)
class PdfLimits:
    """How much work an uploaded PDF may cause."""

    max_pages: int = 2000
    """Most pages (``TRINHKY_PDF_MAX_PAGES``)."""
    max_objects: int = 500_000
    """Most indirect objects, every revision counted (``TRINHKY_PDF_MAX_OBJECTS``)."""
    max_depth: int = 64
    """Deepest nesting of arrays, dictionaries and page-tree levels
    (``TRINHKY_PDF_MAX_DEPTH``)."""
    max_decompressed_bytes: int = 512 * 1024 * 1024
    """Most bytes all compressed streams inflate to, together
    (``TRINHKY_PDF_MAX_DECOMPRESSED_BYTES``)."""
    max_seconds: float = 20.0
    """Longest the checks may take (``TRINHKY_PDF_MAX_SECONDS``)."""


@dataclass(frozen=True)
class LimitFacts:
    """What the checks measured of an acceptable file."""

    pages: int
    objects: int
    decompressed_bytes: int
    seconds: float


def limit_error(code: str, limit: str, value: str) -> PdfInputError:
    """:returns: the refusal of a file beyond ``code``'s limit, naming it (``limit`` and
    ``value`` carry their unit, e.g. ``"2000 trang"``)."""
    names = {
        "too_many_pages": ("số trang", "pages"),
        "too_many_objects": ("số đối tượng PDF", "objects"),
        "too_deep": ("độ lồng nhau của cấu trúc PDF", "nesting"),
        "too_much_data": ("dung lượng dữ liệu sau giải nén", "decompressed size"),
        "too_slow": ("thời gian kiểm tra tệp", "checking time"),
    }
    vi, en = names[code]
    return PdfInputError(
        code,
        f"Tệp PDF vượt giới hạn {vi}: tối đa {limit}, tệp này {value}. "
        "Hãy tách tệp hoặc xuất lại PDF gọn hơn rồi tải lên lại; nếu thật cần, "
        "hãy báo quản trị hệ thống nâng giới hạn.",
        f"The PDF is beyond the limit of {en}: at most {limit}, this file {value}.",
    )


class _Clock:
    def __init__(self, limits: PdfLimits) -> None:
        self.start = time.monotonic()
        self.limits = limits

    def check(self) -> None:
        elapsed = time.monotonic() - self.start
        if elapsed > self.limits.max_seconds:
            seconds = f"{self.limits.max_seconds:g} giây"
            raise limit_error("too_slow", seconds, f"cần hơn {seconds}")


def check_raw(path: Path, limits: PdfLimits) -> None:
    """The checks on the raw bytes, before any parser reads the file: the objects the
    last trailer declares, the page objects visible in the file (beyond four times the
    page limit: no revision history explains that many), and runs of nesting.

    :raises PdfInputError: as :func:`check_limits`.
    """
    with path.open("rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as data:
        sizes = _SIZE.findall(data[-_TAIL:])
        declared = int(sizes[-1]) if sizes else 0
        if declared > limits.max_objects:
            raise limit_error(
                "too_many_objects", f"{limits.max_objects} đối tượng", f"khai báo {declared}"
            )
        markers = 0
        for _match in _PAGE_MARKER.finditer(data):
            markers += 1
            if markers > 4 * limits.max_pages:
                raise limit_error(
                    "too_many_pages",
                    f"{limits.max_pages} trang",
                    f"có hơn {4 * limits.max_pages} đối tượng trang",
                )
        _check_raw_nesting(data, limits)


def check_limits(path: Path, reader: PdfFileReader, limits: PdfLimits) -> LimitFacts:
    """Check an uploaded PDF against ``limits`` (``reader`` opened on ``path``, after
    :func:`check_raw`).

    :returns: the measured pages, objects and decompressed size.
    :raises PdfInputError: ``code`` ``'too_many_pages'``, ``'too_many_objects'``,
        ``'too_deep'``, ``'too_much_data'`` or ``'too_slow'``.
    """
    clock = _Clock(limits)
    objects = _count_objects(reader, limits)
    try:
        pages = _count_pages(reader, limits, clock)
    except RecursionError:
        raise limit_error("too_deep", f"{limits.max_depth} mức", "sâu hơn") from None
    with path.open("rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as data:
        inflated = _inflate_all(data, limits, clock)
    return LimitFacts(pages, objects, inflated, time.monotonic() - clock.start)


def _count_objects(reader: PdfFileReader, limits: PdfLimits) -> int:
    xrefs = reader.xrefs
    total = 0
    for revision in range(xrefs.total_revisions):
        total += len(xrefs.get_xref_data(revision).explicit_refs_in_revision)
        if total > limits.max_objects:
            raise limit_error(
                "too_many_objects", f"{limits.max_objects} đối tượng", f"có hơn {total - 1}"
            )
    return total


def _check_raw_nesting(data: Any, limits: PdfLimits) -> None:
    """Runs of ``[`` or ``<<`` (optionally each after a key) deeper than the limit."""
    n = limits.max_depth + 1
    arrays = re.compile(rb"(?:\[\s*){%d}" % n)
    dicts = re.compile(rb"(?:<<\s*(?:/[^\s/<>\[\]()]*\s*)?){%d}" % n)
    for pattern in (arrays, dicts):
        if pattern.search(data):
            raise limit_error("too_deep", f"{limits.max_depth} mức", "sâu hơn")


def _count_pages(reader: PdfFileReader, limits: PdfLimits, clock: _Clock) -> int:
    root_pages = reader.root["/Pages"]
    count = root_pages.get("/Count")
    if isinstance(count, int) and count > limits.max_pages:
        raise limit_error("too_many_pages", f"{limits.max_pages} trang", f"có {count} trang")
    pages = 0
    seen: set[int] = set()
    stack: list[tuple[Any, int]] = [(reader.root.raw_get("/Pages"), 0)]
    while stack:
        ref, depth = stack.pop()
        if depth > limits.max_depth:
            raise limit_error("too_deep", f"{limits.max_depth} mức", "sâu hơn")
        if isinstance(ref, generic.IndirectObject):
            if ref.idnum in seen:
                raise PdfInputError(
                    "damaged",
                    "Tệp PDF bị hỏng: cây trang có vòng lặp. Hãy xuất lại PDF.",
                    "The page tree has a cycle.",
                )
            seen.add(ref.idnum)
            node = ref.get_object()  # type: ignore[no-untyped-call]
        else:
            node = ref
        if not isinstance(node, generic.DictionaryObject):
            continue
        kids = node.raw_get("/Kids") if "/Kids" in node else None
        if kids is None or node.get("/Type") == "/Page":
            pages += 1
            if pages > limits.max_pages:
                raise limit_error(
                    "too_many_pages", f"{limits.max_pages} trang", f"có hơn {pages - 1} trang"
                )
            continue
        if isinstance(kids, generic.IndirectObject):
            kids = kids.get_object()  # type: ignore[no-untyped-call]
        if isinstance(kids, generic.ArrayObject):
            stack.extend((kid, depth + 1) for kid in reversed(list(kids)))
        if len(seen) % 256 == 0:
            clock.check()
    return pages


def _inflate_all(data: Any, limits: PdfLimits, clock: _Clock) -> int:
    """Inflate every ``/FlateDecode`` stream of the raw file in steps, counting bytes."""
    total = 0
    for match in _STREAM.finditer(data):
        start = match.end()
        head = data[max(0, match.start() - _DICT_LOOKBACK) : match.start()]
        obj = head.rfind(b" obj")
        if b"/FlateDecode" not in head[obj if obj >= 0 else 0 :] and not head.endswith(b"/Fl"):
            continue
        end = data.find(b"endstream", start)
        if end < 0:
            end = len(data)
        total = _inflate(data, start, end, total, limits, clock)
    return total


def _inflate(data: Any, start: int, end: int, total: int, limits: PdfLimits, clock: _Clock) -> int:
    inflater = zlib.decompressobj()
    position = start
    pending = b""
    try:
        while True:
            if not pending:
                if position >= end:
                    break
                pending = data[position : min(end, position + _STEP)]
                position += len(pending)
            out = inflater.decompress(pending, _STEP)
            pending = inflater.unconsumed_tail
            total += len(out)
            if total > limits.max_decompressed_bytes:
                mb = f"{limits.max_decompressed_bytes // (1024 * 1024)} MB"
                raise limit_error("too_much_data", mb, f"giải nén ra hơn {mb}")
            clock.check()
            if inflater.eof:
                break
    except zlib.error:
        return total  # a broken stream is the validator's business, not a limit
    return total
