"""workflow: PDF pages as images for the document page, and the signer's stamp as an image.

Pages are rasterised by poppler's ``pdftoppm`` (mupdf's ``mutool`` if poppler is
missing, else pdfium from the ``pypdfium2`` wheel, so ``make run`` needs no system
package) in a child process bounded in time, memory and output size, and cached
on disk under a name made of the file's SHA-256, the page and the size, so a page
is rendered once whoever views it.

Where the pages and stamps are (boxes, rotation, view points) is :mod:`workflow.viewer.geometry`.
"""

from __future__ import annotations

import importlib.util
import os
import resource
import shutil
import subprocess  # noqa: S404 - fixed argv of a local renderer, no shell
import sys
import tempfile
from io import BytesIO
from pathlib import Path

from PIL import Image

from signing.stamps import TEXT_PARAM, StampContent, appearance_style, stamp_text
from storage.blobs import BlobStore

SIZES = (800, 1600, 3200)
"""Allowed renderings: pixels on the page's longer side."""
DEFAULT_SIZE = 1600
"""The rendering the page shows without JavaScript."""
RENDER_TIMEOUT = 20.0
"""Seconds a renderer may run for one page."""
RENDER_MEMORY = 768 * 1024 * 1024
"""Address-space limit of the renderer process, in bytes."""


class RenderError(Exception):
    """The page could not be rendered (no renderer, timeout, broken page)."""


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
        return transparent(_rasterise(pdf, 0, longer, Path(tmp) / "stamp").read_bytes())


def transparent(png: bytes) -> bytes:
    """The stamp rendered on white, with the white taken out: each pixel's alpha is how
    far it is from white and its colour the one that, laid over white, gives it back.
    The stamp has no background of its own, so the preview shows the page through it,
    as the signed page will.

    :param png: an opaque rendering on a white page.
    :returns: an RGBA PNG.
    """
    image = Image.open(BytesIO(png)).convert("RGB")
    rgb = image.tobytes()
    rgba = bytearray(len(rgb) // 3 * 4)
    for i in range(len(rgb) // 3):
        r, g, b = rgb[3 * i], rgb[3 * i + 1], rgb[3 * i + 2]
        alpha = 255 - min(r, g, b)
        if alpha:  # c = a * c' + (1 - a) * 255, solved for c'
            o = 4 * i
            rgba[o] = max(0, 255 - (255 - r) * 255 // alpha)
            rgba[o + 1] = max(0, 255 - (255 - g) * 255 // alpha)
            rgba[o + 2] = max(0, 255 - (255 - b) * 255 // alpha)
            rgba[o + 3] = alpha
    out = Image.frombytes("RGBA", image.size, bytes(rgba))
    buffer = BytesIO()
    out.save(buffer, "PNG", optimize=True)
    return buffer.getvalue()
