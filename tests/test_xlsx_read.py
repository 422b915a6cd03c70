"""The one-pass sheet reader gives what openpyxl's own read gives, on files as they come."""

from __future__ import annotations

import datetime as dt
import warnings
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from sheetai.backends.base import CellBlock
from sheetai.backends.xlsx import XlsxBackend
from sheetai.cell_values import CellError, Uncomputed

from .workbooks import DATA, macro_workbook, rich_workbook


def openpyxl_read(path: Path, title: str) -> list[list[Any]]:
    """The sheet as openpyxl reads it (values only), trailing empty rows dropped."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # openpyxl's own notes about extensions it drops
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
        sheet = book[title]
        sheet.reset_dimensions()
        rows = [list(r) for r in sheet.iter_rows(values_only=True)]
        book.close()
    while rows and all(v is None for v in rows[-1]):
        rows.pop()
    return rows


def plain(grid: list[list[Any]]) -> list[list[Any]]:
    """Error values as the text a cell shows, for comparing with openpyxl."""
    return [[str(v) if isinstance(v, CellError) else v for v in row] for row in grid]


def every_kind(path: Path) -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Data"
    sheet.append(["Text", "Number", "When", "Share", "Yes", "Error", "Formula"])
    sheet.append(["a & <b>", 3, dt.datetime(2024, 1, 5), 0.125, True, "#N/A", "=B2*2"])
    sheet.append([" spaced ", 2.5, dt.date(1999, 12, 31), 1, False, None, None])
    sheet["D2"].number_format = "0.0%"
    sheet["B3"].number_format = "#,##0.00"
    sheet["A6"] = "after a gap"
    book.save(path)
    return path


@pytest.mark.parametrize("make", [every_kind, rich_workbook, macro_workbook])
def test_values_match_openpyxl_on_every_sheet(tmp_path: Path, make) -> None:
    path = make(tmp_path / "book.xlsx")
    with XlsxBackend(path) as backend:
        titles = backend.sheet_titles()
        grids = backend.read(titles)
    for title in titles:
        expected = openpyxl_read(path, title)
        got = plain(grids[title])
        # openpyxl gives None for a formula without a stored result; sheetai says which.
        got = [[None if isinstance(v, Uncomputed) else v for v in row] for row in got]
        assert got == expected, title


def test_number_formats_and_uncomputed_formulas(tmp_path: Path) -> None:
    path = every_kind(tmp_path / "book.xlsx")
    with XlsxBackend(path) as backend:
        grid = backend.read(["Data"])["Data"]
        formats = backend.number_formats("Data")
    assert grid[1][5] == CellError("#N/A")
    assert grid[1][6] == Uncomputed("=B2*2")
    assert formats[2, 4] == "0.0%" and formats[3, 2] == "#,##0.00"
    assert formats[2, 3].startswith("yyyy")


def test_a_file_sheetai_wrote_reads_back(tmp_path: Path) -> None:
    path = every_kind(tmp_path / "book.xlsx")
    with XlsxBackend(path) as backend:
        backend.write([CellBlock("Data", 2, 8, [["new\nline", 0.5, None, "x"]])])
        backend.commit()
    with XlsxBackend(path) as backend:
        row = backend.read(["Data"])["Data"][1]
    assert row[7:] == ["new\nline", 0.5, None, "x"]
    assert row[:2] == ["a & <b>", 3]


@pytest.mark.skipif(not list(DATA.glob("*.xlsx")), reason="no sample files")
def test_sample_files_match_openpyxl() -> None:
    for path in sorted(DATA.glob("*.xlsx")):
        with XlsxBackend(path) as backend:
            titles = backend.sheet_titles()
            grids = backend.read(titles)
        for title in titles:
            got = [[None if isinstance(v, Uncomputed) else v for v in r] for r in grids[title]]
            assert plain(got) == openpyxl_read(path, title), (path.name, title)
