"""Writing a few cells of a big sheet parses only their rows; every other row keeps its bytes."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import openpyxl
import pytest

from sheetai.backends.base import CellBlock
from sheetai.backends.xlsx import XlsxBackend
from sheetai.backends.xlsx_rows import split_part

_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"


def sheet_part(path: Path) -> bytes:
    with zipfile.ZipFile(path) as archive:
        return archive.read("xl/worksheets/sheet1.xml")


def rows_of(part: bytes) -> dict[int, bytes]:
    found = re.finditer(rb'<(?:\w+:)?row r="(\d+)".*?</(?:\w+:)?row>', part, re.S)
    return {int(m.group(1)): m.group(0) for m in found}


def write(path: Path, blocks: list[CellBlock]) -> None:
    with XlsxBackend(path) as backend:
        backend.write(blocks)
        backend.commit()


def values(path: Path) -> list[list[object]]:
    book = openpyxl.load_workbook(path)
    try:
        return [list(r) for r in book.worksheets[0].iter_rows(values_only=True)]
    finally:
        book.close()


def book_of(path: Path, rows: int) -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Data"
    sheet.append(["ID", "Text", "Answer"])
    for i in range(1, rows + 1):
        sheet.append([i, f"text {i} & <more>", f"=LEN(B{i + 1})" if i % 7 == 0 else None])
    book.save(path)
    return path


def test_rows_not_written_keep_their_bytes(tmp_path: Path) -> None:
    path = book_of(tmp_path / "big.xlsx", 300)
    before = rows_of(sheet_part(path))
    write(path, [CellBlock("Data", 50, 3, [["yes"], ["no"]]), CellBlock("Data", 301, 3, [["x"]])])
    after = rows_of(sheet_part(path))
    assert {n for n in after if after[n] != before.get(n)} == {50, 51, 301}
    rows = values(path)
    assert rows[49][2] == "yes" and rows[50][2] == "no" and rows[300][2] == "x"
    assert rows[48] == [48, "text 48 & <more>", None]


def test_new_rows_go_between_the_rows_around_them(tmp_path: Path) -> None:
    path = tmp_path / "gaps.xlsx"
    book = openpyxl.Workbook()
    for row in (1, 5, 9):
        book.active.cell(row, 1, f"row {row}")
    book.save(path)
    write(path, [CellBlock("Sheet", 3, 2, [["three"]]), CellBlock("Sheet", 12, 1, [["twelve"]])])
    assert list(rows_of(sheet_part(path))) == [1, 3, 5, 9, 12]
    rows = values(path)
    assert rows[2][1] == "three" and rows[4][0] == "row 5" and rows[11][0] == "twelve"


def test_a_sheet_with_a_namespace_prefix_is_patched_in_place(tmp_path: Path) -> None:
    path = book_of(tmp_path / "prefixed.xlsx", 5)
    part = sheet_part(path).decode()
    part = part.replace(f'xmlns="{_NS}"', f'xmlns:x="{_NS}"')
    part = re.sub(r"<(/?)(?!\?)([A-Za-z]+)([ >/])", r"<\1x:\2\3", part)
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(tmp_path / "p.xlsx", "w") as out:
        for info in source.infolist():
            data = part.encode() if info.filename.endswith("sheet1.xml") else source.read(info)
            out.writestr(info, data)
    path = tmp_path / "p.xlsx"
    assert split_part(sheet_part(path)) is not None
    write(path, [CellBlock("Data", 3, 3, [["answer"]])])
    assert b"<x:row" in sheet_part(path) and b"xmlns=" not in sheet_part(path)
    assert values(path)[2] == [2, "text 2 & <more>", "answer"]


@pytest.mark.parametrize(
    "oddity",
    [b"<!-- a note --><row", b'<row spans="1:3"><c><v>1</v></c></row><row'],
    ids=["comment among the rows", "row without its number"],
)
def test_a_part_it_cannot_split_is_parsed_whole_and_written_right(
    tmp_path: Path, oddity: bytes
) -> None:
    path = book_of(tmp_path / "odd.xlsx", 5)
    part = sheet_part(path).replace(b"<row", oddity, 1)
    assert split_part(part) is None
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(tmp_path / "o.xlsx", "w") as out:
        for info in source.infolist():
            out.writestr(info, part if info.filename.endswith("sheet1.xml") else source.read(info))
    path = tmp_path / "o.xlsx"
    write(path, [CellBlock("Data", 4, 3, [["answer"]])])
    assert "answer" in [row[2] for row in values(path) if len(row) > 2]
