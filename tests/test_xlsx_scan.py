"""The fast read of plain cells gives exactly what the element-by-element read gives."""

from __future__ import annotations

import datetime as dt
import io
import warnings
from pathlib import Path

import openpyxl
import pytest

from sheetai.backends.base import CellBlock
from sheetai.backends.xlsx import XlsxBackend
from sheetai.backends.xlsx_read import _Reader
from sheetai.backends.xlsx_scan import scan_cells

from .test_xlsx_read import varied
from .workbooks import macro_workbook, rich_workbook

DATA = Path(__file__).parent / "data"
TEXTS = ["a & <b> \"q\" 'x'", "  padded  ", "two\nlines", "cr\r\nlf", "ünïcødé ✓", "#N/A", ""]


def tricky(path: Path) -> Path:
    """Every kind of value, written by openpyxl and then by sheetai (inline strings)."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Data"
    sheet.append(["Text", "Number", "When", "Yes", "Formula", "Result"])
    for i, text in enumerate(TEXTS, start=2):
        sheet.append([text, i * 1.5, dt.datetime(2024, 1, i), i % 2 == 0, f"=LEN(A{i})", None])
    sheet["B3"].number_format = "0.0%"
    sheet["A12"] = "after a gap"
    book.save(path)
    with XlsxBackend(path) as backend:
        backend.write([CellBlock("Data", 2, 6, [[t] for t in TEXTS] + [[3], [0.25], [True]])])
        backend.commit()
    return path


def both_reads(path: Path) -> list[tuple[str, bool, tuple, tuple]]:
    """For each sheet: whether it was scanned, and (grid, formats, formulas) of both reads."""
    found = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        for title in book.sheetnames:
            sheet = book[title]
            data = book._archive.read(sheet._worksheet_path)
            fast, walk = _Reader(book, sheet), _Reader(book, sheet)
            scanned = scan_cells(data, fast)
            walked = walk.rows(io.BytesIO(data))
            if scanned is None:
                found.append((title, False, (), ()))
                continue
            for grid in (scanned, walked):
                while grid and all(v is None for v in grid[-1]):
                    grid.pop()
            found.append(
                (
                    title,
                    True,
                    (scanned, fast.formats, fast.formulas),
                    (walked, walk.formats, walk.formulas),
                )
            )
    finally:
        book.close()
    return found


@pytest.mark.parametrize(
    "make",
    [tricky, rich_workbook, macro_workbook, varied, lambda p: DATA / "libreoffice.xlsx"],
    ids=["tricky", "rich", "macro", "varied", "libreoffice"],
)
def test_the_fast_read_matches_the_element_walk(tmp_path: Path, make) -> None:
    for title, _scanned, fast, walked in both_reads(make(tmp_path / "book.xlsx")):
        assert fast == walked, title


def test_files_sheetai_writes_are_read_fast(tmp_path: Path) -> None:
    scanned = {title: fast for title, fast, _, _ in both_reads(tricky(tmp_path / "b.xlsx"))}
    assert scanned == {"Data": True}
    assert all(fast for _, fast, _, _ in both_reads(DATA / "libreoffice.xlsx"))


def test_a_shared_formula_is_left_to_the_element_walk(tmp_path: Path) -> None:
    path = tricky(tmp_path / "b.xlsx")
    with XlsxBackend(path) as backend:
        grid = backend.read(["Data"])["Data"]
    part = b'<sheetData><row r="1"><c r="A1"><f t="shared" ref="A1:A2" si="0">1+1</f>'
    book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    reader = _Reader(book, book["Data"])
    book.close()
    assert scan_cells(part + b"<v>2</v></c></row></sheetData>", reader) is None
    assert grid[2][:2] == ["  padded  ", 4.5]
