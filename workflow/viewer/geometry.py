"""workflow: where things are on a document's pages: the pages as the browser shows them,
a clicked point as a stamp box, the seal's default place. The page boxes themselves are
read by :mod:`signing.pages` (pyHanko), like the signer's.

The browser works in *view points*: the page as displayed (crop box, after the page's
``/Rotate``), origin at the top left, y downwards, 1 unit = 1 PDF point.
:func:`view_to_pdf` maps a view point back to PDF user space.
"""

from __future__ import annotations

import threading
from pathlib import Path

from flask_babel import gettext as _

from signing.errors import PageGeometryError
from signing.pages import Box, PageGeometry, file_pages, last_page_box
from signing.stamps import default_box
from storage.blobs import BlobStore
from storage.errors import BlobNotFoundError
from storage.models import Document
from workflow.errors import ForbiddenError, NotFoundError, WorkflowError
from workflow.viewer import render

GAP = 8.0
"""Space between the seal's default box and the signer's, in points."""
MAX_PAGES = 500
"""Pages the viewer lists at most (beyond that: download the file)."""


def page_geometry(path: Path) -> list[PageGeometry]:
    """:returns: the geometry of every page (at most :data:`MAX_PAGES`).

    :raises PageGeometryError: the file cannot be read as a PDF.
    """
    return file_pages(path, MAX_PAGES)


_GEOMETRY: dict[str, tuple[PageGeometry, ...]] = {}
_GEOMETRY_LOCK = threading.Lock()
GEOMETRY_CACHE = 256
"""Documents whose page geometry a process remembers."""


def stored_geometry(blobs: BlobStore, sha256: str) -> list[PageGeometry]:
    """:func:`page_geometry` of a stored blob, remembered by its key (the same key is the
    same bytes in any store), so the page images of one document do not fetch and parse
    it again and again.

    :raises BlobNotFoundError: no such blob.
    :raises PageGeometryError: the blob is not a readable PDF.
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


def content_key(blobs: BlobStore, doc: Document, revision: int | None = None) -> str:
    """:returns: the blob key of a revision's PDF (the current one by default).

    :raises ForbiddenError: a classified entry (metadata only, never shown).
    :raises NotFoundError: no such revision, or the blob is missing.
    """
    if doc.classification or doc.metadata_only or not doc.has_content:
        raise ForbiddenError(
            _("Văn bản mật: nội dung không được hiển thị trên hệ thống."), code="classified"
        )
    rev = doc.current_revision
    if revision is not None:
        rev = next((r for r in doc.revisions if r.number == revision), None)  # type: ignore[assignment]
        if rev is None:
            raise NotFoundError(_("Không có phiên bản này của văn bản."))
    if not blobs.exists(rev.blob_sha256):
        raise NotFoundError(_("Tệp của văn bản không còn trong kho lưu trữ."))
    return rev.blob_sha256


def document_pages(blobs: BlobStore, doc: Document) -> list[PageGeometry]:
    """:returns: the pages of the document's current revision, for the viewer (none if
    classified, unreadable, or no renderer is installed: the page offers the download)."""
    if not doc.has_content or not render.available():
        return []
    try:
        return stored_geometry(blobs, content_key(blobs, doc))
    except (WorkflowError, PageGeometryError, BlobNotFoundError):
        return []


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


def seal_box(path: Path) -> Box:
    """:returns: where the organisation's seal stamp goes on the last page when no
    signature shows where: left of the default place of the signer's stamp."""
    x1, y1, x2, y2 = default_box(last_page_box(path))
    width = x2 - x1
    left = max(x1 - GAP - width, 36.0)
    return (left, y1, left + width, y2)
