"""Lossless .xlsx write-back: a sync changes only the cells and tabs it writes."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import openpyxl

from sheetai.backends.base import CellRange
from sheetai.backends.xlsx import XlsxBackend


def test_merged_ranges_and_number_formats_come_from_the_read(tmp_path: Path) -> None:
    path = tmp_path / "book.xlsx"
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Data"
    sheet.append(["When", "Share", "Note"])
    sheet.append([dt.date(2024, 1, 2), 0.25, "12%"])
    sheet["B2"].number_format = "0%"
    sheet["C2"].number_format = "0%"  # text: shown as typed, so not listed
    sheet.merge_cells("A4:B5")
    book.save(path)

    with XlsxBackend(path) as backend:
        backend.read(["Data"])
        assert backend.number_formats("Data") == {(2, 1): "yyyy-mm-dd", (2, 2): "0%"}
        assert backend.merged_ranges("Data") == [CellRange(4, 1, 5, 2)]
        assert backend.merged_ranges("Missing") == []
