"""workflow: the outgoing and incoming registers (sổ đăng ký văn bản đi / đến, Decree
30/2020 Appendix IV) and their CSV, XLSX and PDF exports."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from html import escape as _escape
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import Certificate, Document, Signature, Unit
from storage.registry_models import Dispatch, HandSignature, IncomingEntry
from storage.search_models import DocumentFile
from workflow.errors import InvalidInputError
from workflow.uploads import append_text_row, csv_row
from workflow.vocab import (
    CLASSIFICATION_LABELS,
    DOC_TYPES,
    ENTRY_STATE_LABELS,
    FORM_LABELS,
    SERIES_LABELS,
    STATE_LABELS,
    VN_TZ,
    normalise_doc_type,
    to_vn,
)

ROOT = Path(__file__).resolve().parents[2]
FONT = ROOT / "signing" / "fonts" / "DejaVuSans-upem1000.ttf"
BOLD_FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf")

TITLES = {"outgoing": "SỔ ĐĂNG KÝ VĂN BẢN ĐI", "incoming": "SỔ ĐĂNG KÝ VĂN BẢN ĐẾN"}
STATES = {**STATE_LABELS, **ENTRY_STATE_LABELS}

# (key in the JSON row, column heading, relative width in the PDF)
COLUMNS: dict[str, list[tuple[str, str, int]]] = {
    "outgoing": [
        ("symbol", "Số, ký hiệu văn bản", 9),
        ("date", "Ngày tháng văn bản", 9),
        ("doc_type_label", "Tên loại", 7),
        ("subject", "Trích yếu nội dung", 22),
        ("signer", "Người ký", 10),
        ("recipients_text", "Nơi nhận văn bản", 18),
        ("copies", "Số lượng bản", 5),
        ("series_label", "Sổ", 4),
        ("classification_label", "Độ mật", 6),
        ("form_label", "Hình thức", 5),
        ("state_label", "Ghi chú", 8),
    ],
    "incoming": [
        ("received_date", "Ngày đến", 9),
        ("number", "Số đến", 5),
        ("sender", "Tác giả (nơi gửi)", 14),
        ("original_symbol", "Số, ký hiệu", 9),
        ("original_date", "Ngày tháng văn bản", 9),
        ("doc_type_label", "Tên loại", 7),
        ("subject", "Trích yếu nội dung", 22),
        ("assigned_unit", "Đơn vị hoặc người nhận", 12),
        ("form_label", "Hình thức", 5),
        ("state_label", "Ghi chú", 10),
    ],
}


@dataclass(frozen=True)
class Filters:
    """What a register is narrowed to."""

    year: int
    """The register's year (Vietnam time)."""
    q: str | None = None
    """Text the subject must contain (case-insensitive)."""
    doc_type: str | None = None
    """A document type code."""
    date_from: date | None = None
    """First date included (issue date, or date received)."""
    date_to: date | None = None
    """Last date included."""


