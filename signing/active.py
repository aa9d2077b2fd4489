"""Signing layer: active content in a PDF (JavaScript, XFA forms, launch actions, embedded
files, actions run on opening or on events): found by walking the document catalogue,
the pages and their annotations, in bounded work (pages capped by the caller's limit,
action chains by :data:`MAX_ACTIONS`). A signature does not make such content harmless:
what the signer approves is not necessarily what a viewer that runs it will show."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.reader import PdfFileReader

MAX_ACTIONS = 200
"""Most actions followed (``/Next`` chains included) before the walk stops."""

KINDS: dict[str, tuple[str, str]] = {
    "javascript": ("mã JavaScript", "JavaScript"),
    "xfa": ("biểu mẫu động XFA", "an XFA form"),
    "launch": ("lệnh mở chương trình hoặc tệp khác (Launch)", "a Launch action"),
    "embedded_file": ("tệp đính kèm bên trong", "an embedded file"),
    "open_action": ("hành động tự chạy khi mở tệp (OpenAction)", "an OpenAction"),
    "additional_actions": ("hành động tự chạy theo sự kiện (AA)", "additional actions (AA)"),
    "other_action": ("hành động gửi hoặc nhập dữ liệu", "a submit/import action"),
}
"""Each kind of active content: its Vietnamese and English description."""

_ACTION_KINDS = {
    "/JavaScript": "javascript",
    "/Launch": "launch",
    "/SubmitForm": "other_action",
    "/ImportData": "other_action",
    "/GoToE": "embedded_file",
}


@dataclass(frozen=True)
class ActiveItem:
    """One piece of active content and where it is."""

    kind: str
    """One of :data:`KINDS`."""
    where: str
    """Where in the file, in Vietnamese (``"tài liệu"``, ``"trang 3"``, ``"chú thích trang 3"``)."""

    @property
    def label(self) -> str:
        """:returns: a Vietnamese line for the signer, e.g. ``mã JavaScript (trang 2)``."""
        return f"{KINDS[self.kind][0]} ({self.where})"


class _Walk:
    def __init__(self) -> None:
        self.items: list[ActiveItem] = []
        self.actions = 0

    def add(self, kind: str, where: str) -> None:
        item = ActiveItem(kind, where)
        if item not in self.items:
            self.items.append(item)

    def action(self, value: Any, where: str) -> None:
        """An action dictionary (or array of them), its ``/Next`` chain followed."""
        pending = [value]
        while pending and self.actions < MAX_ACTIONS:
            action = _resolve(pending.pop())
            self.actions += 1
            if isinstance(action, generic.ArrayObject):
                pending.extend(action)
                continue
            if not isinstance(action, generic.DictionaryObject):
                continue
            kind = _ACTION_KINDS.get(str(action.get("/S", "")))
            if kind:
                self.add(kind, where)
            if "/Next" in action:
                pending.append(action.raw_get("/Next"))

    def triggers(self, holder: generic.DictionaryObject, where: str) -> None:
        """``/AA``: actions on events (open, close, focus...)."""
        aa = _resolve(holder.raw_get("/AA")) if "/AA" in holder else None
        if isinstance(aa, generic.DictionaryObject) and len(aa):
            self.add("additional_actions", where)
            for key in list(aa.keys()):
                self.action(aa.raw_get(key), where)


def _resolve(value: Any) -> Any:
    if isinstance(value, generic.IndirectObject):
        return value.get_object()  # type: ignore[no-untyped-call]
    return value


def find_active_content(reader: PdfFileReader, max_pages: int) -> tuple[ActiveItem, ...]:
    """Active content of the document, its first ``max_pages`` pages and their annotations.

    :param reader: the PDF (decrypted if encrypted).
    :param max_pages: pages to look at (the upload limit: the file has no more).
    :returns: each kind of active content and where, in document order; empty if none.
    """
    walk = _Walk()
    root = reader.root
    doc = "tài liệu"
    if "/OpenAction" in root:
        opener = _resolve(root.raw_get("/OpenAction"))
        if isinstance(opener, generic.DictionaryObject):  # (an array is a destination)
            walk.add("open_action", doc)
            walk.action(opener, doc)
    walk.triggers(root, doc)
    names = _resolve(root.raw_get("/Names")) if "/Names" in root else None
    if isinstance(names, generic.DictionaryObject):
        if "/JavaScript" in names:
            walk.add("javascript", doc)
        if "/EmbeddedFiles" in names:
            walk.add("embedded_file", doc)
    form = _resolve(root.raw_get("/AcroForm")) if "/AcroForm" in root else None
    if isinstance(form, generic.DictionaryObject) and "/XFA" in form:
        walk.add("xfa", doc)
    for index, page in enumerate(_pages(reader, max_pages), start=1):
        where = f"trang {index}"
        walk.triggers(page, where)
        annots = _resolve(page.raw_get("/Annots")) if "/Annots" in page else None
        if not isinstance(annots, generic.ArrayObject):
            continue
        for annot in list(annots)[: MAX_ACTIONS * 5]:
            annot = _resolve(annot)
            if not isinstance(annot, generic.DictionaryObject):
                continue
            spot = f"chú thích trang {index}"
            if annot.get("/Subtype") == "/FileAttachment":
                walk.add("embedded_file", spot)
            if "/A" in annot:
                walk.action(annot.raw_get("/A"), spot)
            walk.triggers(annot, spot)
    return tuple(walk.items)


def _pages(reader: PdfFileReader, max_pages: int) -> list[generic.DictionaryObject]:
    """The leaves of the page tree, at most ``max_pages`` (cycles skipped)."""
    out: list[generic.DictionaryObject] = []
    seen: set[int] = set()
    stack: list[Any] = [reader.root.raw_get("/Pages")]
    while stack and len(out) < max_pages:
        ref = stack.pop()
        if isinstance(ref, generic.IndirectObject):
            if ref.idnum in seen:
                continue
            seen.add(ref.idnum)
        node = _resolve(ref)
        if not isinstance(node, generic.DictionaryObject):
            continue
        kids = _resolve(node.raw_get("/Kids")) if "/Kids" in node else None
        if isinstance(kids, generic.ArrayObject) and node.get("/Type") != "/Page":
            stack.extend(reversed(list(kids)))
        else:
            out.append(node)
    return out


def active_content_of(path: Path, max_pages: int) -> tuple[ActiveItem, ...]:
    """:returns: the active content of the PDF file ``path`` (opened with the empty user
    password if encrypted); empty if there is none or the file cannot be read."""
    try:
        with path.open("rb") as fh:
            reader = PdfFileReader(fh, strict=False)
            if reader.encrypted:
                reader.decrypt("")
            return find_active_content(reader, max_pages)
    except Exception:  # unreadable: the upload check and the validation say so
        return ()
