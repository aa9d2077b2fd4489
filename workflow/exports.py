"""workflow: spreadsheet exports that cannot carry a formula (OWASP "CSV injection").

A subject such as ``=HYPERLINK("http://...")`` typed by a drafter must reach the
reader's spreadsheet as the text it is: in CSV a cell starting with ``=``, ``+``, ``-``,
``@``, a tab or a carriage return gets a leading apostrophe (which spreadsheets read as
"text follows" and do not show); in XLSX every text cell is written as text, never as a
formula. Numbers stay numbers.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

FORMULA_LEADS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """:returns: ``value`` as a CSV cell that no spreadsheet evaluates."""
    if isinstance(value, str) and value.startswith(FORMULA_LEADS):
        return "'" + value
    return value


def csv_row(values: Iterable[Any]) -> list[Any]:
    """:returns: a row of :func:`csv_cell`."""
    return [csv_cell(v) for v in values]


def append_text_row(sheet: Any, values: Iterable[Any]) -> None:
    """Append a row to an openpyxl ``sheet`` with every string stored as a string
    (openpyxl otherwise stores a string starting with ``=`` as a formula)."""
    row = list(values)
    sheet.append(row)
    for cell, value in zip(sheet[sheet.max_row], row, strict=False):
        if isinstance(value, str):
            cell.value = value
            cell.data_type = "s"
