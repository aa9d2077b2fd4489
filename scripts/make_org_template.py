"""Write the sample organisation files of docs/: mau-nhap-to-chuc.xlsx (sheets «Đơn vị»,
«Người dùng», «Hướng dẫn») and the same two tables as CSV files.

    .venv/bin/python scripts/make_org_template.py
"""

from __future__ import annotations

import csv
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Font

DOCS = Path(__file__).resolve().parent.parent / "docs"

UNIT_HEADER = [
    "Mã đơn vị",
    "Tên đơn vị",
    "Ký hiệu",
    "Loại đơn vị",
    "Mã đơn vị cấp trên",
    "Thư điện tử",
]
UNITS = [
    [
        "DUK",
        "Đảng ủy Khối Cơ quan - Doanh nghiệp tỉnh",
        "ĐUK",
        "Đảng ủy",
        "",
        "vanphong@duk.example.vn",
    ],
    ["TT", "Thường trực Đảng ủy Khối", "ĐUK", "Thường trực", "DUK", ""],
    ["VP", "Văn phòng Đảng ủy Khối", "ĐUK", "Văn phòng", "DUK", "vanphong@duk.example.vn"],
    ["BTC", "Ban Tổ chức Đảng ủy Khối", "ĐUK", "Ban", "DUK", ""],
    ["BTG", "Ban Tuyên giáo Đảng ủy Khối", "ĐUK", "Ban", "DUK", ""],
    ["BKT", "Ban Kiểm tra Đảng ủy Khối", "ĐUK", "Ban", "DUK", ""],
    [
        "CS-GDDT",
        "Đảng ủy Sở Giáo dục và Đào tạo",
        "ĐU",
        "Tổ chức cơ sở đảng",
        "DUK",
        "dangUy@sogddt.example.vn",
    ],
]
USER_HEADER = ["Tên đăng nhập", "Họ và tên", "Chức vụ", "Thư điện tử", "Mã đơn vị", "Vai trò"]
USERS = [
    ["bithu", "Lê Văn Đức", "Bí thư Đảng ủy Khối", "bithu@duk.example.vn", "TT", "Người ký"],
    [
        "chanhvp",
        "Đỗ Quang Huy",
        "Chánh Văn phòng",
        "chanhvp@duk.example.vn",
        "VP",
        "Lãnh đạo duyệt",
    ],
    ["vanthu", "Phạm Thị Thu", "Văn thư", "vanthu@duk.example.vn", "VP", "Văn thư"],
    ["truongbantg", "Trần Văn Phương", "Trưởng ban Tuyên giáo", "", "BTG", "Lãnh đạo duyệt"],
    ["chuyenvientg", "Nguyễn Thị Hồng Nhung", "Chuyên viên", "", "BTG", "Chuyên viên"],
    ["kiemtra", "Võ Minh Tuấn", "Chuyên viên Ban Kiểm tra", "", "BKT", "Kiểm tra"],
    ["vanthugd", "Hoàng Thị Mai", "Văn thư", "", "CS-GDDT", "Văn thư"],
    ["bithugd", "Ngô Văn Hải", "Bí thư Đảng ủy", "", "CS-GDDT", "Lãnh đạo duyệt, Người ký"],
]
GUIDE = [
    ["Hướng dẫn nhập tổ chức (TrinhKy)"],
    [""],
    [
        "Trang «Đơn vị»: mỗi dòng một đơn vị. Mã đơn vị: chữ không dấu, số, '-', '_' (tối đa 32 ký tự)."
    ],
    [
        "Đúng một đơn vị gốc (tổ chức) để trống «Mã đơn vị cấp trên»; nếu hệ thống đã có đơn vị gốc (tạo bởi create-admin), ghi đúng mã đó."
    ],
    ["Loại đơn vị: Đảng ủy, Thường trực, Văn phòng, Ban, Tổ chức cơ sở đảng."],
    [
        "Ký hiệu: phần sau dấu gạch chéo trong số văn bản (ví dụ 01-CV/ĐUK); để trống thì lấy của cấp trên."
    ],
    [
        "Trang «Người dùng»: mỗi dòng một người tại một đơn vị; một người ở nhiều đơn vị thì nhiều dòng, cùng tên đăng nhập."
    ],
    ["Tên đăng nhập: chữ thường không dấu, số, '.', '-', '_' (3 đến 64 ký tự)."],
    [
        "Vai trò (nhiều vai trò cách nhau bằng dấu phẩy): Chuyên viên, Lãnh đạo duyệt, Người ký, Văn thư, Kiểm tra, Quản trị."
    ],
    ["Thường trực ký văn bản của Đảng ủy Khối; Văn phòng kiểm tra thể thức và ban hành (văn thư)."],
    [
        "Kiểm tra trước: flask --app wsgi import-organisation tep.xlsx --dry-run ; có lỗi thì không ghi gì (dòng, cột, lý do)."
    ],
    [
        "Người dùng mới nhận đường dẫn đặt mật khẩu dùng một lần (hiệu lực SETUP_LINK_HOURS giờ, mặc định 72)."
    ],
]


def main() -> None:
    DOCS.mkdir(exist_ok=True)
    book = Workbook()
    units = book.active
    units.title = "Đơn vị"
    for sheet, header, rows in (
        (units, UNIT_HEADER, UNITS),
        (book.create_sheet("Người dùng"), USER_HEADER, USERS),
    ):
        sheet.append(header)
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        for row in rows:
            sheet.append(row)
        for column, width in zip("ABCDEF", (16, 44, 12, 20, 22, 30), strict=True):
            sheet.column_dimensions[column].width = width
    guide = book.create_sheet("Hướng dẫn")
    for row in GUIDE:
        guide.append(row)
    guide["A1"].font = Font(bold=True)
    guide.column_dimensions["A"].width = 120
    book.save(DOCS / "mau-nhap-to-chuc.xlsx")
    for name, header, rows in (
        ("mau-don-vi.csv", UNIT_HEADER, UNITS),
        ("mau-nguoi-dung.csv", USER_HEADER, USERS),
    ):
        with (DOCS / name).open("w", newline="", encoding="utf-8-sig") as out:
            writer = csv.writer(out)
            writer.writerow(header)
            writer.writerows(rows)


if __name__ == "__main__":
    main()
