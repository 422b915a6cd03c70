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
from sheetai.backends.xlsx_read import _Reader
from sheetai.backends.xlsx_scan import scan_cells
from sheetai.cell_values import CellError, Uncomputed, as_cell_error

from .workbooks import DATA, MAIN, add_workbook_part, macro_workbook, patch_parts, rich_workbook


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


_SHARED = ["shared", "Issue (#3) open", " #N/A", "#ref!", "x &amp; y"]
_VARIED_ROWS = [
    '<c r="A1" t="s"><v>0</v></c><c r="B1" t="inlineStr"><is><t>Number</t></is></c>'
    '<c r="C1" t="s"><v>1</v></c><c r="AB1" t="s"><v>4</v></c>',
    '<c r="A2" t="s"><v>2</v></c><c r="B2" s="2"><v>0.125</v></c><c r="C2" s="1"><v>45296.5625'
    '</v></c><c r="D2" t="b"><v>1</v></c><c r="E2"><f>B2*2</f><v>2</v></c>'
    '<c r="F2" t="str"><f>A1&amp;"!"</f><v>shared!</v></c><c r="G2" s="3"><v>0.26</v></c>',
    '<c r="A3" t="s"><v>3</v></c><c r="B3" s="4"><v>-2.5E-7</v></c><c r="C3" s="5"><v>61</v>'
    '</c><c r="D3" t="b"><v>0</v></c><c r="E3" t="e"><f>1/0</f><v>#DIV/0!</v></c>'
    '<c r="F3" t="str"><f>""</f><v></v></c><c r="G3" s="6"><v>1.5</v></c>',
    '<c r="A4" t="inlineStr"><is><t xml:space="preserve"> #DIV/0! </t></is></c>'
    '<c r="B4"><v>1e21</v></c><c r="C4" s="1"/><c r="D4" t="e"><v>#REF!</v></c>'
    '<c r="E4" t="inlineStr"><is><t>two\r\nlines </t></is></c><c r="F4" t="inlineStr">'
    '<is><t/></is></c><c r="G4" t="inlineStr"></c><c r="H4" s="2"><v>1099511627776</v></c>',
    '<c r="AA7"><v>42</v></c>',
]


def varied(path: Path) -> Path:
    """Cells of every kind the fast scan reads itself or hands on, as Excel saves them: shared
    strings, styled numbers, dates, times and durations, booleans, errors, cached formula
    results, CRLF line ends, entities, empty cells, gaps and columns past Z."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Data"
    for ref, value, code in [
        ("A1", dt.datetime(2024, 1, 5), "yyyy-mm-dd h:mm"),
        ("A2", 0.5, "0.0%"),
        ("A3", dt.time(6, 15), "h:mm"),
        ("A4", 1.5, "#,##0.00"),
        ("A5", dt.date(1900, 3, 1), "d-mmm-yy"),
        ("A6", dt.timedelta(1.5), "[h]:mm:ss"),
    ]:
        sheet[ref] = value
        sheet[ref].number_format = code
    book.create_sheet("Second").append(["x", None, "z"])
    book.save(path)

    def as_excel(parts: dict[str, bytes]) -> None:
        xml = parts["xl/worksheets/sheet1.xml"].decode()
        rows = "".join(f'<row r="{i}">{cells}</row>' for i, cells in enumerate(_VARIED_ROWS, 1))
        rows = rows.replace('<row r="5">', '<row r="7">')
        head, rest = xml.split("<sheetData>", 1)
        parts["xl/worksheets/sheet1.xml"] = (
            f"{head}<sheetData>{rows}</sheetData>{rest.split('</sheetData>', 1)[1]}"
        ).encode()
        items = "".join(f'<si><t xml:space="preserve">{t}</t></si>' for t in _SHARED)
        parts["xl/sharedStrings.xml"] = (
            f'<sst xmlns="{MAIN}" count="{len(_SHARED)}" uniqueCount="{len(_SHARED)}">{items}</sst>'
        ).encode()
        add_workbook_part(parts, "sharedStrings.xml", "sharedStrings", "sharedStrings")

    patch_parts(path, as_excel)
    return path


def test_the_fast_read_gives_what_openpyxl_gives_on_varied_cells(tmp_path: Path) -> None:
    path = varied(tmp_path / "book.xlsx")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        data = book._archive.read(book["Data"]._worksheet_path)
        assert scan_cells(data, _Reader(book, book["Data"])) is not None  # the fast path
    finally:
        book.close()
    with XlsxBackend(path) as backend:
        grids = backend.read(backend.sheet_titles())
        formats = backend.number_formats("Data")
    for title, got in grids.items():
        # sheetai reads " #N/A" as the error #N/A, as in every other backend
        expected = [[as_cell_error(v) or v for v in row] for row in openpyxl_read(path, title)]
        if title == "Data":  # a formula without a result, where Excel stored results: ""
            expected[2][5] = ""
        assert plain(got) == expected, title
    grid = grids["Data"]
    assert grid[1][0] == CellError("#N/A") and grid[3][0] == CellError("#DIV/0!")
    assert grid[2][0] == CellError("#REF!") and grid[3][3] == CellError("#REF!")
    assert grid[0][2] == "Issue (#3) open" and grid[0][27] == "x & y"
    assert grid[2][4] == CellError("#DIV/0!") and grid[1][3] is True and grid[2][3] is False
    assert grid[3][4:7] == ["two\nlines ", "", None] and grid[3][7] == 2**40
    assert grid[6][26] == 42 and grid[2][5] == ""
    assert formats[2, 2] == "0.0%" and formats[3, 2] == "#,##0.00" and formats[2, 3].startswith("y")
    assert formats[3, 7] == "[h]:mm:ss" and formats[2, 7] == "h:mm"
