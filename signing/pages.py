"""Signing layer: page geometry, read with pyHanko's reader: the one place that knows
where a page's visible area is (CropBox, else MediaBox, inherited through the page
tree, else A4), how it is turned (``/Rotate``) and where signature fields sit.

The signer (default stamp boxes), the document viewer (pages as the browser shows them,
a click turned into a stamp box) and issuance (the seal over a signature) all ask here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.crypt import AuthStatus, StandardSecurityHandler
from pyhanko.pdf_utils.reader import PdfFileReader

from signing.errors import PageGeometryError

Box = tuple[float, float, float, float]
"""A rectangle ``(x1, y1, x2, y2)`` in PDF user space (points, origin bottom left)."""

A4: Box = (0.0, 0.0, 595.0, 842.0)
"""The visible area assumed for a page that declares none."""

MAX_TREE_DEPTH = 64
"""Deepest page tree followed (a hostile file may loop)."""

_INHERITABLE = ("/CropBox", "/MediaBox", "/Rotate")


@dataclass(frozen=True)
class PageGeometry:
    """One page: its visible area and how it is turned."""

    index: int
    """0-based page index."""
    box: Box
    """The visible area in user space: CropBox (else MediaBox, else A4), normalised so
    that ``x1 <= x2`` and ``y1 <= y2``."""
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


def inherited(page: Any, key: str) -> Any:
    """:returns: an inheritable attribute of a page (``/MediaBox``, ``/CropBox``,
    ``/Rotate``), looked up through its ``/Parent`` nodes, or None."""
    node = page
    for _ in range(MAX_TREE_DEPTH):
        if key in node:
            return node[key]
        if "/Parent" not in node:
            return None
        node = node["/Parent"]
    return None


def _get(node: Any, key: str) -> Any:
    """``node[key]`` dereferenced (pyHanko's ``dict.get`` is not), or None."""
    try:
        return node[key]
    except KeyError:
        return None


def _box(value: Any) -> Box | None:
    if not isinstance(value, generic.ArrayObject) or len(value) != 4:
        return None
    x1, y1, x2, y2 = (float(value[i]) for i in range(4))
    return (min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2))


def _rotation(value: Any) -> int:
    try:
        degrees = int(value or 0) % 360
    except (TypeError, ValueError):
        return 0
    return degrees - degrees % 90


def _geometry(index: int, attributes: dict[str, Any]) -> PageGeometry:
    crop, media = attributes.get("/CropBox"), attributes.get("/MediaBox")
    box = _box(crop) or _box(media) or A4
    return PageGeometry(index, box, _rotation(attributes.get("/Rotate")))


def page_box(page: Any) -> Box:
    """:returns: the visible area of a page object (of a reader or a writer)."""
    return _geometry(0, {key: inherited(page, key) for key in _INHERITABLE}).box


def open_reader(stream: IO[bytes]) -> PdfFileReader:
    """Open a PDF for reading its structure; an encrypted file only if the empty user
    password opens it (as viewers do silently).

    :raises PageGeometryError: unreadable, or encrypted with a password.
    """
    try:
        reader = PdfFileReader(stream, strict=False)
        if reader.encrypted:
            handler = reader.security_handler
            if not isinstance(handler, StandardSecurityHandler):
                raise PageGeometryError("encrypted for a recipient certificate")
            if reader.decrypt("").status == AuthStatus.FAILED:
                raise PageGeometryError("encrypted with a password")
    except PageGeometryError:
        raise
    except Exception as exc:  # the PDF stack raises many unrelated types on bad input
        raise PageGeometryError(f"unreadable PDF: {type(exc).__name__}") from exc
    return reader


def _walk(reader: PdfFileReader, limit: int | None) -> list[tuple[Any, dict[str, Any]]]:
    """The page objects in order (at most ``limit``), with their inherited attributes."""
    pages: list[tuple[Any, dict[str, Any]]] = []
    seen: set[tuple[int, int]] = set()

    def visit(ref: Any, inherited_here: dict[str, Any], depth: int) -> None:
        if depth > MAX_TREE_DEPTH:
            raise PageGeometryError("page tree too deep")
        if isinstance(ref, generic.IndirectObject):
            if (ref.idnum, ref.generation) in seen:
                raise PageGeometryError("circular page tree")
            seen.add((ref.idnum, ref.generation))
        node = ref.get_object()
        attributes = {**inherited_here, **{k: node[k] for k in _INHERITABLE if k in node}}
        if _get(node, "/Type") == "/Pages" or "/Kids" in node:
            for kid in node["/Kids"]:
                if limit is not None and len(pages) >= limit:
                    return
                visit(kid, attributes, depth + 1)
        else:
            pages.append((node, attributes))

    visit(reader.root.raw_get("/Pages"), {}, 0)
    return pages


def read_pages(stream: IO[bytes], limit: int | None = None) -> list[PageGeometry]:
    """:returns: the geometry of every page, in order (at most ``limit``).

    :raises PageGeometryError: the file's page tree cannot be read.
    """
    reader = open_reader(stream)
    try:
        walked = _walk(reader, limit)
    except PageGeometryError:
        raise
    except Exception as exc:  # hostile input: KeyError, RecursionError, bad numbers...
        raise PageGeometryError(f"unreadable page tree: {type(exc).__name__}") from exc
    return [_geometry(index, attributes) for index, (_page, attributes) in enumerate(walked)]


def file_pages(path: Path, limit: int | None = None) -> list[PageGeometry]:
    """:func:`read_pages` of a file.

    :raises PageGeometryError: missing or unreadable.
    """
    try:
        with path.open("rb") as stream:
            return read_pages(stream, limit)
    except OSError as exc:
        raise PageGeometryError(f"cannot read {path.name}: {exc}") from exc


def last_page_box(path: Path) -> Box:
    """:returns: the visible area of the last page (A4 if the file cannot be read)."""
    try:
        with path.open("rb") as stream:
            reader = open_reader(stream)
            page_ref, _ = reader.find_page_for_modification(-1)  # type: ignore[no-untyped-call]
            return page_box(page_ref.get_object())
    except Exception:  # noqa: BLE001 - a stamp still needs a place on an odd file
        return A4


def signature_field_box(path: Path, field_name: str) -> tuple[int, Box] | None:
    """The page and rectangle of an existing signature field's widget (e.g. to put the
    organisation's seal over the competent person's signature image).

    :param path: the signed PDF.
    :param field_name: the signature field's name (``SigningProfile.field_name``).
    :returns: ``(page index, (x1, y1, x2, y2))``, or None if the field is absent,
        invisible, or the file cannot be read.
    """
    try:
        with path.open("rb") as stream:
            for index, (page, _attributes) in enumerate(_walk(open_reader(stream), None)):
                for annot_ref in _get(page, "/Annots") or []:
                    annot = annot_ref.get_object()
                    if _get(annot, "/Subtype") != "/Widget":
                        continue
                    name = _get(annot, "/T")
                    if name is None and "/Parent" in annot:
                        name = _get(annot["/Parent"], "/T")
                    if name != field_name:
                        continue
                    box = _box(_get(annot, "/Rect"))
                    if box is None or box[0] == box[2] or box[1] == box[3]:
                        return None
                    return index, box
    except Exception:  # noqa: BLE001 - unreadable file: the caller falls back to a default
        return None
    return None
