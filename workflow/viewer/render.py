"""workflow: PDF pages as images for the document page, and click positions as PDF boxes.

Pages are rasterised by poppler's ``pdftoppm`` (mupdf's ``mutool`` if poppler is
missing, else pdfium from the ``pypdfium2`` wheel, so ``make run`` needs no system
package) in a child process bounded in time, memory and output size, and cached
on disk under a name made of the file's SHA-256, the page and the size, so a page
is rendered once whoever views it.

The browser works in *view points*: the page as displayed (crop box, after the
page's ``/Rotate``), origin at the top left, y downwards, 1 unit = 1 PDF point.
:func:`view_to_pdf` maps a view point back to PDF user space.
"""

from __future__ import annotations

import importlib.util
import os
import resource
import shutil
import subprocess  # noqa: S404 - fixed argv of a local renderer, no shell
import sys
import tempfile
import threading
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

from pypdf import PdfReader

from signing.stamps import TEXT_PARAM, StampContent, appearance_style, stamp_text
from storage.blobs import BlobStore

Box = tuple[float, float, float, float]

SIZES = (800, 1600, 3200)
"""Allowed renderings: pixels on the page's longer side."""
DEFAULT_SIZE = 1600
"""The rendering the page shows without JavaScript."""
RENDER_TIMEOUT = 20.0
"""Seconds a renderer may run for one page."""
RENDER_MEMORY = 768 * 1024 * 1024
"""Address-space limit of the renderer process, in bytes."""
MAX_PAGES = 500
"""Pages the viewer lists at most (beyond that: download the file)."""


class RenderError(Exception):
    """The page could not be rendered (no renderer, timeout, broken page)."""


@dataclass(frozen=True)
class PageGeometry:
    """One page as the browser sees it."""

    index: int
    """0-based page index."""
    box: Box
    """The visible area in PDF user space: CropBox (else MediaBox) ``(x1, y1, x2, y2)``."""
    rotation: int
    """The page's ``/Rotate``, normalised to 0, 90, 180 or 270 (clockwise)."""

    @property
    def width(self) -> float:
        """Displayed width in points (after rotation)."""
        w, h = self.box[2] - self.box[0], self.box[3] - self.box[1]
        return h if self.rotation in (90, 270) else w

    @property
    def height(self) -> float:
        """Displayed height in points (after rotation)."""
        w, h = self.box[2] - self.box[0], self.box[3] - self.box[1]
        return w if self.rotation in (90, 270) else h


def page_geometry(path: Path) -> list[PageGeometry]:
    """:returns: the geometry of every page (at most :data:`MAX_PAGES`).

    :raises RenderError: the file cannot be read as a PDF.
    """
    try:
        reader = PdfReader(path, strict=False)
        pages = []
        for index, page in enumerate(reader.pages):
            if index >= MAX_PAGES:
                break
            crop = page.cropbox
            x1, x2 = sorted((float(crop.left), float(crop.right)))
            y1, y2 = sorted((float(crop.bottom), float(crop.top)))
            rotation = int(page.rotation or 0) % 360
            pages.append(PageGeometry(index, (x1, y1, x2, y2), rotation - rotation % 90))
    except Exception as exc:  # pypdf raises many kinds on broken files
        raise RenderError(f"unreadable PDF: {type(exc).__name__}") from exc
    return pages


def view_to_pdf(geometry: PageGeometry, vx: float, vy: float) -> tuple[float, float]:
    """Map a point of the displayed page to PDF user space.

    :param geometry: the page.
    :param vx: points from the displayed page's left edge.
    :param vy: points from the displayed page's top edge.
    :returns: ``(x, y)`` in the page's user space.
    """
    x1, y1, x2, y2 = geometry.box
    if geometry.rotation == 90:
        return x1 + vy, y1 + vx
    if geometry.rotation == 180:
        return x2 - vx, y1 + vy
    if geometry.rotation == 270:
        return x2 - vy, y2 - vx
    return x1 + vx, y2 - vy


