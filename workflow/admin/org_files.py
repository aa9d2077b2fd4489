"""workflow: reading the organisation files (XLSX workbooks, CSV files) into the two
tables of an import, *Đơn vị* and *Người dùng*, recognised by their header rows; headers
and values are compared without diacritics or case (:func:`fold`)."""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Any

from openpyxl import load_workbook

from storage.models import Role

UNITS, USERS = "Đơn vị", "Người dùng"
"""The two tables (sheet names of the template)."""
MAX_ROWS = 20_000
"""Rows per table read at most (a larger file is refused, not truncated)."""

# column key -> (header shown in messages, accepted spellings without diacritics)
UNIT_COLUMNS: dict[str, tuple[str, tuple[str, ...]]] = {
    "code": ("Mã đơn vị", ("ma_don_vi", "ma", "code")),
    "name": ("Tên đơn vị", ("ten_don_vi", "ten", "name")),
    "symbol": ("Ký hiệu", ("ky_hieu", "ky_hieu_don_vi", "symbol")),
    "kind": ("Loại đơn vị", ("loai_don_vi", "loai", "kind")),
    "parent": (
        "Mã đơn vị cấp trên",
        ("ma_don_vi_cap_tren", "don_vi_cap_tren", "cap_tren", "parent"),
    ),
    "email": ("Thư điện tử", ("thu_dien_tu", "email", "e_mail", "hop_thu")),
}
USER_COLUMNS: dict[str, tuple[str, tuple[str, ...]]] = {
    "username": ("Tên đăng nhập", ("ten_dang_nhap", "username")),
    "full_name": ("Họ và tên", ("ho_va_ten", "ho_ten", "full_name")),
    "title": ("Chức vụ", ("chuc_vu", "title")),
    "email": ("Thư điện tử", ("thu_dien_tu", "email", "e_mail", "hop_thu")),
    "unit": ("Mã đơn vị", ("ma_don_vi", "don_vi", "unit")),
    "roles": ("Vai trò", ("vai_tro", "roles", "role")),
}
REQUIRED = {UNITS: ("code", "name", "kind"), USERS: ("username", "full_name", "unit", "roles")}

KINDS = {
    "committee": ("dang_uy", "dang_uy_khoi", "committee"),
    "standing": ("thuong_truc", "thuong_truc_dang_uy", "ban_thuong_vu", "standing"),
    "office": ("van_phong", "office"),
    "board": ("ban", "ban_tham_muu", "board"),
    "grassroots": (
        "to_chuc_co_so_dang",
        "co_so",
        "dang_uy_co_so",
        "chi_bo_co_so",
        "grassroots",
    ),
}
ROLES = {
    Role.DRAFTER: ("chuyen_vien_soan_thao", "chuyen_vien", "soan_thao", "drafter"),
    Role.APPROVER: ("lanh_dao_duyet", "lanh_dao", "duyet", "approver"),
    Role.SIGNER: ("nguoi_ky", "ky", "signer"),
    Role.CLERK: ("van_thu", "clerk"),
    Role.AUDITOR: ("kiem_tra_giam_sat", "kiem_tra", "giam_sat", "auditor"),
    Role.ADMIN: ("quan_tri_he_thong", "quan_tri", "admin"),
}
KIND_OF = {alias: kind for kind, aliases in KINDS.items() for alias in aliases}
ROLE_OF = {alias: role for role, aliases in ROLES.items() for alias in aliases}


def fold(text: Any) -> str:
    """:returns: ``text`` without diacritics, lower case, words joined by ``_``
    ("Mã đơn vị cấp trên" -> ``ma_don_vi_cap_tren``)."""
    value = str(text or "").replace("đ", "d").replace("Đ", "D")
    value = unicodedata.normalize("NFD", value)
    value = "".join(c for c in value if not unicodedata.combining(c)).lower()
    return "_".join(re.findall(r"[a-z0-9]+", value))


@dataclass(frozen=True)
class RowError:
    """One problem of the file, where it is and why."""

    table: str
    """``Đơn vị`` or ``Người dùng`` (or the file, for a missing table)."""
    row: int
    """The row number as the spreadsheet shows it (the header is row 1); 0 for the table."""
    column: str
    """The column's header as in the template ("" for the whole row or table)."""
    message: str
    """The reason, in Vietnamese."""

    def __str__(self) -> str:
        where = f"Bảng «{self.table}»"
        if self.row:
            where += f", dòng {self.row}"
        if self.column:
            where += f", cột «{self.column}»"
        return f"{where}: {self.message}"


