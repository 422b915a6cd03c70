"""Rows of a big sheet written as bytes read back, in openpyxl, as the tree path writes them."""

from __future__ import annotations

import datetime as dt
import zipfile
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from openpyxl.styles import Font

from sheetai.backends.base import CellBlock
from sheetai.backends.xlsx_edit import EditSession
from sheetai.backends.xlsx_row_bytes import MAX_CELL_CHARS
from sheetai.backends.xlsx_rows import split_part

from .test_xlsx_rows import values, write

LONG = "long text, " * 4000  # past the 32,767 characters a cell holds
VALUES: list[Any] = [
    "a < b & c > d",
    'say "hi", it\'s <b>',
    "line one\nline two",
    "windows\r\nline",
    "  padded both sides  ",
    "\tleading tab",
    "trailing space ",
    "=SUM(A1:A3)",
    "ünïcödé – “quotes” 😀",
    "",
    LONG,
    42,
    -3.5,
    1e-9,
    2**40,
    True,
    False,
    None,
    float("nan"),
    dt.date(2024, 1, 2),
    dt.datetime(2024, 1, 2, 13, 45),
]


def _book(path: Path, rows: int) -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Data"
    sheet.append(["ID", "Text"])
    for i in range(1, rows + 1):
        sheet.append([i, f"row {i} & <more>"])
    book.save(path)
    return path


def _unsplittable(path: Path) -> Path:
    """The same book, with a comment among its rows: the tree path writes it."""
    out = path.with_name(f"tree-{path.name}")
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            data = source.read(info)
            if info.filename.endswith("sheet1.xml"):
                data = data.replace(b"<row", b"<!-- a note --><row", 1)
                assert split_part(data) is None
            target.writestr(info, data)
    return out


def _expected(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, float) and value != value:
        return "nan"
    if isinstance(value, str):
        return value[:MAX_CELL_CHARS]
    if type(value) is dt.date:
        return dt.datetime(value.year, value.month, value.day)
    return value


def test_new_cells_written_as_bytes_read_back_as_written(tmp_path: Path) -> None:
    path = _book(tmp_path / "book.xlsx", len(VALUES) + 5)
    tree = _unsplittable(path)
    column = [[v, f"beside {i}"] for i, v in enumerate(VALUES)]
    blocks = [CellBlock("Data", 2, 3, column), CellBlock("Data", 200, 1, [["a new row", 7]])]
    write(path, blocks)
    write(tree, blocks)

    rows = values(path)
    for i, value in enumerate(VALUES):
        assert rows[i + 1][:2] == [i + 1, f"row {i + 1} & <more>"]
        assert rows[i + 1][2:4] == [_expected(value), f"beside {i}"], repr(value)
    assert rows[199][:2] == ["a new row", 7]
    assert rows == values(tree)


def test_cells_already_there_are_overwritten_keeping_their_style(tmp_path: Path) -> None:
    path = tmp_path / "styled.xlsx"
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Data"
    for i in range(1, 6):
        sheet.append([i, f"=A{i}*2", "old"])
        sheet.cell(i, 3).font = Font(bold=True)
    book.save(path)
    write(path, [CellBlock("Data", 2, 2, [["text & more", None], [5, "new"]])])

    book = openpyxl.load_workbook(path)
    sheet = book["Data"]
    assert [c.value for c in sheet[2]] == [2, "text & more", None]
    assert [c.value for c in sheet[3]] == [3, 5, "new"]
    assert sheet["C3"].font.bold and sheet["B4"].value == "=A4*2"
    book.close()
    assert b"calcChain" not in zipfile.ZipFile(path).read("[Content_Types].xml")


def test_rows_written_as_bytes_can_be_linked_in_the_same_save(tmp_path: Path) -> None:
    path = _book(tmp_path / "links.xlsx", 10)
    session = EditSession(path)
    try:
        session.write(CellBlock("Data", 3, 3, [["see row 9"], ["see row 2"]]))
        session.set_links("Data", [(3, 3, "Data", 9)])
        session.save()
    finally:
        session.close()
    book = openpyxl.load_workbook(path)
    sheet = book["Data"]
    assert sheet["C3"].value == "see row 9" and sheet["C3"].hyperlink.location == "Data!A9"
    assert sheet["C4"].value == "see row 2" and sheet["C4"].hyperlink is None
    assert sheet["C3"].font.color.rgb == "FF0563C1" and sheet["B3"].value == "row 2 & <more>"
    book.close()


@pytest.mark.parametrize(
    ("row", "written"),
    [
        (b'<row r="3" spans="1:2"/>', b'<row r="3" spans="1:4"><c r="D3"'),
        (
            b'<row r="3" spans="2:2"><c r="B3"><v>1</v></c></row>',
            b'<row r="3" spans="1:2"><c r="A3"',
        ),
    ],
    ids=["an empty row", "a cell before the others"],
)
def test_new_cells_widen_the_row_and_go_in_column_order(
    tmp_path: Path, row: bytes, written: bytes
) -> None:
    path = _book(tmp_path / "rows.xlsx", 4)
    with zipfile.ZipFile(path) as source:
        part = source.read("xl/worksheets/sheet1.xml")
    start = part.index(b'<row r="3"')
    part = part[:start] + row + part[part.index(b"</row>", start) + 6 :]
    patched = tmp_path / "patched.xlsx"
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(patched, "w") as target:
        for info in source.infolist():
            name = info.filename
            target.writestr(info, part if name.endswith("sheet1.xml") else source.read(info))
    column = 4 if row.endswith(b"/>") else 1
    write(patched, [CellBlock("Data", 3, column, [["new"]])])
    with zipfile.ZipFile(patched) as source:
        assert written in source.read("xl/worksheets/sheet1.xml")
    assert "new" in values(patched)[2]