def pdf_to_view(geometry: PageGeometry, x: float, y: float) -> tuple[float, float]:
    """The inverse of :func:`view_to_pdf`.

    :returns: ``(vx, vy)``: points from the displayed page's left and top edges.
    """
    x1, y1, x2, y2 = geometry.box
    if geometry.rotation == 90:
        return y - y1, x - x1
    if geometry.rotation == 180:
        return x2 - x, y - y1
    if geometry.rotation == 270:
        return y2 - y, x2 - x
    return x - x1, y2 - y


def box_at(geometry: PageGeometry, vx: float, vy: float, width: float, height: float) -> Box:
    """The stamp box centred on a clicked view point, moved inside the page if needed.

    :param width: stamp width in points (user space).
    :param height: stamp height in points.
    :returns: ``(x1, y1, x2, y2)`` in user space.
    """
    cx, cy = view_to_pdf(geometry, vx, vy)
    px1, py1, px2, py2 = geometry.box
    width, height = min(width, px2 - px1), min(height, py2 - py1)
    left = min(max(cx - width / 2, px1), px2 - width)
    bottom = min(max(cy - height / 2, py1), py2 - height)
    return (left, bottom, left + width, bottom + height)


PDFIUM_SCRIPT = Path(__file__).with_name("pdfium.py")


def _pdfium_installed() -> bool:
    return importlib.util.find_spec("pypdfium2") is not None


def available() -> bool:
    """:returns: whether a renderer is installed (poppler-utils, mupdf-tools, or the
    ``pypdfium2`` wheel from requirements.txt)."""
    return bool(shutil.which("pdftoppm") or shutil.which("mutool") or _pdfium_installed())


def _limits() -> None:  # pragma: no cover - runs in the child
    resource.setrlimit(resource.RLIMIT_AS, (RENDER_MEMORY, RENDER_MEMORY))
    resource.setrlimit(resource.RLIMIT_FSIZE, (256 * 1024 * 1024, 256 * 1024 * 1024))


def _command(source: Path, index: int, size: int, out_base: Path) -> tuple[list[str], Path]:
    poppler = shutil.which("pdftoppm")
    number = str(index + 1)
    if poppler:
        argv = [poppler, "-png", "-cropbox", "-singlefile", "-f", number, "-l", number]
        argv += ["-scale-to", str(size), str(source), str(out_base)]
        return argv, out_base.with_suffix(".png")
    mutool = shutil.which("mutool")
    if mutool:
        out = out_base.with_suffix(".png")
        argv = [mutool, "draw", "-q", "-o", str(out), "-w", str(size), "-h", str(size)]
        return [*argv, "-r", "300", str(source), number], out
    if _pdfium_installed():
        out = out_base.with_suffix(".png")
        argv = [sys.executable, "-I", str(PDFIUM_SCRIPT), str(source), str(index), str(size)]
        return [*argv, str(out)], out
    raise RenderError("no renderer (install poppler-utils or mupdf-tools)")


_GEOMETRY: dict[str, tuple[PageGeometry, ...]] = {}
_GEOMETRY_LOCK = threading.Lock()
GEOMETRY_CACHE = 256
"""Documents whose page geometry a process remembers."""


def stored_geometry(blobs: BlobStore, sha256: str) -> list[PageGeometry]:
    """:func:`page_geometry` of a stored blob, remembered by its key (the same key is the
    same bytes in any store), so the page images of one document do not fetch and parse
    it again and again.

    :raises BlobNotFoundError: no such blob.
    """
    with _GEOMETRY_LOCK:
        known = _GEOMETRY.get(sha256)
    if known is None:
        with blobs.local_copy(sha256) as path:
            known = tuple(page_geometry(path))
        with _GEOMETRY_LOCK:
            while len(_GEOMETRY) >= GEOMETRY_CACHE:
                del _GEOMETRY[next(iter(_GEOMETRY))]  # the oldest
            _GEOMETRY[sha256] = known
    return list(known)