def _date(value: str | None, label: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise InvalidInputError(
            f"'{label}' phải là ngày dạng YYYY-MM-DD, ví dụ 2026-12-01."
        ) from exc


def parse_filters(args: Any, default_year: int) -> Filters:
    """:returns: the filters of a query string (``year``, ``q``, ``doc_type``, ``from``, ``to``).

    :raises InvalidInputError: a bad year, type or date.
    """
    raw_year = args.get("year") or ""
    if raw_year and not (raw_year.isdigit() and 2000 <= int(raw_year) <= 2100):
        raise InvalidInputError("'year' phải là năm, ví dụ 2026.")
    doc_type = args.get("doc_type") or None
    code = normalise_doc_type(doc_type) if doc_type else None
    if doc_type and code is None:
        raise InvalidInputError(
            "Loại văn bản không hợp lệ. Chọn một trong: " + ", ".join(DOC_TYPES) + "."
        )
    return Filters(
        year=int(raw_year) if raw_year else default_year,
        q=(args.get("q") or "").strip() or None,
        doc_type=code,
        date_from=_date(args.get("from"), "from"),
        date_to=_date(args.get("to"), "to"),
    )


def _keep(filters: Filters, subject: str, when: date | None) -> bool:
    if filters.q and filters.q.casefold() not in subject.casefold():
        return False
    if filters.date_from and (when is None or when < filters.date_from):
        return False
    return not (filters.date_to and (when is None or when > filters.date_to))


def _vn_date(moment: Any) -> date | None:
    local = to_vn(moment)
    return local.date() if local else None


def outgoing(session: Session, unit_id: int, filters: Filters) -> list[dict[str, Any]]:
    """:returns: the outgoing register of an issuer for a year, in number order (classified
    metadata-only documents included; Tuyệt mật without a subject)."""
    query = select(Document).where(
        Document.issuer_unit_id == unit_id,
        Document.year == filters.year,
        Document.number.is_not(None),
    )
    if filters.doc_type:
        query = query.where(Document.doc_type == filters.doc_type)
    docs = list(session.scalars(query.order_by(Document.register, Document.number)))
    ids = [d.id for d in docs]
    signers: dict[int, str] = {}
    recipients: dict[int, list[str]] = defaultdict(list)
    if ids:
        for sig in session.scalars(
            select(Signature)
            .join(Certificate, Certificate.id == Signature.certificate_id)
            .where(
                Signature.document_id.in_(ids), Certificate.purpose.in_(("personal", "external"))
            )
            .order_by(Signature.id)
        ):
            signers[sig.document_id] = sig.signer.full_name
        for dispatch in session.scalars(
            select(Dispatch).where(Dispatch.document_id.in_(ids)).order_by(Dispatch.id)
        ):
            unit = dispatch.recipient_unit
            if dispatch.form == "paper":
                name = unit.name if unit else dispatch.external_name
                recipients[dispatch.document_id].append(f"{name} (bản giấy)")
                continue
            recipients[dispatch.document_id].append(
                unit.name if unit else f"{dispatch.external_name} <{dispatch.external_email}>"
            )
        for hand in session.scalars(
            select(HandSignature).where(HandSignature.document_id.in_(ids))
        ):
            signers[hand.document_id] = hand.signer_name
    appendices = _appendices(session, ids)
    out = []
    for doc in docs:
        subject = "" if doc.classification == "tuyet_mat" else doc.subject
        issued = _vn_date(doc.issued_at)
        if not _keep(filters, subject, issued):
            continue
        state = "recalled" if doc.recalled_at is not None else doc.state
        names = recipients.get(doc.id, [])
        out.append(
            {
                "document_id": doc.id,
                "number": doc.number,
                "symbol": doc.symbol,
                "register": doc.register,
                "series": doc.register,
                "series_label": SERIES_LABELS.get(doc.register or "", doc.register),
                "form": doc.form,
                "form_label": FORM_LABELS.get(doc.form, doc.form),
                "date": issued.isoformat() if issued else None,
                "subject": subject,
                "doc_type": doc.doc_type,
                "doc_type_label": DOC_TYPES.get(doc.doc_type, doc.doc_type),
                "signer": signers.get(doc.id),
                "recipients": names,
                "recipients_text": "; ".join(names),
                "copies": doc.copies if doc.copies is not None else len(names),
                "classification": doc.classification,
                "classification_label": CLASSIFICATION_LABELS.get(doc.classification or "", ""),
                "metadata_only": doc.metadata_only,
                "state": state,
                "state_label": STATES.get(state, state),
                "recalled": doc.recalled_at is not None,
                "appendices": appendices.get(doc.id, []),
            }
        )
    return out


def _appendices(session: Session, document_ids: list[int]) -> dict[int, list[str]]:
    """:returns: the file names of each document's appendices (phụ lục), in order."""
    found: dict[int, list[str]] = defaultdict(list)
    if document_ids:
        for f in session.scalars(
            select(DocumentFile)
            .where(DocumentFile.document_id.in_(document_ids), DocumentFile.role == "appendix")
            .order_by(DocumentFile.document_id, DocumentFile.position)
        ):
            found[f.document_id].append(f.filename)
    return found


def incoming(session: Session, unit_id: int, filters: Filters) -> list[dict[str, Any]]:
    """:returns: the incoming register of a unit for a year: received entries in số đến
    order, then those pending or returned (without a number)."""
    query = select(IncomingEntry).where(IncomingEntry.unit_id == unit_id)
    if filters.doc_type:
        query = query.where(IncomingEntry.doc_type == filters.doc_type)
    entries = [
        e
        for e in session.scalars(query.order_by(IncomingEntry.id))
        if (e.year or e.created_at.astimezone(VN_TZ).year) == filters.year
    ]
    entries.sort(key=lambda e: (e.number is None, e.number or 0, e.id))
    units = {u.id: u.name for u in session.scalars(select(Unit))}
    appendices = _appendices(session, [e.document_id for e in entries if e.document_id])
    out = []
    for entry in entries:
        received = _vn_date(entry.received_at)
        subject = "" if entry.classification == "tuyet_mat" else entry.subject
        if not _keep(filters, subject, received or _vn_date(entry.created_at)):
            continue
        out.append(
            {
                "id": entry.id,
                "number": entry.number,
                "received_at": to_vn(entry.received_at).isoformat()  # type: ignore[union-attr]
                if entry.received_at
                else None,
                "received_date": received.isoformat() if received else None,
                "received_by": entry.received_by.full_name if entry.received_by else None,
                "sender": entry.sender,
                "original_symbol": entry.original_symbol,
                "original_date": entry.original_date.isoformat() if entry.original_date else None,
                "subject": subject,
                "doc_type": entry.doc_type,
                "doc_type_label": DOC_TYPES.get(entry.doc_type or "", entry.doc_type or ""),
                "assigned_unit": units.get(entry.assigned_unit_id or 0),
                "source": entry.source,
                "form": entry.form,
                "form_label": FORM_LABELS.get(entry.form, entry.form),
                "classification": entry.classification,
                "classification_label": CLASSIFICATION_LABELS.get(entry.classification or "", ""),
                "has_file": bool(entry.blob_sha256),
                "state": entry.state,
                "state_label": ENTRY_STATE_LABELS.get(entry.state, entry.state),
                "return_reason": entry.return_reason,
                "appendices": appendices.get(entry.document_id or 0, []),
            }
        )
    return out


# --- exports --------------------------------------------------------------------------


def _cell(row: dict[str, Any], key: str) -> str:
    value = row.get(key)
    if value is None:
        return ""
    if key.endswith("date") and isinstance(value, str) and len(value) == 10:
        return f"{value[8:10]}/{value[5:7]}/{value[0:4]}"
    return str(value)


def _table(kind: str, rows: list[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    columns = COLUMNS[kind]
    return [c[1] for c in columns], [[_cell(r, c[0]) for c in columns] for r in rows]


def to_csv(kind: str, rows: list[dict[str, Any]]) -> bytes:
    """:returns: the register as CSV, UTF-8 with a BOM so that Excel shows Vietnamese."""
    heading, body = _table(kind, rows)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(heading)
    writer.writerows(csv_row(row) for row in body)
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def to_xlsx(kind: str, rows: list[dict[str, Any]], unit: str, year: int) -> bytes:
    """:returns: the register as an Excel workbook (title, headings, one row per entry)."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    heading, body = _table(kind, rows)
    book = Workbook()
    sheet = book.active
    assert sheet is not None  # noqa: S101 - a new workbook has one sheet
    sheet.title = "So di" if kind == "outgoing" else "So den"
    sheet.append([f"{TITLES[kind]} - {unit} - NĂM {year}"])
    sheet["A1"].font = Font(bold=True, size=13)
    sheet.append(heading)
    for cell in sheet[2]:
        cell.font = Font(bold=True)
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    for values in body:
        append_text_row(sheet, values)
    for index, (_key, _title, width) in enumerate(COLUMNS[kind], start=1):
        sheet.column_dimensions[sheet.cell(row=2, column=index).column_letter].width = width * 2
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def escape(text: str) -> str:
    """:returns: text safe inside reportlab's paragraph markup."""
    return _escape(text, quote=False)


def _fonts() -> tuple[str, str]:
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    if "TrinhKySans" not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont("TrinhKySans", str(FONT)))
        bold = BOLD_FONT if BOLD_FONT.is_file() else FONT
        pdfmetrics.registerFont(TTFont("TrinhKySans-Bold", str(bold)))
    return "TrinhKySans", "TrinhKySans-Bold"


def to_pdf(kind: str, rows: list[dict[str, Any]], unit: str, year: int, org: str) -> bytes:
    """:returns: the register as an A4 landscape PDF for printing and binding."""

    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    regular, bold = _fonts()
    cell = ParagraphStyle("cell", fontName=regular, fontSize=8, leading=10)
    head = ParagraphStyle("head", parent=cell, fontName=bold, alignment=1)
    title = ParagraphStyle("title", fontName=bold, fontSize=15, leading=20, alignment=1)
    sub = ParagraphStyle("sub", fontName=regular, fontSize=10, leading=13, alignment=1)
    heading, body = _table(kind, rows)
    columns = COLUMNS[kind]
    page = landscape(A4)
    usable = page[0] - 24 * mm
    total = sum(c[2] for c in columns)
    data = [[Paragraph(escape(h), head) for h in heading]]
    data += [[Paragraph(escape(v), cell) for v in values] for values in body]
    if not body:
        data.append([Paragraph("(Chưa có văn bản nào)", cell)] + [""] * (len(columns) - 1))
    table = Table(data, colWidths=[usable * c[2] / total for c in columns], repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.5, colors.black),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e7ecf2")),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        )
    )

    def footer(canvas: Any, document: Any) -> None:
        canvas.saveState()
        canvas.setFont(regular, 8)
        canvas.drawRightString(page[0] - 12 * mm, 8 * mm, f"Trang {document.page}")
        canvas.restoreState()

    out = io.BytesIO()
    pdf = SimpleDocTemplate(
        out,
        pagesize=page,
        leftMargin=12 * mm,
        rightMargin=12 * mm,
        topMargin=12 * mm,
        bottomMargin=14 * mm,
        title=f"{TITLES[kind]} - {unit} - {year}",
        author=org,
    )
    pdf.build(
        [
            Paragraph(escape(org.upper()), sub),
            *([Paragraph(escape(unit), sub)] if unit != org else []),
            Spacer(1, 4 * mm),
            Paragraph(TITLES[kind], title),
            Paragraph(f"Năm {year}", sub),
            Spacer(1, 5 * mm),
            table,
        ],
        onFirstPage=footer,
        onLaterPages=footer,
    )
    return out.getvalue()