@dataclass
class Table:
    """The rows of one table: ``(row number, {column key: text})``."""

    name: str
    rows: list[tuple[int, dict[str, str]]] = field(default_factory=list)


# --- reading the files ----------------------------------------------------------------


def read_files(files: Iterable[tuple[str, bytes]]) -> tuple[dict[str, Table], list[RowError]]:
    """Read the units and users tables from XLSX workbooks and CSV files.

    :param files: (file name, content) pairs; the name's extension tells the format.
    :returns: the tables found, by name, and the problems met.
    """
    tables: dict[str, Table] = {}
    errors: list[RowError] = []
    for filename, data in files:
        suffix = PurePath(filename or "").suffix.lower()
        try:
            if suffix == ".xlsx":
                sheets = list(_xlsx_sheets(data))
            elif suffix in (".csv", ".txt"):
                sheets = [(filename, _csv_rows(data))]
            else:
                errors.append(
                    RowError(filename, 0, "", "Chỉ nhận tệp Excel (.xlsx) hoặc CSV (.csv).")
                )
                continue
        except _FileProblem as exc:
            errors.append(RowError(filename, 0, "", str(exc)))
            continue
        for sheet, rows in sheets:
            table, problem = _table(sheet, rows)
            if problem:
                errors.append(problem)
            elif table is not None:
                if table.name in tables:
                    errors.append(RowError(table.name, 0, "", "Bảng này có ở hai nơi trong tệp."))
                else:
                    tables[table.name] = table
    if not tables and not errors:
        errors.append(
            RowError(
                "tệp",
                0,
                "",
                "Không tìm thấy bảng «Đơn vị» hay «Người dùng» (dòng tiêu đề như tệp mẫu).",
            )
        )
    return tables, errors


class _FileProblem(Exception):
    pass


def _xlsx_sheets(data: bytes) -> Iterator[tuple[str, list[list[Any]]]]:
    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # zipfile, XML and openpyxl errors alike
        raise _FileProblem(
            "Không đọc được tệp Excel (.xlsx). Hãy lưu lại bằng Excel hoặc LibreOffice."
        ) from exc
    try:
        for sheet in book.worksheets:
            rows: list[list[Any]] = []
            for row in sheet.iter_rows(values_only=True):
                rows.append(list(row))
                if len(rows) > MAX_ROWS + 1:
                    raise _FileProblem(f"Trang «{sheet.title}» có quá {MAX_ROWS} dòng.")
            yield sheet.title, rows
    finally:
        book.close()


def _csv_rows(data: bytes) -> list[list[Any]]:
    for encoding in ("utf-8-sig", "cp1258"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:  # pragma: no cover - cp1258 decodes nearly anything
        raise _FileProblem("Không đọc được tệp CSV: hãy lưu với bảng mã UTF-8.")
    first = text.split("\n", 1)[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","
    rows = [list(r) for r in csv.reader(io.StringIO(text), delimiter=delimiter)]
    if len(rows) > MAX_ROWS + 1:
        raise _FileProblem(f"Tệp CSV có quá {MAX_ROWS} dòng.")
    return rows


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return " ".join(str(value).split())


def _table(sheet: str, rows: list[list[Any]]) -> tuple[Table | None, RowError | None]:
    """Recognise a table by its header row; :returns: the table, or ``None`` when the
    sheet is neither (e.g. an instructions sheet)."""
    header_at = next((i for i, r in enumerate(rows) if any(_cell(c) for c in r)), None)
    if header_at is None:
        return None, None
    header = [fold(c) for c in rows[header_at]]
    for name, columns in ((USERS, USER_COLUMNS), (UNITS, UNIT_COLUMNS)):
        positions: dict[str, int] = {}
        for key, (_label, aliases) in columns.items():
            for index, text in enumerate(header):
                if text in aliases and key not in positions:
                    positions[key] = index
                    break
        required = REQUIRED[name]
        if name == USERS and "username" not in positions:
            continue
        if name == UNITS and not ("code" in positions and "name" in positions):
            continue
        missing = [columns[k][0] for k in required if k not in positions]
        if missing:
            return None, RowError(
                name, header_at + 1, "", f"Thiếu cột: {', '.join(missing)} (xem tệp mẫu)."
            )
        table = Table(name)
        for offset, raw in enumerate(rows[header_at + 1 :], start=header_at + 2):
            values = {k: _cell(raw[i]) if i < len(raw) else "" for k, i in positions.items()}
            if any(values.values()):
                table.rows.append((offset, values))
        return table, None
    return None, None