def render_stored_page(
    blobs: BlobStore, sha256: str, index: int, size: int, cache_dir: Path
) -> Path:
    """:func:`render_page` of a stored blob, fetched only when the page is not cached.

    :raises BlobNotFoundError: no such blob.
    :raises RenderError: the renderer failed or ran out of time.
    """
    cached = _cached(cache_dir, sha256, index, size)
    if cached.is_file():
        return cached
    with blobs.local_copy(sha256) as source:
        return render_page(source, sha256, index, size, cache_dir)


def _cached(cache_dir: Path, sha256: str, index: int, size: int) -> Path:
    return cache_dir / sha256[:2] / f"{sha256}-{index}-{size}.png"


def render_page(source: Path, sha256: str, index: int, size: int, cache_dir: Path) -> Path:
    """Render one page to PNG (cached).

    :param source: the PDF file.
    :param sha256: its SHA-256 (the cache key; files are write-once).
    :param index: 0-based page index (checked by the caller).
    :param size: pixels on the longer side, one of :data:`SIZES`.
    :param cache_dir: where renderings are kept.
    :returns: the PNG file.
    :raises RenderError: the renderer failed or ran out of time.
    """
    if size not in SIZES:
        raise RenderError(f"size {size} not in {SIZES}")
    cached = _cached(cache_dir, sha256, index, size)
    if cached.is_file():
        return cached
    cached.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cached.parent, prefix=".render-") as tmp:
        produced = _rasterise(source, index, size, Path(tmp) / "page")
        os.replace(produced, cached)  # atomic: a concurrent viewer sees all or nothing
    return cached


def _rasterise(source: Path, index: int, size: int, out_base: Path) -> Path:
    argv, produced = _command(source, index, size, out_base)
    try:
        subprocess.run(  # noqa: S603 - argv built from fixed options
            argv,
            check=True,
            timeout=RENDER_TIMEOUT,
            capture_output=True,
            preexec_fn=_limits,  # gunicorn sync workers: no threads to upset
            env={"PATH": os.environ.get("PATH", ""), "LC_ALL": "C"},
        )
    except subprocess.TimeoutExpired as exc:
        raise RenderError("renderer timed out") from exc
    except (subprocess.CalledProcessError, OSError) as exc:
        raise RenderError(f"renderer failed: {type(exc).__name__}") from exc
    if not produced.is_file() or produced.stat().st_size == 0:
        raise RenderError("renderer produced nothing")
    return produced


def stamp_preview_png(content: StampContent, width: float, height: float, scale: int = 2) -> bytes:
    """The stamp exactly as signing draws it, as a PNG (``scale`` pixels per point).

    :param content: what the stamp shows.
    :param width: stamp width in points.
    :param height: stamp height in points.
    :raises RenderError: no renderer, or it failed.
    """
    from pyhanko.pdf_utils import layout
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from reportlab.pdfgen import canvas

    blank = BytesIO()
    page = canvas.Canvas(blank, pagesize=(width, height))
    page.showPage()
    page.save()
    writer = IncrementalPdfFileWriter(BytesIO(blank.getvalue()))
    style = appearance_style(content)
    params = {TEXT_PARAM: stamp_text(content)} if content.kind == "text" else {}
    stamp = style.create_stamp(writer, layout.BoxConstraints(width, height), params)
    assert stamp is not None  # noqa: S101 - both styles always create a stamp
    stamp.apply(0, 0, 0)
    with tempfile.TemporaryDirectory(prefix="trinhky-stamp-") as tmp:
        pdf = Path(tmp) / "stamp.pdf"
        with pdf.open("wb") as f:
            writer.write(f)
        longer = int(max(width, height) * scale)
        return _rasterise(pdf, 0, longer, Path(tmp) / "stamp").read_bytes()
