"""Organisation files for the import tests: XLSX workbooks and CSV files as an office
keeps them (Vietnamese headers and values), 20 units and 60 users by default."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

from openpyxl import Workbook

UNIT_HEADER = [
    "Mã đơn vị",
    "Tên đơn vị",
    "Ký hiệu",
    "Loại đơn vị",
    "Mã đơn vị cấp trên",
    "Thư điện tử",
]
USER_HEADER = ["Tên đăng nhập", "Họ và tên", "Chức vụ", "Thư điện tử", "Mã đơn vị", "Vai trò"]

FAMILY = ("Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Vũ", "Đặng", "Bùi", "Đỗ", "Hồ", "Ngô", "Dương")
GIVEN = ("Văn Đức", "Thị Thu", "Quang Huy", "Thị Mai", "Minh Tuấn", "Hồng Nhung", "Văn Hải")
BOARDS = (
    ("BTC", "Ban Tổ chức"),
    ("BTG", "Ban Tuyên giáo"),
    ("BKT", "Ban Kiểm tra"),
    ("BDV", "Ban Dân vận"),
)
GRASSROOTS = (
    "Sở Giáo dục và Đào tạo",
    "Sở Y tế",
    "Sở Tài chính",
    "Sở Xây dựng",
    "Công ty Điện lực",
    "Ngân hàng Nông nghiệp",
    "Sở Tư pháp",
    "Sở Nội vụ",
    "Kho bạc Nhà nước",
    "Cục Thuế",
    "Bưu điện tỉnh",
    "Sở Công Thương",
    "Sở Nông nghiệp và Môi trường",
)


def _name(i: int) -> str:
    return f"{FAMILY[i % len(FAMILY)]} {GIVEN[(i // len(FAMILY)) % len(GIVEN)]} {chr(65 + i % 26)}"


def organisation() -> tuple[list[list[str]], list[list[str]]]:
    """:returns: the unit rows (20) and the user rows (60) of a bloc committee."""
    units = [
        [
            "DUK",
            "Đảng ủy Khối Cơ quan - Doanh nghiệp tỉnh",
            "ĐUK",
            "Đảng ủy",
            "",
            "vp@duk.example.vn",
        ],
        ["TTDUK", "Thường trực Đảng ủy Khối", "ĐUK", "Thường trực", "DUK", ""],
        ["VPDUK", "Văn phòng Đảng ủy Khối", "ĐUK", "Văn phòng", "DUK", "vp@duk.example.vn"],
    ]
    units += [[code, f"{name} Đảng ủy Khối", "", "Ban", "DUK", ""] for code, name in BOARDS]
    units += [
        [
            f"CS-{i + 1:02d}",
            f"Đảng ủy {name}",
            "ĐU",
            "Tổ chức cơ sở đảng",
            "DUK",
            f"cs{i + 1:02d}@example.vn",
        ]
        for i, name in enumerate(GRASSROOTS)
    ]
    people = [
        ("bithu", "Bí thư Đảng ủy Khối", "TTDUK", "Người ký"),
        ("phobithu", "Phó Bí thư Đảng ủy Khối", "TTDUK", "Người ký"),
        ("uvtt", "Ủy viên Thường trực", "TTDUK", "người ký"),
        ("vanthu", "Văn thư Văn phòng", "VPDUK", "Văn thư"),
        ("chanhvp", "Chánh Văn phòng", "VPDUK", "Lãnh đạo duyệt"),
        ("chuyenvienvp", "Chuyên viên Văn phòng", "VPDUK", "Chuyên viên"),
        ("kiemtra", "Chuyên viên Ban Kiểm tra", "DUK", "Kiểm tra"),
        ("quantri2", "Quản trị hệ thống", "DUK", "Quản trị"),
        ("thuky", "Thư ký", "DUK", "chuyen vien"),
    ]
    for code, name in BOARDS:
        low = code.lower()
        people += [
            (f"truongban.{low}", f"Trưởng {name}", code, "Lãnh đạo duyệt"),
            (f"chuyenvien.{low}", f"Chuyên viên {name}", code, "Chuyên viên"),
            (f"chuyenvien2.{low}", f"Chuyên viên {name}", code, "drafter"),
        ]
    for i in range(len(GRASSROOTS)):
        code = f"CS-{i + 1:02d}"
        people += [
            (f"vanthu.cs{i + 1:02d}", "Văn thư", code, "Văn thư"),
            (f"bithu.cs{i + 1:02d}", "Bí thư Đảng ủy", code, "Lãnh đạo duyệt, Người ký"),
            (f"chuyenvien.cs{i + 1:02d}", "Chuyên viên", code, "Chuyên viên"),
        ]
    users = [
        [username, _name(i), title, f"{username}@example.vn" if i % 3 else "", unit, roles]
        for i, (username, title, unit, roles) in enumerate(people)
    ]
    return units, users


def workbook(units: Sequence[Sequence[str]], users: Sequence[Sequence[str]]) -> bytes:
    """:returns: an XLSX workbook with the sheets «Đơn vị» and «Người dùng»."""
    book = Workbook()
    sheet = book.active
    sheet.title = "Đơn vị"
    for row in [UNIT_HEADER, *units]:
        sheet.append(list(row))
    people = book.create_sheet("Người dùng")
    for row in [USER_HEADER, *users]:
        people.append(list(row))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def csv_file(header: Sequence[str], rows: Sequence[Sequence[str]]) -> bytes:
    """:returns: a CSV file (UTF-8 with BOM, as Excel writes it)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8-sig")
